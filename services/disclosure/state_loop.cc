#include "services/disclosure/state_loop.h"

#include <google/protobuf/io/coded_stream.h>
#include <google/protobuf/io/zero_copy_stream_impl_lite.h>

#include <map>
#include <optional>
#include <set>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/bus/dedup.h"
#include "common/log/log.h"

namespace pdao::disclosure {
namespace {

constexpr char kStatePrefix[] = "state/{disclosure-state}/";
constexpr int kScanPage = 1000;

// What is compared between two snapshots: everything the state decides, nothing the publisher
// fills.
std::string Comparable(v1::Snapshot s) {
  s.clear_sequence();
  s.clear_built_at();
  s.clear_built_from_tree_size();
  s.clear_built_from_root_hex();
  std::string out;
  {
    google::protobuf::io::StringOutputStream stream(&out);
    google::protobuf::io::CodedOutputStream coded(&stream);
    coded.SetSerializationDeterministic(true);
    s.SerializeToCodedStream(&coded);
  }
  return out;
}

bool Additive(const events::v1::Envelope& e) {
  return e.has_usage_recorded() || e.has_usage_metered();
}

}  // namespace

absl::Status ValidateSnapshotInterval(absl::Duration interval) {
  if (interval < kMinSnapshotInterval || interval > kMaxSnapshotInterval) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--disclosure-snapshot-interval must be ", absl::FormatDuration(kMinSnapshotInterval), "..",
        absl::FormatDuration(kMaxSnapshotInterval), ", not ", absl::FormatDuration(interval)));
  }
  return absl::OkStatus();
}

std::string StateStoreKey(const std::string& record_key) {
  return absl::StrCat(kStatePrefix, record_key);
}

StateLoop::StateLoop(Store& store, SnapshotPublisher& publisher, const SnapshotSource* source,
                     prometheus::Registry& metrics, PublicStateOptions options)
    : store_(store),
      publisher_(publisher),
      source_(source),
      events_(prometheus::BuildCounter()
                  .Name("pdao_disclosure_state_events_total")
                  .Help("events read by the disclosed public state, by outcome: applied, "
                        "duplicate, stale, ignored, malformed, refused_full (rules 37-40)")
                  .Register(metrics)),
      published_(prometheus::BuildCounter()
                     .Name("pdao_disclosure_state_publications_total")
                     .Help("snapshots the state loop handed to the publisher successfully")
                     .Register(metrics)
                     .Add({})),
      publish_failures_(prometheus::BuildCounter()
                            .Name("pdao_disclosure_snapshot_publish_failures_total")
                            .Help("snapshot publications that failed (retried at the next tick)")
                            .Register(metrics)
                            .Add({})),
      bad_records_(prometheus::BuildCounter()
                       .Name("pdao_disclosure_state_bad_records_total")
                       .Help("persisted state records that could not be read back (skipped)")
                       .Register(metrics)
                       .Add({})),
      state_(std::move(options)) {}

absl::StatusOr<std::unique_ptr<StateLoop>> StateLoop::Create(Store& store,
                                                             SnapshotPublisher& publisher,
                                                             const SnapshotSource* source,
                                                             prometheus::Registry& metrics,
                                                             PublicStateOptions options) {
  std::unique_ptr<StateLoop> loop(
      new StateLoop(store, publisher, source, metrics, std::move(options)));
  if (absl::Status s = loop->Load(); !s.ok()) return s;
  return loop;
}

absl::Status StateLoop::Load() {
  std::string after;
  int64_t records = 0;
  absl::MutexLock lock(&mu_);
  while (true) {
    absl::StatusOr<ScanPage> page = store_.Scan(kStatePrefix, after, kScanPage);
    if (!page.ok()) return page.status();
    for (const ScanEntry& entry : page->entries) {
      const std::string key = entry.key.substr(sizeof(kStatePrefix) - 1);
      absl::Status s;
      if (PublicState::IsCellKey(key)) {
        s = state_.RestoreCell(key, entry.value.value);
      } else {
        events::v1::Envelope e;
        if (!e.ParseFromString(entry.value.value)) {
          s = absl::DataLossError("not an envelope");
        } else if (ApplyResult r = state_.Apply(e); r.outcome == ApplyOutcome::kMalformed ||
                                                    r.outcome == ApplyOutcome::kRefusedFull) {
          s = absl::FailedPreconditionError(r.detail);
        }
      }
      if (!s.ok()) {
        bad_records_.Increment();
        log::Error("disclosure state: a persisted record could not be restored",
                   {{"key", entry.key}, {"error", s.ToString()}});
        continue;
      }
      ++records;
    }
    if (page->next_start_after.empty()) break;
    after = page->next_start_after;
  }
  log::Info("disclosure state restored", {{"records", records}});
  return absl::OkStatus();
}

void StateLoop::Count(ApplyOutcome outcome) {
  events_.Add({{"outcome", ApplyOutcomeName(outcome)}}).Increment();
}

absl::Status StateLoop::HandleEvent(const BusMessage& message) {
  events::v1::Envelope e;
  if (!e.ParseFromString(message.payload)) {
    Count(ApplyOutcome::kMalformed);
    log::Error("disclosure state: a message that is not an envelope was skipped",
               {{"topic", message.topic}, {"key", message.key}});
    return absl::OkStatus();
  }
  const bool additive = Additive(e);
  if (additive && !e.event_id().empty()) {
    absl::StatusOr<bool> seen = Seen(store_, kStateShard, kStateConsumerGroup, e.event_id());
    if (!seen.ok()) return seen.status();
    if (*seen) {
      Count(ApplyOutcome::kDuplicate);
      return absl::OkStatus();
    }
  }
  ApplyResult result;
  std::optional<std::string> value;
  {
    absl::MutexLock lock(&mu_);
    result = state_.Apply(e);
    if (result.additive) value = state_.CellRecord(result.record_key);
  }
  Count(result.outcome);
  switch (result.outcome) {
    case ApplyOutcome::kApplied:
    case ApplyOutcome::kDuplicate:
      break;  // persisted below (a duplicate too: the first delivery's commit may have failed)
    case ApplyOutcome::kRefusedFull:
      log::Warn("disclosure state: refused past a bound",
                {{"event_id", e.event_id()}, {"detail", result.detail}});
      return absl::OkStatus();
    case ApplyOutcome::kMalformed:
      log::Error("disclosure state: malformed event skipped",
                 {{"event_id", e.event_id()}, {"topic", message.topic}, {"detail", result.detail}});
      return absl::OkStatus();
    case ApplyOutcome::kStale:
    case ApplyOutcome::kIgnored:
      return absl::OkStatus();
  }
  CommitRequest request;
  request.shard = kStateShard;
  request.puts.push_back(Put{.key = StateStoreKey(result.record_key),
                             .value = result.additive ? value.value_or("") : message.payload,
                             .expected_version = kAnyVersion});
  if (result.additive) AddDedupKey(request, kStateConsumerGroup, e.event_id());
  absl::StatusOr<CommitResult> commit = store_.Commit(request);
  if (commit.status().code() == absl::StatusCode::kAborted && result.additive) {
    // The mark exists: a concurrent delivery of the same event committed it first.
    absl::StatusOr<bool> seen = Seen(store_, kStateShard, kStateConsumerGroup, e.event_id());
    if (seen.ok() && *seen) return absl::OkStatus();
  }
  return commit.status();
}

absl::Status StateLoop::HandleBatch(const std::vector<BusMessage>& messages) {
  if (messages.size() == 1) return HandleEvent(messages.front());
  std::vector<std::pair<events::v1::Envelope, const BusMessage*>> events;
  events.reserve(messages.size());
  for (const BusMessage& m : messages) {
    events::v1::Envelope e;
    if (!e.ParseFromString(m.payload)) {
      Count(ApplyOutcome::kMalformed);
      log::Error("disclosure state: a message that is not an envelope was skipped",
                 {{"topic", m.topic}, {"key", m.key}});
      continue;
    }
    if (Additive(e) && !e.event_id().empty()) {
      absl::StatusOr<bool> seen = Seen(store_, kStateShard, kStateConsumerGroup, e.event_id());
      if (!seen.ok()) return seen.status();
      if (*seen) {
        Count(ApplyOutcome::kDuplicate);
        continue;
      }
    }
    events.emplace_back(std::move(e), &m);
  }
  std::map<std::string, std::string> puts;  // store key → value: the last of each record
  std::set<std::string> cells, marks;
  {
    absl::MutexLock lock(&mu_);
    for (const auto& [e, m] : events) {
      const ApplyResult r = state_.Apply(e);
      Count(r.outcome);
      if (r.outcome == ApplyOutcome::kRefusedFull) {
        log::Warn("disclosure state: refused past a bound",
                  {{"event_id", e.event_id()}, {"detail", r.detail}});
      } else if (r.outcome == ApplyOutcome::kMalformed) {
        log::Error("disclosure state: malformed event skipped",
                   {{"event_id", e.event_id()}, {"topic", m->topic}, {"detail", r.detail}});
      }
      if (r.outcome != ApplyOutcome::kApplied && r.outcome != ApplyOutcome::kDuplicate) continue;
      if (r.additive) {
        cells.insert(r.record_key);
        marks.insert(e.event_id());
      } else {
        puts[StateStoreKey(r.record_key)] = m->payload;
      }
    }
    for (const std::string& key : cells) {
      puts[StateStoreKey(key)] = state_.CellRecord(key).value_or("");
    }
  }
  if (puts.empty()) return absl::OkStatus();
  CommitRequest request;
  request.shard = kStateShard;
  for (auto& [key, value] : puts) {
    request.puts.push_back(
        Put{.key = key, .value = std::move(value), .expected_version = kAnyVersion});
  }
  for (const std::string& id : marks) AddDedupKey(request, kStateConsumerGroup, id);
  return store_.Commit(request).status();
}

BatchHandler StateLoop::AsBatchHandler() {
  return [this](const std::vector<BusMessage>& m) { return HandleBatch(m); };
}

MessageHandler StateLoop::AsHandler() {
  return [this](const BusMessage& m) { return HandleEvent(m); };
}

v1::Snapshot StateLoop::Build() const {
  absl::MutexLock lock(&mu_);
  return state_.Build();
}

PublicState::Sizes StateLoop::sizes() const {
  absl::MutexLock lock(&mu_);
  return state_.sizes();
}

absl::Status StateLoop::Tick() {
  absl::MutexLock tick(&tick_mu_);
  if (!have_last_ && source_ != nullptr) {
    absl::StatusOr<std::shared_ptr<const PublishedSnapshot>> latest = source_->Latest();
    if (latest.ok()) {
      last_published_ = Comparable((*latest)->snapshot);
      have_last_ = true;
    } else if (latest.status().code() != absl::StatusCode::kNotFound) {
      return latest.status();  // cannot tell whether it changed: try again at the next tick
    }
  }
  v1::Snapshot snapshot = Build();
  std::string bytes = Comparable(snapshot);
  if (have_last_ && bytes == last_published_) return absl::OkStatus();
  absl::StatusOr<int64_t> sequence = publisher_.Publish(std::move(snapshot));
  if (!sequence.ok()) {
    publish_failures_.Increment();
    return sequence.status();
  }
  published_.Increment();
  last_published_ = std::move(bytes);
  have_last_ = true;
  return absl::OkStatus();
}

}  // namespace pdao::disclosure

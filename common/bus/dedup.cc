#include "common/bus/dedup.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "common/log/log.h"
#include "pdao/events/v1/envelope.pb.h"

namespace pdao {

std::string DedupKey(const std::string& shard, const std::string& group,
                     const std::string& event_id) {
  return absl::StrCat("dedup/{", shard, "}/", group, "/", event_id);
}

std::string DedupShard(const std::string& group) { return absl::StrCat("dedup.", group); }

void AddDedupKey(CommitRequest& request, const std::string& group, const std::string& event_id) {
  Put put;
  put.key = DedupKey(request.shard, group, event_id);
  put.expected_version = kMustNotExist;
  request.puts.push_back(std::move(put));
}

absl::StatusOr<bool> Seen(Store& store, const std::string& shard, const std::string& group,
                          const std::string& event_id) {
  absl::StatusOr<std::optional<VersionedValue>> mark = store.Get(DedupKey(shard, group, event_id));
  if (!mark.ok()) return mark.status();
  return mark->has_value();
}

absl::StatusOr<std::string> EventIdOf(const BusMessage& message) {
  pdao::events::v1::Envelope envelope;
  if (!envelope.ParseFromString(message.payload)) {
    return absl::InvalidArgumentError(
        absl::StrCat("bus message on ", message.topic, " key ", message.key,
                     " is not a pdao.events.v1.Envelope (every event travels in one envelope)"));
  }
  if (envelope.event_id().empty()) {
    return absl::InvalidArgumentError(absl::StrCat("event on ", message.topic, " key ", message.key,
                                                   " has no event_id (consumers dedupe by it)"));
  }
  return envelope.event_id();
}

DedupingHandler::DedupingHandler(Store& store, std::string group, MessageHandler inner,
                                 DedupingHandlerOptions options)
    : store_(store),
      group_(std::move(group)),
      shard_(DedupShard(group_)),
      inner_(std::move(inner)),
      options_(options) {}

absl::Status DedupingHandler::Handle(const BusMessage& message) {
  absl::StatusOr<std::string> id = EventIdOf(message);
  if (!id.ok()) {
    if (options_.acknowledge_malformed) {
      log::Warn("dropping malformed event", {{"group", group_},
                                             {"topic", message.topic},
                                             {"key", message.key},
                                             {"error", id.status().ToString()}});
      return absl::OkStatus();
    }
    return id.status();
  }
  absl::StatusOr<bool> seen = Seen(store_, shard_, group_, *id);
  if (!seen.ok()) return seen.status();
  if (*seen) return absl::OkStatus();
  if (absl::Status s = inner_(message); !s.ok()) return s;

  CommitRequest mark;
  mark.shard = shard_;
  Put put;
  put.key = DedupKey(shard_, group_, *id);
  put.value = message.topic;
  put.expected_version = kAnyVersion;  // a concurrent duplicate marking too is fine
  mark.puts.push_back(std::move(put));
  absl::StatusOr<CommitResult> committed = store_.Commit(mark);
  return committed.status();
}

MessageHandler DedupingHandler::AsHandler() {
  return [this](const BusMessage& message) { return Handle(message); };
}

}  // namespace pdao

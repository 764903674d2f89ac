#include "services/audit/audit_core.h"

#include <google/protobuf/arena.h>

#include <algorithm>
#include <deque>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "common/rpc/auth.h"
#include "services/audit/envelope_facts.h"

namespace pdao::audit {
namespace {

using pdao::common::v1::ROLE_IMPLEMENTING_AGENCY;
using pdao::common::v1::ROLE_PUBLIC;
using pdao::common::v1::ROLE_REGULATOR;

constexpr int kDefaultPage = 100;
constexpr int kMaxPage = 1000;

bool ReadsEverything(const Principal& p) {
  return p.is_service() || p.HasRole(ROLE_REGULATOR) || p.HasRole(ROLE_IMPLEMENTING_AGENCY);
}

absl::Status RequireNotPublic(const Principal& p, absl::string_view method) {
  if (p.HasRole(ROLE_PUBLIC)) {
    return absl::PermissionDeniedError(absl::StrCat(
        method, ": PUBLIC reads checkpoints and proofs only, not entries (rule 33); caller ",
        p.ToSpiffeId()));
  }
  return absl::OkStatus();
}

absl::StatusOr<uint64_t> ParseToken(const std::string& token) {
  if (token.empty()) return 0;
  uint64_t v = 0;
  if (!absl::SimpleAtoi(token, &v)) return absl::InvalidArgumentError("malformed page_token");
  return v;
}

int PageSize(int requested) {
  if (requested <= 0) return kDefaultPage;
  return requested > kMaxPage ? kMaxPage : requested;
}

absl::Time FromProto(const google::protobuf::Timestamp& ts) {
  return absl::FromUnixSeconds(ts.seconds()) + absl::Nanoseconds(ts.nanos());
}

void AddHashes(const std::vector<tlog::Hash>& hashes,
               google::protobuf::RepeatedPtrField<std::string>* out) {
  for (const tlog::Hash& h : hashes) out->Add(tlog::HashToBytes(h));
}

// An entry's source for a bus message: this prefix and its topic.
constexpr absl::string_view kBusSource = "bus:";

// The dedup key of a payload that is not an envelope with an event_id: its SHA-256 (still
// logged, never dropped).
std::string PayloadKey(absl::string_view payload) {
  return absl::StrCat("sha256:", tlog::HashToBytes(tlog::LeafHash(payload)));
}

}  // namespace

absl::Status AuditCore::Ingest(const BusMessage& message) {
  pdao::events::v1::Envelope envelope;
  std::string key;
  if (envelope.ParseFromString(message.payload) && !envelope.event_id().empty()) {
    key = envelope.event_id();
  } else {
    envelope.Clear();
    key = PayloadKey(message.payload);
  }
  absl::StatusOr<AppendResult> r = log_.Append(message.payload, std::move(envelope), std::move(key),
                                               absl::StrCat(kBusSource, message.topic));
  return r.status();
}

absl::Status AuditCore::IngestBatch(const std::vector<BusMessage>& messages, size_t* duplicates) {
  // The batch's envelopes are parsed into one arena, freed here by the thread that allocated it
  // (issue 10: an envelope per message allocated here and freed by the log's committer thread
  // was about half of the ingest path's CPU); the items borrow the messages, the arena's
  // envelopes and these keys and sources until the appender has finished.
  google::protobuf::ArenaOptions arena_options;
  arena_options.start_block_size = 64 << 10;
  arena_options.max_block_size = 1 << 20;
  google::protobuf::Arena arena(arena_options);
  std::deque<std::string> keys;     // of payloads without an event_id (stable addresses)
  std::deque<std::string> sources;  // "bus:<topic>", one per topic of the batch
  std::vector<AppendItem> items(messages.size());
  // Parsed and queued kIngestChunk at a time, so the log commits a chunk while this thread parses
  // the next (issue 10), in order and failing fast (AuditLog::BatchAppender).
  AuditLog::BatchAppender appender(log_);
  size_t queued = 0;
  for (size_t i = 0; i < messages.size(); ++i) {
    const BusMessage& m = messages[i];
    auto* envelope = google::protobuf::Arena::CreateMessage<pdao::events::v1::Envelope>(&arena);
    AppendItem& item = items[i];
    item.envelope_bytes = m.payload;
    item.envelope = envelope;
    if (envelope->ParseFromString(m.payload) && !envelope->event_id().empty()) {
      item.dedup_key = envelope->event_id();
    } else {
      envelope->Clear();
      item.dedup_key = keys.emplace_back(PayloadKey(m.payload));
    }
    auto source = std::find_if(sources.begin(), sources.end(), [&](const std::string& s) {
      return absl::string_view(s).substr(kBusSource.size()) == m.topic;
    });
    item.source =
        source != sources.end() ? *source : sources.emplace_back(absl::StrCat(kBusSource, m.topic));
    if (i + 1 - queued == kIngestChunk || i + 1 == messages.size()) {
      if (absl::Status s = appender.Add(absl::MakeConstSpan(items).subspan(queued, i + 1 - queued));
          !s.ok()) {
        break;  // Finish returns the error once what was queued is answered
      }
      queued = i + 1;
    }
  }
  absl::StatusOr<std::vector<AppendResult>> results = appender.Finish();
  if (!results.ok()) return results.status();
  if (duplicates != nullptr) {
    *duplicates = 0;
    for (const AppendResult& r : *results) *duplicates += r.duplicate ? 1 : 0;
  }
  return absl::OkStatus();
}

void AuditCore::AppendAsync(const Principal& caller, const v1::AppendRequest& request,
                            v1::AppendResponse* response, std::function<void(absl::Status)> done) {
  if (!caller.is_service()) {
    done(absl::PermissionDeniedError(absl::StrCat(
        "Append may be called only by platform services (rule 32); caller ", caller.ToSpiffeId())));
    return;
  }
  pdao::events::v1::Envelope envelope;
  if (!envelope.ParseFromString(request.envelope()) || envelope.event_id().empty()) {
    done(absl::InvalidArgumentError(
        "Append: envelope must be a serialized pdao.events.v1.Envelope with an event_id"));
    return;
  }
  // Issue 9 item 5: a service appends only its own events; a forged envelope naming another
  // producer (whose actor and holder fields the index would trust) is refused, nothing written.
  if (envelope.producer() != caller.service) {
    done(absl::PermissionDeniedError(
        absl::StrCat("Append: the envelope's producer \"", envelope.producer(),
                     "\" is not the calling service \"", caller.service,
                     "\" (a service appends only its own events, rule 32)")));
    return;
  }
  std::string key = envelope.event_id();
  log_.AppendAsync(request.envelope(), std::move(envelope), std::move(key),
                   absl::StrCat("grpc:", caller.ToSpiffeId()),
                   [response, done = std::move(done)](absl::StatusOr<AppendResult> r) {
                     if (r.ok()) {
                       response->set_index(r->index);
                       response->set_duplicate(r->duplicate);
                     }
                     done(r.status());
                   });
}

absl::Status AuditCore::Append(const Principal& caller, const v1::AppendRequest& request,
                               v1::AppendResponse* response) {
  absl::Notification finished;
  absl::Status status;
  AppendAsync(caller, request, response, [&](absl::Status s) {
    status = std::move(s);
    finished.Notify();
  });
  finished.WaitForNotification();
  return status;
}

absl::Status AuditCore::GetEntry(const Principal& caller, const v1::GetEntryRequest& request,
                                 v1::GetEntryResponse* response) {
  if (absl::Status s = RequireNotPublic(caller, "GetEntry"); !s.ok()) return s;
  if (!ReadsEverything(caller) && !index_.VisibleTo(request.index(), caller.org)) {
    return absl::PermissionDeniedError(
        absl::StrCat("GetEntry: entry ", request.index(), " is not about an object of ", caller.org,
                     " (an operator reads only its own objects' entries)"));
  }
  absl::StatusOr<std::string> bytes = log_.GetEntryBytes(request.index());
  if (!bytes.ok()) return bytes.status();
  if (!request.parsed()) {
    response->set_entry_bytes(std::move(*bytes));
  } else if (!response->mutable_entry()->ParseFromString(*bytes)) {
    return absl::DataLossError(absl::StrCat("GetEntry: entry ", request.index(),
                                            " does not parse as pdao.audit.v1.AuditEntry"));
  }
  return absl::OkStatus();
}

absl::Status AuditCore::GetCheckpoint(const Principal&, const v1::GetCheckpointRequest& request,
                                      v1::GetCheckpointResponse* response) {
  absl::StatusOr<v1::SignedCheckpoint> cp = log_.GetCheckpoint(request.tree_size());
  if (!cp.ok()) return cp.status();
  *response->mutable_checkpoint() = std::move(*cp);
  return absl::OkStatus();
}

absl::Status AuditCore::GetInclusionProof(const Principal&,
                                          const v1::GetInclusionProofRequest& request,
                                          v1::GetInclusionProofResponse* response) {
  absl::StatusOr<std::vector<tlog::Hash>> proof =
      log_.InclusionProof(request.index(), request.tree_size());
  if (!proof.ok()) return proof.status();
  absl::StatusOr<tlog::Hash> leaf = log_.LeafHashAt(request.index());
  if (!leaf.ok()) return leaf.status();
  response->set_leaf_hash(tlog::HashToBytes(*leaf));
  AddHashes(*proof, response->mutable_hashes());
  return absl::OkStatus();
}

absl::Status AuditCore::GetConsistencyProof(const Principal&,
                                            const v1::GetConsistencyProofRequest& request,
                                            v1::GetConsistencyProofResponse* response) {
  absl::StatusOr<std::vector<tlog::Hash>> proof =
      log_.ConsistencyProof(request.size1(), request.size2());
  if (!proof.ok()) return proof.status();
  AddHashes(*proof, response->mutable_hashes());
  return absl::OkStatus();
}

absl::Status AuditCore::GetPublicKey(const Principal&, const v1::GetPublicKeyRequest&,
                                     v1::GetPublicKeyResponse* response) {
  response->set_ed25519_public_key(signer_.public_key());
  response->set_public_key_pem(signer_.public_key_pem());
  response->set_key_id(signer_.key_id());
  response->set_note_verifier_key(signer_.verifier_key());
  response->set_origin(signer_.origin());
  return absl::OkStatus();
}

absl::Status AuditCore::GetTile(const Principal&, const v1::GetTileRequest& request,
                                v1::GetTileResponse* response) {
  TileId tile;
  tile.level = request.level();
  tile.index = request.index();
  tile.width = request.width() == 0 ? kTileWidth : request.width();
  uint64_t size = 0;
  absl::StatusOr<std::string> hashes = log_.Tile(tile, &size);
  if (!hashes.ok()) return hashes.status();
  response->set_hashes(std::move(*hashes));
  response->set_tree_size(size);
  return absl::OkStatus();
}

absl::Status AuditCore::Query(const Principal& caller, const v1::QueryRequest& request,
                              v1::QueryResponse* response) {
  if (absl::Status s = RequireNotPublic(caller, "Query"); !s.ok()) return s;
  absl::StatusOr<uint64_t> start = ParseToken(request.page_token());
  if (!start.ok()) return start.status();
  QueryFilter filter;
  if (!request.actor().empty()) filter.actor = ActorFilterKey(request.actor());
  filter.organization = request.organization();
  filter.object_id = request.object_id();
  filter.action = request.action();
  if (request.has_from()) filter.from = FromProto(request.from());
  if (request.has_to()) filter.to = FromProto(request.to());
  std::optional<std::string> restrict;
  if (!ReadsEverything(caller)) restrict = caller.org;
  uint64_t next = 0;
  std::vector<uint64_t> hits = index_.Query(
      filter, restrict, *start, static_cast<size_t>(PageSize(request.page_size())), &next);
  for (uint64_t i : hits) {
    absl::StatusOr<std::string> bytes = log_.GetEntryBytes(i);
    if (!bytes.ok()) return bytes.status();
    response->add_entries()->ParseFromString(*bytes);
  }
  if (next != 0) response->set_next_page_token(absl::StrCat(next));
  return absl::OkStatus();
}

absl::Status AuditCore::Lineage(const Principal& caller, const v1::LineageRequest& request,
                                v1::LineageResponse* response) {
  if (absl::Status s = RequireNotPublic(caller, "Lineage"); !s.ok()) return s;
  if (request.start().kind().empty() || request.start().id().empty()) {
    return absl::InvalidArgumentError("Lineage: start.kind and start.id are required");
  }
  if (request.direction() == v1::LINEAGE_DIRECTION_UNSPECIFIED) {
    return absl::InvalidArgumentError("Lineage: direction is required (UPSTREAM or DOWNSTREAM)");
  }
  int depth = request.max_depth() <= 0 || request.max_depth() > 16 ? 16 : request.max_depth();
  // Overseers (services, REGULATOR, IMPLEMENTING_AGENCY) see the whole graph; any other
  // organization only the links its own entries establish (rule 32 lineage, object-level
  // permission as in Query).
  std::optional<std::string> restrict;
  if (!ReadsEverything(caller)) restrict = caller.org;
  *response = index_.Lineage(request.start(), request.direction(), depth, restrict);
  return absl::OkStatus();
}

absl::Status AuditCore::ListAlerts(const Principal& caller, const v1::ListAlertsRequest& request,
                                   v1::ListAlertsResponse* response) {
  if (!caller.HasRole(ROLE_REGULATOR) && !caller.HasRole(ROLE_IMPLEMENTING_AGENCY)) {
    return absl::PermissionDeniedError(
        absl::StrCat("ListAlerts requires role regulator or implementing_agency (rule 35); caller ",
                     caller.ToSpiffeId()));
  }
  absl::StatusOr<uint64_t> start = ParseToken(request.page_token());
  if (!start.ok()) return start.status();
  std::optional<absl::Time> since;
  if (request.has_since()) since = FromProto(request.since());
  size_t next = 0;
  for (auto& a :
       alerts_.Alerts(since, *start, static_cast<size_t>(PageSize(request.page_size())), &next)) {
    *response->add_alerts() = std::move(a);
  }
  if (next != 0) response->set_next_page_token(absl::StrCat(next));
  return absl::OkStatus();
}

}  // namespace pdao::audit

#include "common/app/commit_batch.h"

#include <utility>

#include "common/app/requests.h"

namespace pdao {

EventContext RequestEventContext(const std::string& service, const Principal& caller,
                                 const std::string& idempotency_key, absl::Time now) {
  return EventContext{service, caller, idempotency_key.empty() ? NewUuid() : idempotency_key, now};
}

CommitBatch::CommitBatch(const std::string& shard, const std::string& idempotency_key,
                         EventContext context)
    : context_(std::move(context)) {
  request_.shard = shard;
  request_.idempotency_key = idempotency_key;
}

void CommitBatch::Put(const std::string& key, const google::protobuf::Message& message,
                      int64_t expected_version) {
  request_.puts.push_back({key, message.SerializeAsString(), expected_version});
}

pdao::events::v1::Envelope CommitBatch::NewEvent(const std::string& aggregate_type,
                                                 const std::string& aggregate_id,
                                                 int64_t aggregate_version,
                                                 const std::string& action) const {
  return NewEnvelope(context_, aggregate_type, aggregate_id, aggregate_version, action);
}

void CommitBatch::AddEvent(const pdao::events::v1::Envelope& event, const std::string& key) {
  request_.events.push_back(ToOutboxEvent(event, TopicOf(context_.producer), key));
}

absl::Status CommitBatch::Commit(Store& store, google::protobuf::Message* response) {
  return CommitWithResult(store, request_, response);
}

}  // namespace pdao

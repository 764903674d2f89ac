#include "common/events/event.h"

#include <openssl/rand.h>

#include <algorithm>
#include <array>
#include <cstdio>
#include <string_view>

#include "google/protobuf/util/time_util.h"

namespace pdao {

std::string NewUuid() {
  std::array<unsigned char, 16> b{};
  if (RAND_bytes(b.data(), static_cast<int>(b.size())) != 1) {
    // RAND_bytes only fails when the CSPRNG cannot be seeded; there is no safe fallback.
    std::abort();
  }
  b[6] = (b[6] & 0x0f) | 0x40;  // version 4
  b[8] = (b[8] & 0x3f) | 0x80;  // RFC 4122 variant
  char out[37];
  std::snprintf(out, sizeof(out),
                "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", b[0], b[1],
                b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13], b[14],
                b[15]);
  return out;
}

std::string TopicOf(const std::string& service) { return "pdao." + service + ".v1"; }

std::vector<std::string> EventProducers() {
  constexpr std::string_view kPrefix = "pdao/events/v1/";
  constexpr std::string_view kSuffix = "_events.proto";
  const google::protobuf::OneofDescriptor* payload =
      pdao::events::v1::Envelope::descriptor()->FindOneofByName("payload");
  std::vector<std::string> producers;
  for (int i = 0; payload != nullptr && i < payload->field_count(); ++i) {
    const google::protobuf::Descriptor* message = payload->field(i)->message_type();
    if (message == nullptr) continue;
    std::string_view file = message->file()->name();
    if (file.size() <= kPrefix.size() + kSuffix.size() ||
        file.substr(0, kPrefix.size()) != kPrefix ||
        file.substr(file.size() - kSuffix.size()) != kSuffix) {
      continue;
    }
    std::string service(file.substr(kPrefix.size(), file.size() - kPrefix.size() - kSuffix.size()));
    if (std::find(producers.begin(), producers.end(), service) == producers.end()) {
      producers.push_back(std::move(service));
    }
  }
  return producers;
}

pdao::events::v1::Envelope NewEnvelope(const EventContext& context,
                                       const std::string& aggregate_type,
                                       const std::string& aggregate_id, int64_t aggregate_version,
                                       const std::string& action) {
  pdao::events::v1::Envelope e;
  e.set_event_id(NewUuid());
  *e.mutable_occurred_at() =
      google::protobuf::util::TimeUtil::NanosecondsToTimestamp(absl::ToUnixNanos(context.now));
  e.set_producer(context.producer);
  *e.mutable_actor() = context.actor.ToProto();
  e.mutable_aggregate()->set_type(aggregate_type);
  e.mutable_aggregate()->set_id(aggregate_id);
  e.set_aggregate_version(aggregate_version);
  e.set_correlation_id(context.correlation_id);
  e.set_action(action);
  return e;
}

OutboxEvent ToOutboxEvent(const pdao::events::v1::Envelope& envelope, const std::string& topic,
                          const std::string& key) {
  OutboxEvent out;
  out.topic = topic;
  out.key = key;
  out.event_id = envelope.event_id();
  out.payload = envelope.SerializeAsString();
  return out;
}

}  // namespace pdao

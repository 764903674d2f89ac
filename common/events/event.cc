#include "common/events/event.h"

#include <openssl/rand.h>
#include <pthread.h>

#include <algorithm>
#include <array>
#include <cstdlib>
#include <cstring>
#include <string_view>

#include "google/protobuf/util/time_util.h"

namespace pdao {

namespace {

// Random bytes for ids, drawn from the CSPRNG 4 KiB at a time per thread (one RAND_bytes call per
// 256 ids instead of one per id: RAND_bytes takes OpenSSL's DRBG locks and parameter lookups on
// every call, ~5 % of a loaded CheckUsage server's CPU; docs/benchmarks.md "Re-run after session
// 7's changes"). The bytes are the CSPRNG's own; only the calls are fewer.
class IdRandom {
 public:
  IdRandom() {
    // A forked child must not hand out the parent's buffered bytes again: the child's one thread
    // (the one that forked) drops its buffer.
    static const bool registered = [] {
      pthread_atfork(nullptr, nullptr, [] { Local().used_ = kSize; });
      return true;
    }();
    (void)registered;
  }

  static IdRandom& Local() {
    thread_local IdRandom random;
    return random;
  }

  void Fill(unsigned char* out, size_t n) {
    if (used_ + n > kSize) {
      if (RAND_bytes(buffer_.data(), static_cast<int>(kSize)) != 1) {
        // RAND_bytes only fails when the CSPRNG cannot be seeded; there is no safe fallback.
        std::abort();
      }
      used_ = 0;
    }
    std::memcpy(out, buffer_.data() + used_, n);
    used_ += n;  // each byte is handed out once
  }

 private:
  static constexpr size_t kSize = 4096;
  std::array<unsigned char, kSize> buffer_{};
  size_t used_ = kSize;  // empty until the first Fill
};

}  // namespace

std::string NewUuid() {
  std::array<unsigned char, 16> b{};
  IdRandom::Local().Fill(b.data(), b.size());
  b[6] = (b[6] & 0x0f) | 0x40;  // version 4
  b[8] = (b[8] & 0x3f) | 0x80;  // RFC 4122 variant
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out(36, '-');
  size_t pos = 0;
  for (size_t i = 0; i < b.size(); ++i) {
    if (pos == 8 || pos == 13 || pos == 18 || pos == 23) ++pos;  // the dashes of 8-4-4-4-12
    out[pos++] = kHex[b[i] >> 4];
    out[pos++] = kHex[b[i] & 0x0f];
  }
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

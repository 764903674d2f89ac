// What every per-service fuzz target shares (tests/fuzz/README.md): the input format, the caller a
// byte names, and a table of the service core's methods that runs a request the way the unary
// adapter (common/rpc/unary_adapter.h) does, without a gRPC server.
//
// Input: a sequence of at most kMaxCalls calls, each
//   u8 selector | u8 caller | u8 clock step | u16 body length (little endian) | body
// A selector below the service's rpc count names the rpc of that index in the service's
// descriptor (the .proto's order); the ones after it name the service's event handlers (the body
// is then a serialized pdao.events.v1.Envelope, delivered as a BusMessage); the selector is taken
// modulo their sum. The clock moves forward by `clock step` hours before the call. A body shorter
// than its length ends the input there.
#pragma once

#include <grpcpp/support/byte_buffer.h>
#include <grpcpp/support/slice.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/notification.h"
#include "absl/time/time.h"
#include "common/rpc/principal.h"
#include "common/rpc/request_check.h"
#include "common/rpc/service_calls.h"
#include "google/protobuf/descriptor.h"
#include "google/protobuf/stubs/logging.h"

namespace pdao::fuzz {

inline constexpr size_t kMaxCalls = 16;
inline constexpr size_t kCallHeaderBytes = 5;

struct Call {
  uint8_t selector = 0;
  uint8_t caller = 0;
  uint8_t clock_step_hours = 0;
  absl::string_view body;
};

// The calls of `data` (at most kMaxCalls; a truncated last call is dropped).
inline std::vector<Call> SplitCalls(const uint8_t* data, size_t size) {
  std::vector<Call> calls;
  size_t at = 0;
  while (calls.size() < kMaxCalls && size - at >= kCallHeaderBytes) {
    Call c;
    c.selector = data[at];
    c.caller = data[at + 1];
    c.clock_step_hours = data[at + 2];
    const size_t length = size_t{data[at + 3]} | (size_t{data[at + 4]} << 8);
    at += kCallHeaderBytes;
    if (size - at < length) break;
    c.body = absl::string_view(reinterpret_cast<const char*>(data) + at, length);
    at += length;
    calls.push_back(c);
  }
  return calls;
}

// The inverse of SplitCalls for one call (the seed corpus generator, tests/fuzz/seeds.cc).
inline std::string EncodeCall(uint8_t selector, uint8_t caller, uint8_t clock_step_hours,
                              const std::string& body) {
  std::string out;
  out.push_back(static_cast<char>(selector));
  out.push_back(static_cast<char>(caller));
  out.push_back(static_cast<char>(clock_step_hours));
  out.push_back(static_cast<char>(body.size() & 0xff));
  out.push_back(static_cast<char>((body.size() >> 8) & 0xff));
  return out + body;
}

// The organizations the fixtures of the unit tests use, so that a fuzzed call can name one that an
// earlier call created.
inline const std::vector<std::string>& Orgs() {
  static const auto* orgs = new std::vector<std::string>{"city-transport",
                                                         "op-metro",
                                                         "city-agency",
                                                         "dept-transport",
                                                         "city-samr",
                                                         "op-other",
                                                         "city-bureau",
                                                         "91310000MA1FL0001X",
                                                         "91310000MA1FL0002Y",
                                                         "op-changchun-data",
                                                         "acme-logistics",
                                                         "city-gov",
                                                         "op-a",
                                                         "op-b",
                                                         "dept-health",
                                                         "citizen"};
  return *orgs;
}
inline const std::vector<std::string>& Services() {
  static const auto* services = new std::vector<std::string>{
      "registry", "authorization", "compliance", "pricing", "audit", "disclosure"};
  return *services;
}

// Caller byte: high bit set → the platform service (low bits modulo 6) in Services() order;
// otherwise bits 0-2 pick the role (1..8: every role but UNSPECIFIED) and bits 3-6 the
// organization in Orgs().
inline Principal CallerFor(uint8_t b) {
  if (b & 0x80) return Principal::Service(Services()[(b & 0x7f) % Services().size()]);
  const auto role = static_cast<common::v1::Role>(1 + (b & 0x07));
  return Principal::Org(Orgs()[(b >> 3) & 0x0f], role);
}
// The caller byte of `org` in `role` (seeds).
inline uint8_t CallerByte(const std::string& org, common::v1::Role role) {
  for (size_t i = 0; i < Orgs().size(); ++i) {
    if (Orgs()[i] == org) return static_cast<uint8_t>((i << 3) | (static_cast<int>(role) - 1));
  }
  std::fprintf(stderr, "fuzz: %s is not in Orgs()\n", org.c_str());
  std::abort();
}
inline uint8_t ServiceCallerByte(const std::string& service) {
  for (size_t i = 0; i < Services().size(); ++i) {
    if (Services()[i] == service) return static_cast<uint8_t>(0x80 | i);
  }
  std::fprintf(stderr, "fuzz: %s is not in Services()\n", service.c_str());
  std::abort();
}

// The rpcs of one service bound to its core, indexed as in the service's descriptor. Bind each the
// way the service's adapter does (Serve / ServeAsync); Complete() aborts unless every rpc of the
// service is bound, so a new rpc cannot go unfuzzed.
template <typename Core>
class MethodTable {
 public:
  explicit MethodTable(const std::string& service_full_name)
      : service_(google::protobuf::DescriptorPool::generated_pool()->FindServiceByName(
            service_full_name)) {
    if (service_ == nullptr) Die("no service " + service_full_name);
    runs_.resize(static_cast<size_t>(service_->method_count()));
  }

  template <typename Req, typename Resp>
  void Serve(absl::Status (Core::*method)(const Principal&, const Req&, Resp*)) {
    BindTyped<Req, Resp>(
        [method](Core& core, const Principal& caller, const Req& request, Resp* response) {
          return (core.*method)(caller, request, response);
        });
  }

  // A method that answers through `done`, perhaps on another thread: waited for here.
  template <typename Req, typename Resp>
  void ServeAsync(void (Core::*method)(const Principal&, const Req&, Resp*,
                                       std::function<void(absl::Status)>)) {
    BindTyped<Req, Resp>(
        [method](Core& core, const Principal& caller, const Req& request, Resp* response) {
          absl::Notification finished;
          absl::Status result;
          (core.*method)(caller, request, response, [&](absl::Status s) {
            result = std::move(s);
            finished.Notify();
          });
          finished.WaitForNotification();
          return result;
        });
  }

  void Complete() const {
    for (size_t i = 0; i < runs_.size(); ++i) {
      if (!runs_[i]) Die(service_->method(static_cast<int>(i))->full_name() + " is not bound");
    }
  }

  size_t size() const { return runs_.size(); }
  const google::protobuf::ServiceDescriptor& service() const { return *service_; }

  // As the adapter: the service-identity check, then the request parsed and checked from bytes,
  // then the core. `response` (may be null) gets the core's response.
  absl::Status Call(Core& core, size_t index, const Principal& caller, absl::string_view body,
                    google::protobuf::Message* response = nullptr) const {
    const google::protobuf::MethodDescriptor& method = *service_->method(static_cast<int>(index));
    if (absl::Status allowed = CheckServiceCall(caller, method); !allowed.ok()) return allowed;
    grpc::Slice slice(body.data(), body.size());
    grpc::ByteBuffer bytes(&slice, 1);
    return runs_[index](core, caller, bytes, response);
  }

 private:
  using Run = std::function<absl::Status(Core&, const Principal&, const grpc::ByteBuffer&,
                                         google::protobuf::Message*)>;

  [[noreturn]] static void Die(const std::string& why) {
    std::fprintf(stderr, "fuzz: %s\n", why.c_str());
    std::abort();
  }

  // Binds the rpc that takes `Req`: the request parsed and checked from bytes, then
  // `run(core, caller, request, &response)`.
  template <typename Req, typename Resp, typename F>
  void BindTyped(F run) {
    Bind(Req::descriptor(),
         [run](Core& core, const Principal& caller, const grpc::ByteBuffer& bytes,
               google::protobuf::Message* out) -> absl::Status {
           Req request;
           if (absl::Status parsed = ParseRequest(bytes, &request); !parsed.ok()) return parsed;
           Resp response;
           absl::Status status = run(core, caller, request, &response);
           if (out != nullptr) out->CopyFrom(response);
           return status;
         });
  }

  void Bind(const google::protobuf::Descriptor* request, Run run) {
    for (int i = 0; i < service_->method_count(); ++i) {
      if (service_->method(i)->input_type() != request) continue;
      if (runs_[static_cast<size_t>(i)]) Die(service_->method(i)->full_name() + " bound twice");
      runs_[static_cast<size_t>(i)] = std::move(run);
      return;
    }
    Die("no rpc of " + service_->full_name() + " takes " + request->full_name());
  }

  const google::protobuf::ServiceDescriptor* service_;
  std::vector<Run> runs_;
};

// The seed corpus (tests/fuzz/README.md "Corpus"): a target run with PDAO_FUZZ_WRITE_SEEDS=<dir>
// writes its seeds into <dir> from LLVMFuzzerInitialize and exits. Each seed is a flow of valid
// calls run on a real world (so that ids come from the core's responses), plus one seed per
// selector with an empty body.
//
// `World` has `static constexpr size_t kExtra` (its extra selectors) and
//   absl::Status Run(const Call& call, google::protobuf::Message* response);
template <typename World>
class SeedWriter {
 public:
  SeedWriter(World& world, const google::protobuf::ServiceDescriptor& service, std::string dir)
      : world_(world), service_(service), dir_(std::move(dir)) {}

  // Runs the rpc that takes `Req` and appends it to the current seed; the core's response (a
  // failure is printed: the seed is kept).
  template <typename Resp, typename Req>
  Resp Rpc(uint8_t caller, const Req& request, uint8_t clock_step_hours = 0) {
    int index = -1;
    for (int i = 0; i < service_.method_count(); ++i) {
      if (service_.method(i)->input_type() == Req::descriptor()) index = i;
    }
    if (index < 0) Die("no rpc takes " + Req::descriptor()->full_name());
    Resp response;
    absl::Status s = Append(static_cast<uint8_t>(index), caller, clock_step_hours,
                            request.SerializeAsString(), &response);
    if (!s.ok()) {  // still a seed; said so that a flow that stopped working gets fixed
      std::fprintf(stderr, "fuzz seeds: %s failed: %s\n", Req::descriptor()->name().c_str(),
                   s.ToString().c_str());
    }
    return response;
  }
  // Appends extra selector `k` (an event with `body`, a periodic job) to the current seed.
  void Extra(size_t k, uint8_t caller, const std::string& body, uint8_t clock_step_hours = 0) {
    Append(static_cast<uint8_t>(service_.method_count() + k), caller, clock_step_hours, body,
           nullptr)
        .IgnoreError();
  }
  // Writes the current seed as <dir>/<name> and starts the next one (the world keeps its state).
  void Save(const std::string& name) {
    WriteFile(name, seed_);
    seed_.clear();
  }
  // One seed per selector, the body empty, called by `caller`.
  void SaveEverySelector(uint8_t caller) {
    for (size_t i = 0; i < static_cast<size_t>(service_.method_count()) + World::kExtra; ++i) {
      const std::string name =
          i < static_cast<size_t>(service_.method_count())
              ? "empty-" + service_.method(static_cast<int>(i))->name()
              : "empty-extra-" + std::to_string(i - static_cast<size_t>(service_.method_count()));
      WriteFile(name, EncodeCall(static_cast<uint8_t>(i), caller, 0, ""));
    }
  }

 private:
  [[noreturn]] static void Die(const std::string& why) {
    std::fprintf(stderr, "fuzz seeds: %s\n", why.c_str());
    std::abort();
  }
  absl::Status Append(uint8_t selector, uint8_t caller, uint8_t hours, const std::string& body,
                      google::protobuf::Message* response) {
    if (body.size() > 0xffff) Die("a seed call over 64 KiB");
    seed_ += EncodeCall(selector, caller, hours, body);
    Call call;
    call.selector = selector;
    call.caller = caller;
    call.clock_step_hours = hours;
    call.body = body;
    return world_.Run(call, response);
  }
  void WriteFile(const std::string& name, const std::string& bytes) {
    const std::string path = dir_ + "/" + name;
    std::FILE* f = std::fopen(path.c_str(), "wb");
    if (f == nullptr || std::fwrite(bytes.data(), 1, bytes.size(), f) != bytes.size()) {
      Die("cannot write " + path);
    }
    std::fclose(f);
  }

  World& world_;
  const google::protobuf::ServiceDescriptor& service_;
  std::string dir_;
  std::string seed_;
};

// From LLVMFuzzerInitialize: silences protobuf's log (every malformed string field would print a
// line), then, when PDAO_FUZZ_WRITE_SEEDS names a directory, calls `write(dir)` and exits.
template <typename F>
void Initialize(F write) {
  google::protobuf::SetLogHandler(nullptr);
  const char* dir = std::getenv("PDAO_FUZZ_WRITE_SEEDS");
  if (dir == nullptr || *dir == '\0') return;
  write(std::string(dir));
  std::exit(0);
}

// Aborts the process (a broken fixture, not a finding) when `s` is an error.
inline void OrDie(const absl::Status& s) {
  if (s.ok()) return;
  std::fprintf(stderr, "fuzz: fixture failed: %s\n", s.ToString().c_str());
  std::abort();
}
// The value of `v`; aborts the process as above when it is an error.
template <typename T>
T OrDie(absl::StatusOr<T> v) {
  OrDie(v.status());
  return *std::move(v);
}

// World::Run of a World (see SeedWriter) with members `clock` (a FakeClock), `core` (a pointer to
// the Core of `table`), `static constexpr size_t kExtra` and
//   absl::Status RunExtra(size_t k, const Call& call);  // extra selector k < kExtra
// The clock moves forward by the call's step, then the selector (modulo the table's rpcs plus
// kExtra) names an rpc of `table`, run on the core as the adapter does, or extra selector
// k = selector - rpcs.
template <typename Core, typename World>
absl::Status Dispatch(const MethodTable<Core>& table, World& world, const Call& call,
                      google::protobuf::Message* response) {
  world.clock.Advance(absl::Hours(call.clock_step_hours));
  const size_t selector = call.selector % (table.size() + World::kExtra);
  if (selector < table.size()) {
    return table.Call(*world.core, selector, CallerFor(call.caller), call.body, response);
  }
  return world.RunExtra(selector - table.size(), call);
}

// The body of LLVMFuzzerTestOneInput: a fresh World, every call of the input run on it (the
// status of each is of no interest: only a crash or a sanitizer report is a finding).
template <typename World>
int RunInput(const uint8_t* data, size_t size) {
  World world;
  for (const Call& call : SplitCalls(data, size)) world.Run(call).IgnoreError();
  return 0;
}

}  // namespace pdao::fuzz

// The entry points of an rpc target, at file scope: `World` as in SeedWriter (a fresh one per
// input), `write_seeds(dir)` writes the seed corpus (see Initialize).
#define PDAO_RPC_FUZZ_TARGET(World, write_seeds)                            \
  extern "C" int LLVMFuzzerInitialize(int*, char***) {                      \
    ::pdao::fuzz::Initialize(write_seeds);                                  \
    return 0;                                                               \
  }                                                                         \
  extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) { \
    return ::pdao::fuzz::RunInput<World>(data, size);                       \
  }

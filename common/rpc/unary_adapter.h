// UnaryAdapter: the one gRPC adapter every PDAO service uses (DESIGN.md "How a command flows"). A
// service's adapter names its core's use cases, nothing else:
//
//   class RegistryService final
//       : public UnaryAdapter<v1::RegistryService, RegistryCore> {
//    public:
//     RegistryService(RegistryCore& core, Executor& executor) : UnaryAdapter(core, executor) {
//       Serve(&RegistryCore::RegisterResource);
//       ...
//     }
//   };
//
// Each bound method, per call, on the gRPC callback thread: the caller's Principal from the mTLS
// certificate (UNAUTHENTICATED without one, the core is not run); then, on the Executor, the core's
//   absl::Status Core::Method(const Principal&, const MethodRequest&, MethodResponse*)
// and the call finishes with that status converted code for code (common/status/grpc_status.h).
// A call cancelled by the client, or whose deadline passed, while it waited for an executor thread
// finishes CANCELLED without running the core. `ServeInline` runs a core method on the callback
// thread instead, for a method that never blocks (an in-memory lookup: no store, no RPC, no lock
// held for long); `ServeAsync` binds a core method that completes by itself (see ServeAsync):
//   void Core::Method(const Principal&, const Req&, Resp*, std::function<void(absl::Status)> done)
//
// Methods are matched to the proto service by their request type (each rpc has its own request
// message: buf STANDARD lint), so binding cannot pick the wrong rpc; a method not bound answers
// UNIMPLEMENTED, and BindingErrors() names it (tests/integration/rpc/adapters_test.cc checks that
// every service binds every method).
#pragma once

#include <grpcpp/support/byte_buffer.h>
#include <grpcpp/support/server_callback.h>

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "common/rpc/auth.h"
#include "common/rpc/executor.h"
#include "common/rpc/principal.h"
#include "common/rpc/request_check.h"
#include "common/rpc/service_calls.h"
#include "common/status/grpc_status.h"
#include "google/protobuf/descriptor.h"

namespace pdao {

// Threads of an adapter's own pool (docs/benchmarks.md "Handlers off the callback threads").
inline constexpr int kDefaultAdapterThreads = 32;

// `GrpcService` is the generated service class (v1::RegistryService), `Core` the use cases.
template <typename GrpcService, typename Core>
class UnaryAdapter : public GrpcService::CallbackService {
 public:
  UnaryAdapter(const UnaryAdapter&) = delete;
  UnaryAdapter& operator=(const UnaryAdapter&) = delete;

  // Empty when every rpc of the service is bound exactly once; otherwise one line per problem
  // (an rpc left unbound, a core method whose request type is no rpc's, an rpc bound twice).
  std::vector<std::string> BindingErrors() const {
    std::vector<std::string> errors = errors_;
    for (int i = 0; i < descriptor_->method_count(); ++i) {
      if (!bound_[static_cast<size_t>(i)]) {
        errors.push_back(absl::StrCat(descriptor_->method(i)->full_name(), " is not bound"));
      }
    }
    return errors;
  }

 protected:
  // `core` and `executor` must outlive this object (and the server serving it).
  UnaryAdapter(Core& core, Executor& executor) : UnaryAdapter(core, executor, nullptr) {}
  // Runs the core on a pool of its own: kDefaultAdapterThreads threads named `pool_name`.
  UnaryAdapter(Core& core, const std::string& pool_name)
      : UnaryAdapter(core,
                     std::make_unique<ThreadPoolExecutor>(kDefaultAdapterThreads, pool_name)) {}

  template <typename Req, typename Resp>
  using CoreMethod = absl::Status (Core::*)(const Principal&, const Req&, Resp*);
  template <typename Req, typename Resp>
  using AsyncCoreMethod = void (Core::*)(const Principal&, const Req&, Resp*,
                                         std::function<void(absl::Status)>);

  // The core method runs on the executor.
  template <typename Req, typename Resp>
  void Serve(CoreMethod<Req, Resp> method) {
    // The closures capture the core and the executor themselves, never `this`: GCC 12 with
    // -fsanitize=address,undefined miscompiles a member access through a captured `this` followed
    // by a pointer-to-member call here (it reads a shadow-memory address as `this`; found by the
    // sanitizer pass of tools/test.sh), and the adapter's own state is not needed per call.
    Core* core = &core_;
    Executor* executor = &executor_;
    Bind<Req, Resp>([core, executor, method](grpc::ServerUnaryReactor* reactor,
                                             grpc::CallbackServerContext* context, Principal caller,
                                             std::shared_ptr<const Req> request, Resp* response) {
      executor->Schedule([core, method, reactor, context, caller = std::move(caller),
                          request = std::move(request), response] {
        // Nobody waits for the answer any more: do not start the work.
        if (context->IsCancelled() || context->deadline() < std::chrono::system_clock::now()) {
          reactor->Finish(grpc::Status::CANCELLED);
          return;
        }
        reactor->Finish(ToGrpcStatus((core->*method)(caller, *request, response)));
      });
    });
  }

  // The core method runs on the gRPC callback thread: only for methods that never block.
  template <typename Req, typename Resp>
  void ServeInline(CoreMethod<Req, Resp> method) {
    Core* core = &core_;  // not `this`: see Serve
    Bind<Req, Resp>([core, method](grpc::ServerUnaryReactor* reactor, grpc::CallbackServerContext*,
                                   Principal caller, std::shared_ptr<const Req> request,
                                   Resp* response) {
      reactor->Finish(ToGrpcStatus((core->*method)(caller, *request, response)));
    });
  }

  // The core method is called on the callback thread; the call finishes when it calls `done` (from
  // any thread, exactly once, possibly before it returns). It must return at once, except for one
  // bounded wait that keeps a single callback thread at a time: a DecisionRecorder found idle
  // commits the caller's decision on it (common/app/decision_recorder.h; at most one commit, and
  // never two callback threads at once, since every other caller queues meanwhile).
  template <typename Req, typename Resp>
  void ServeAsync(AsyncCoreMethod<Req, Resp> method) {
    Core* core = &core_;  // not `this`: see Serve
    Bind<Req, Resp>([core, method](grpc::ServerUnaryReactor* reactor, grpc::CallbackServerContext*,
                                   Principal caller, std::shared_ptr<const Req> request,
                                   Resp* response) {
      // The request lives until `done` has run.
      const Req& req = *request;
      (core->*method)(caller, req, response,
                      [reactor, request = std::move(request)](const absl::Status& s) {
                        reactor->Finish(ToGrpcStatus(s));
                      });
    });
  }

  Core& core() { return core_; }

 private:
  explicit UnaryAdapter(Core& core, std::unique_ptr<ThreadPoolExecutor> owned)
      : UnaryAdapter(core, *owned, std::move(owned)) {}
  UnaryAdapter(Core& core, Executor& executor, std::unique_ptr<ThreadPoolExecutor>&& owned)
      : owned_executor_(std::move(owned)),
        core_(core),
        executor_(executor),
        descriptor_(google::protobuf::DescriptorPool::generated_pool()->FindServiceByName(
            std::string(GrpcService::service_full_name()))),
        bound_(static_cast<size_t>(descriptor_->method_count()), false) {}

  template <typename Req, typename Resp>
  using Run = std::function<void(grpc::ServerUnaryReactor*, grpc::CallbackServerContext*, Principal,
                                 std::shared_ptr<const Req>, Resp*)>;

  template <typename Req, typename Resp>
  void Bind(Run<Req, Resp> run) {
    const int index = MethodIndex(Req::descriptor(), Resp::descriptor());
    if (index < 0) return;
    // The request arrives as bytes and is parsed here (common/rpc/request_check.h), so that a
    // request gRPC could not parse gets INVALID_ARGUMENT saying why, and the core sees only
    // checked requests. The caller is identified first: without a certificate nothing is parsed.
    // A service identity may call only the rpcs that declare it (service_calls.h, issue 9 item 5).
    this->MarkMethodCallback(
        index, new grpc::internal::CallbackUnaryHandler<grpc::ByteBuffer, Resp>(
                   [run = std::move(run), method = descriptor_->method(index)](
                       grpc::CallbackServerContext* context, const grpc::ByteBuffer* bytes,
                       Resp* response) {
                     grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
                     absl::StatusOr<Principal> caller = PrincipalFromContext(*context);
                     if (!caller.ok()) {
                       reactor->Finish(ToGrpcStatus(caller.status()));
                       return reactor;
                     }
                     if (absl::Status allowed = CheckServiceCall(*caller, *method); !allowed.ok()) {
                       reactor->Finish(ToGrpcStatus(allowed));
                       return reactor;
                     }
                     auto request = std::make_shared<Req>();
                     if (absl::Status parsed = ParseRequest(*bytes, request.get()); !parsed.ok()) {
                       reactor->Finish(ToGrpcStatus(parsed));
                       return reactor;
                     }
                     run(reactor, context, *std::move(caller), std::move(request), response);
                     return reactor;
                   }));
  }

  int MethodIndex(const google::protobuf::Descriptor* request,
                  const google::protobuf::Descriptor* response) {
    for (int i = 0; i < descriptor_->method_count(); ++i) {
      const google::protobuf::MethodDescriptor* m = descriptor_->method(i);
      if (m->input_type() != request) continue;
      if (m->output_type() != response || m->client_streaming() || m->server_streaming()) {
        errors_.push_back(absl::StrCat(m->full_name(), " is not unary ", request->name(), " -> ",
                                       response->name()));
        return -1;
      }
      if (bound_[static_cast<size_t>(i)]) {
        errors_.push_back(absl::StrCat(m->full_name(), " is bound twice"));
        return -1;
      }
      bound_[static_cast<size_t>(i)] = true;
      return i;
    }
    errors_.push_back(
        absl::StrCat("no rpc of ", descriptor_->full_name(), " takes ", request->full_name()));
    return -1;
  }

  std::unique_ptr<ThreadPoolExecutor> owned_executor_;  // before executor_, which may refer to it
  Core& core_;
  Executor& executor_;
  const google::protobuf::ServiceDescriptor* descriptor_;
  std::vector<bool> bound_;
  std::vector<std::string> errors_;
};

}  // namespace pdao

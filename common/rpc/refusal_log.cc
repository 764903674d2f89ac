#include "common/rpc/refusal_log.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/rpc/auth.h"
#include "common/status/grpc_status.h"

namespace pdao {
namespace {

// "/pdao.registry.v1.RegistryService/GetResource" -> ("pdao.registry.v1.RegistryService",
// "pdao.registry.v1.RegistryService.GetResource").
std::pair<std::string, std::string> SplitMethod(absl::string_view full_method) {
  absl::string_view m = full_method;
  if (!m.empty() && m.front() == '/') m.remove_prefix(1);
  const size_t slash = m.find('/');
  if (slash == absl::string_view::npos) return {std::string(m), std::string(m)};
  return {std::string(m.substr(0, slash)),
          absl::StrCat(m.substr(0, slash), ".", m.substr(slash + 1))};
}

class RefusalInterceptor final : public grpc::experimental::Interceptor {
 public:
  RefusalInterceptor(RefusalLog* log, grpc::experimental::ServerRpcInfo* info)
      : log_(log), info_(info) {}

  void Intercept(grpc::experimental::InterceptorBatchMethods* methods) override {
    if (methods->QueryInterceptionHookPoint(
            grpc::experimental::InterceptionHookPoints::PRE_SEND_STATUS)) {
      const grpc::Status status = methods->GetSendStatus();
      if (RefusalLog::Records(status.error_code())) {
        pdao::common::v1::Principal caller;
        std::string key;
        if (info_->server_context() != nullptr) {
          absl::StatusOr<Principal> who = PrincipalFromContext(*info_->server_context());
          if (who.ok()) {
            caller = who->ToProto();
            key = who->ToSpiffeId();
          }
        }
        log_->Record(info_->method() != nullptr ? info_->method() : "", status.error_code(), caller,
                     key, status.error_message());
      }
    }
    methods->Proceed();
  }

 private:
  RefusalLog* log_;
  grpc::experimental::ServerRpcInfo* info_;
};

class RefusalInterceptorFactory final
    : public grpc::experimental::ServerInterceptorFactoryInterface {
 public:
  explicit RefusalInterceptorFactory(RefusalLog* log) : log_(log) {}
  grpc::experimental::Interceptor* CreateServerInterceptor(
      grpc::experimental::ServerRpcInfo* info) override {
    return new RefusalInterceptor(log_, info);
  }

 private:
  RefusalLog* log_;
};

}  // namespace

RefusalLog::RefusalLog(const Clock& clock, size_t max_keys) : clock_(clock), max_keys_(max_keys) {}

bool RefusalLog::Records(grpc::StatusCode code) {
  return code == grpc::StatusCode::PERMISSION_DENIED || code == grpc::StatusCode::UNAUTHENTICATED ||
         code == grpc::StatusCode::INVALID_ARGUMENT || code == grpc::StatusCode::RESOURCE_EXHAUSTED;
}

RefusalCount& RefusalLog::EntryLocked(Key key, const RefusalCount& like) {
  auto it = counts_.find(key);
  if (it != counts_.end()) return it->second;
  if (named_keys_ >= max_keys_) {  // the bound: count it under the overflow key
    std::get<0>(key).assign(1,
                            '*');  // not = "*": GCC 12 -O3 -Wrestrict false positive (bug 105329)
    it = counts_.find(key);
    if (it != counts_.end()) return it->second;
  } else {
    ++named_keys_;
  }
  RefusalCount c = like;
  c.count = 0;
  c.caller_key = std::get<0>(key);
  if (c.caller_key == "*") c.caller.Clear();
  return counts_.emplace(std::move(key), std::move(c)).first->second;
}

void RefusalLog::Record(absl::string_view full_method, grpc::StatusCode code,
                        const pdao::common::v1::Principal& caller, absl::string_view caller_key,
                        absl::string_view message) {
  auto [service, method] = SplitMethod(full_method);
  RefusalCount like;
  like.service = std::move(service);
  like.method = std::move(method);
  like.code = GrpcCodeName(code);
  like.caller = caller;
  like.first_at = clock_.Now();
  like.last_at = like.first_at;
  like.example_message = std::string(message.substr(0, kRefusalExampleBytes));
  Key key{caller_key.empty() ? std::string("anonymous") : std::string(caller_key), like.method,
          like.code};
  absl::MutexLock lock(&mu_);
  RefusalCount& entry = EntryLocked(std::move(key), like);
  ++entry.count;
  entry.last_at = like.last_at;
}

void RefusalLog::Restore(const std::vector<RefusalCount>& counts) {
  absl::MutexLock lock(&mu_);
  for (const RefusalCount& c : counts) {
    RefusalCount& entry = EntryLocked(Key{c.caller_key, c.method, c.code}, c);
    if (entry.count == 0) {
      entry.first_at = c.first_at;
      entry.last_at = c.last_at;
    } else {
      entry.first_at = std::min(entry.first_at, c.first_at);
      entry.last_at = std::max(entry.last_at, c.last_at);
    }
    entry.count += c.count;
  }
}

std::vector<RefusalCount> RefusalLog::Drain() {
  std::map<Key, RefusalCount> drained;
  {
    absl::MutexLock lock(&mu_);
    drained.swap(counts_);
    named_keys_ = 0;
  }
  std::vector<RefusalCount> out;
  out.reserve(drained.size());
  for (auto& [key, count] : drained) out.push_back(std::move(count));
  return out;
}

size_t RefusalLog::keys() const {
  absl::MutexLock lock(&mu_);
  return counts_.size();
}

std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>
MakeRefusalInterceptorFactory(RefusalLog* log) {
  return std::make_unique<RefusalInterceptorFactory>(log);
}

}  // namespace pdao

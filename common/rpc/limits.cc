#include "common/rpc/limits.h"

#include <grpc/grpc_security_constants.h>
#include <grpcpp/server_context.h>

#include <algorithm>
#include <cmath>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "common/log/log.h"
#include "common/rpc/principal.h"
#include "common/status/grpc_status.h"

namespace pdao {
namespace {

// The hint for a concurrency refusal: calls in flight end at their own pace.
constexpr absl::Duration kConcurrencyRetryHint = absl::Milliseconds(100);

double BurstOf(const CallerLimit& l) {
  return l.burst > 0 ? l.burst : std::max(1.0, l.calls_per_second);
}

std::string FormatRate(double r) {
  return r == std::floor(r) ? absl::StrCat(static_cast<int64_t>(r)) : absl::StrCat(r);
}

}  // namespace

const CallerLimit& CallLimits::For(const std::string& role) const {
  if (role == "service") return service;
  auto it = by_role.find(role);
  return it != by_role.end() ? it->second : organization;
}

absl::Status ParseCallerLimits(absl::string_view spec, CallLimits* limits) {
  for (absl::string_view entry : absl::StrSplit(spec, ',', absl::SkipWhitespace())) {
    entry = absl::StripAsciiWhitespace(entry);
    const std::vector<absl::string_view> kv = absl::StrSplit(entry, absl::MaxSplits('=', 1));
    const auto bad = [&](absl::string_view why) {
      return absl::InvalidArgumentError(absl::StrCat(
          "--caller-limits entry \"", entry, "\" ", why,
          " (expected <who>=<rate>/<burst>/<concurrent>, who = default, service or a role)"));
    };
    if (kv.size() != 2) return bad("has no '='");
    const std::string who(absl::StripAsciiWhitespace(kv[0]));
    const std::vector<absl::string_view> n = absl::StrSplit(kv[1], '/');
    CallerLimit l;
    if (n.size() != 3 || !absl::SimpleAtod(n[0], &l.calls_per_second) ||
        !absl::SimpleAtoi(n[1], &l.burst) || !absl::SimpleAtoi(n[2], &l.max_concurrent) ||
        l.calls_per_second < 0 || !std::isfinite(l.calls_per_second) || l.burst < 0 ||
        l.max_concurrent < 0) {
      return bad("does not have three non-negative numbers");
    }
    if (who == "default") {
      limits->organization = l;
    } else if (who == "service") {
      limits->service = l;
    } else if (who != "unidentified" && !RoleFromName(who).ok()) {
      return bad("names no role");
    } else {
      limits->by_role[who] = l;
    }
  }
  return absl::OkStatus();
}

Caller CallerFromAuthContext(const grpc::AuthContext& context) {
  const std::vector<grpc::string_ref> ids =
      context.FindPropertyValues(GRPC_PEER_SPIFFE_ID_PROPERTY_NAME);
  if (ids.size() != 1) return {"unidentified", "unidentified"};
  std::string id(ids[0].data(), ids[0].size());
  absl::StatusOr<Principal> p = PrincipalFromSpiffeId(id);
  if (!p.ok()) return {"unidentified", "unidentified"};
  return {std::move(id), p->is_service() ? "service" : RoleName(p->role)};
}

CallLimiter::CallLimiter(CallLimits limits, const Clock& clock, prometheus::Registry* registry)
    : limits_(std::move(limits)), clock_(clock) {
  if (registry != nullptr) {
    limited_ = &prometheus::BuildCounter()
                    .Name("pdao_grpc_server_limited_total")
                    .Help(
                        "gRPC calls refused by the per-caller limits (RESOURCE_EXHAUSTED), by "
                        "the caller's role and the limit (rate, concurrency).")
                    .Register(*registry);
  }
}

CallLimiter::State& CallLimiter::StateOf(const Caller& caller, absl::Time now) {
  auto [it, added] = callers_.try_emplace(caller.id);
  if (added) {
    it->second.role = caller.role;
    it->second.tokens = BurstOf(limits_.For(caller.role));
    it->second.refilled = now;
  }
  return it->second;
}

void CallLimiter::Expire(State& s, absl::Time now) const {
  while (!s.admitted.empty() && s.admitted.front() < now - limits_.claim_timeout) {
    s.admitted.pop_front();
  }
}

void CallLimiter::CountRefusal(State& s, const Caller& caller, bool by_rate, absl::Time now) {
  if (s.window_start != absl::InfinitePast() && now >= s.window_start + limits_.report_window) {
    ended_.push_back({caller.id, s.role, s.window_start, s.by_rate, s.by_concurrency});
    s.window_start = absl::InfinitePast();
    s.by_rate = s.by_concurrency = 0;
  }
  if (s.window_start == absl::InfinitePast()) s.window_start = now;
  (by_rate ? s.by_rate : s.by_concurrency)++;
  if (limited_ != nullptr) {
    limited_->Add({{"role", s.role}, {"limit", by_rate ? "rate" : "concurrency"}}).Increment();
  }
}

std::optional<absl::Duration> RetryHint(const absl::Status& status) {
  if (!absl::IsResourceExhausted(status)) return std::nullopt;
  constexpr absl::string_view kMarker = "(--caller-limits); retry after ";
  const size_t at = status.message().rfind(kMarker);
  if (at == absl::string_view::npos) return std::nullopt;
  absl::string_view rest = status.message().substr(at + kMarker.size());
  if (!absl::ConsumeSuffix(&rest, "ms")) return std::nullopt;
  int64_t ms = 0;
  if (!absl::SimpleAtoi(rest, &ms) || ms < 0) return std::nullopt;
  return absl::Milliseconds(ms);
}

absl::Status CallLimiter::Admit(const Caller& caller) {
  const CallerLimit& limit = limits_.For(caller.role);
  const absl::Time now = clock_.Now();
  absl::MutexLock lock(&mu_);
  State& s = StateOf(caller, now);
  Expire(s, now);
  if (limit.max_concurrent > 0 &&
      s.running + static_cast<int64_t>(s.admitted.size()) >= limit.max_concurrent) {
    CountRefusal(s, caller, /*by_rate=*/false, now);
    return absl::ResourceExhaustedError(absl::StrCat(
        "caller ", caller.id, " exceeded the concurrency limit of ", limit.max_concurrent,
        " calls in flight for role ", caller.role, " (--caller-limits); retry after ",
        absl::ToInt64Milliseconds(kConcurrencyRetryHint), "ms"));
  }
  if (limit.calls_per_second > 0) {
    const double burst = BurstOf(limit);
    s.tokens = std::min(
        burst, s.tokens + limit.calls_per_second * absl::ToDoubleSeconds(now - s.refilled));
    s.refilled = now;
    if (s.tokens < 1) {
      CountRefusal(s, caller, /*by_rate=*/true, now);
      const int64_t wait_ms =
          static_cast<int64_t>(std::ceil((1 - s.tokens) / limit.calls_per_second * 1000.0));
      return absl::ResourceExhaustedError(absl::StrCat(
          "caller ", caller.id, " exceeded the rate limit of ", FormatRate(limit.calls_per_second),
          " calls/s (burst ", static_cast<int64_t>(burst), ") for role ", caller.role,
          " (--caller-limits); retry after ", std::max<int64_t>(1, wait_ms), "ms"));
    }
    s.tokens -= 1;
  }
  s.admitted.push_back(now);
  return absl::OkStatus();
}

void CallLimiter::Started(const Caller& caller) {
  const absl::Time now = clock_.Now();
  absl::MutexLock lock(&mu_);
  State& s = StateOf(caller, now);
  Expire(s, now);
  if (!s.admitted.empty()) s.admitted.pop_front();
  ++s.running;
}

void CallLimiter::Finished(const Caller& caller) {
  absl::MutexLock lock(&mu_);
  auto it = callers_.find(caller.id);
  if (it != callers_.end() && it->second.running > 0) --it->second.running;
}

std::vector<CallLimiter::Refusals> CallLimiter::TakeEndedWindows() {
  const absl::Time now = clock_.Now();
  absl::MutexLock lock(&mu_);
  std::vector<Refusals> out;
  out.swap(ended_);
  for (auto it = callers_.begin(); it != callers_.end();) {
    State& s = it->second;
    if (s.window_start != absl::InfinitePast() && now >= s.window_start + limits_.report_window) {
      out.push_back({it->first, s.role, s.window_start, s.by_rate, s.by_concurrency});
      s.window_start = absl::InfinitePast();
      s.by_rate = s.by_concurrency = 0;
    }
    Expire(s, now);
    const CallerLimit& limit = limits_.For(s.role);
    const bool full = limit.calls_per_second <= 0 ||
                      s.tokens + limit.calls_per_second * absl::ToDoubleSeconds(now - s.refilled) >=
                          BurstOf(limit);
    if (s.running == 0 && s.admitted.empty() && s.window_start == absl::InfinitePast() && full) {
      it = callers_.erase(it);
    } else {
      ++it;
    }
  }
  return out;
}

void CallLimiter::ReportRefusals() {
  for (const Refusals& r : TakeEndedWindows()) {
    log::Warn("calls refused by the caller limits",
              {{"caller", r.caller},
               {"role", r.role},
               {"window_start", absl::FormatTime(r.window_start)},
               {"window_s", absl::ToInt64Seconds(limits_.report_window)},
               {"refused_rate", r.by_rate},
               {"refused_concurrency", r.by_concurrency}});
  }
}

int64_t CallLimiter::InFlight(const std::string& caller_id) const {
  absl::MutexLock lock(&mu_);
  auto it = callers_.find(caller_id);
  if (it == callers_.end()) return 0;
  return it->second.running + static_cast<int64_t>(it->second.admitted.size());
}

grpc::Status LimitsAuthProcessor::Process(const InputMetadata&, grpc::AuthContext* context,
                                          OutputMetadata*, OutputMetadata*) {
  if (context == nullptr) return grpc::Status::OK;
  return ToGrpcStatus(limiter_->Admit(CallerFromAuthContext(*context)));
}

namespace {

class LimitsInterceptor final : public grpc::experimental::Interceptor {
 public:
  LimitsInterceptor(CallLimiter* limiter, grpc::experimental::ServerRpcInfo* info)
      : limiter_(limiter), info_(info) {}
  ~LimitsInterceptor() override {
    if (started_) limiter_->Finished(caller_);
  }
  void Intercept(grpc::experimental::InterceptorBatchMethods* methods) override {
    if (!started_ && methods->QueryInterceptionHookPoint(
                         grpc::experimental::InterceptionHookPoints::POST_RECV_INITIAL_METADATA)) {
      std::shared_ptr<const grpc::AuthContext> auth = info_->server_context()->auth_context();
      if (auth != nullptr) {  // the same key as LimitsAuthProcessor's
        caller_ = CallerFromAuthContext(*auth);
        started_ = true;
        limiter_->Started(caller_);
      }
    }
    methods->Proceed();
  }

 private:
  CallLimiter* limiter_;
  grpc::experimental::ServerRpcInfo* info_;
  Caller caller_;
  bool started_ = false;
};

class LimitsInterceptorFactory final
    : public grpc::experimental::ServerInterceptorFactoryInterface {
 public:
  explicit LimitsInterceptorFactory(CallLimiter* limiter) : limiter_(limiter) {}
  grpc::experimental::Interceptor* CreateServerInterceptor(
      grpc::experimental::ServerRpcInfo* info) override {
    return new LimitsInterceptor(limiter_, info);
  }

 private:
  CallLimiter* limiter_;
};

}  // namespace

std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface> MakeLimitsInterceptorFactory(
    CallLimiter* limiter) {
  return std::make_unique<LimitsInterceptorFactory>(limiter);
}

}  // namespace pdao

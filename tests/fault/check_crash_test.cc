// Fault test (issue 8, rules 32 and 34): pdao-standalone is SIGKILLed while operators' Check calls
// are being allowed; after a restart on the same data directory every ALLOW a client received has
// its access_decided record in the audit log — the record was durable before the answer left the
// server, so a crash cannot lose the record of a use that happened.
//
// Every call names the acting person in `x-pdao-person`; every record carries it (rule 32).
//
// Before the decision records were committed before the answer, allows were not recorded at all by
// default, and with --audit-allows they were answered from a memory queue (a crash lost them).
//
// Bounded: PDAO_CHECK_CRASH_ALLOWS allows before the kill (default 300), kClients callers in a
// closed loop.
#include <signal.h>

#include <atomic>
#include <cstdlib>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "common/rpc/channel.h"
#include "gtest/gtest.h"
#include "pdao/audit/v1/audit.grpc.pb.h"
#include "pdao/authorization/v1/authorization.grpc.pb.h"
#include "pdao/events/v1/envelope.pb.h"
#include "tests/e2e/e2e_setup.h"
#include "tests/e2e/e2e_util.h"

namespace pdao::e2e {
namespace {

namespace aud = ::pdao::audit::v1;
namespace authz = ::pdao::authorization::v1;

constexpr absl::Duration kReadyTimeout = absl::Seconds(30);
constexpr absl::Duration kCallTimeout = absl::Seconds(10);
constexpr absl::Duration kIngestTimeout = absl::Seconds(60);
constexpr int kClients = 8;
constexpr char kOperator[] = "demo-operator";      // the dev CA's operator certificate
constexpr char kPerson[] = "li.si@demo-operator";  // the operator's clerk (x-pdao-person)

int EnvInt(const char* name, int fallback) {
  const char* v = std::getenv(name);
  int n = 0;
  return v != nullptr && absl::SimpleAtoi(v, &n) && n > 0 ? n : fallback;
}

std::unique_ptr<grpc::ClientContext> Ctx() {
  auto context = std::make_unique<grpc::ClientContext>();
  WithDeadline(*context, kCallTimeout);
  return context;
}

class CheckCrashTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto dir = TempDir::Create("pdao-check-crash");
    ASSERT_TRUE(dir.ok()) << dir.status();
    dir_ = std::move(*dir);
    auto port = FreeLoopbackPort();
    auto health = FreeLoopbackPort();
    ASSERT_TRUE(port.ok() && health.ok());
    port_ = *port;
    health_ = *health;
  }
  void TearDown() override {
    if (child_ && HasFailure()) std::cerr << "log tail:\n" << child_->LogTail() << "\n";
    if (child_) child_->Kill();
  }
  std::string data() const { return dir_->path() + "/data"; }
  std::string certs() const { return data() + "/certs"; }

  void Start() {
    auto child = ChildProcess::Start(
        {PDAO_STANDALONE_BIN, "--listen=" + Loopback(port_), "--health-listen=" + Loopback(health_),
         "--data-dir=" + data(), "--audit-checkpoint-interval=20ms", "--drain-timeout=2s"},
        absl::StrCat(dir_->path(), "/standalone-", ++starts_, ".log"));
    ASSERT_TRUE(child.ok()) << child.status();
    child_ = std::move(*child);
    auto channel = PlaintextChannel(health_);
    bool exited = false;
    const bool ready = PollUntil(
        [&] {
          if (!child_->Running()) return exited = true;
          absl::StatusOr<int> h = HealthCheck(channel, "", absl::Milliseconds(500));
          return h.ok() && *h == 1;
        },
        kReadyTimeout);
    ASSERT_FALSE(exited) << "pdao-standalone exited during start:\n" << child_->LogTail();
    ASSERT_TRUE(ready) << "pdao-standalone not serving:\n" << child_->LogTail();
  }

  std::shared_ptr<grpc::Channel> Channel(const std::string& role) {
    auto channel = MakeMtlsChannel(Loopback(port_), certs() + "/ca.pem",
                                   certs() + "/" + role + ".crt", certs() + "/" + role + ".key");
    EXPECT_TRUE(channel.ok()) << channel.status();
    return *channel;
  }

  // A resource and an ACTIVE agreement of kOperator on it, through the public API
  // (tests/e2e/e2e_setup.h).
  void ActiveAgreement() {
    std::string agreement;
    grpc::Status s =
        ActivateTestAgreement([this](const std::string& role) { return Channel(role); }, kOperator,
                              absl::Now(), &resource_, &agreement);
    ASSERT_TRUE(s.ok()) << s.error_message();
  }

  // kClients operators' systems call Check in a closed loop, each call with its own action name
  // ("use-<n>"), until SIGKILL after `kill_after` allows. The action names of the allows received.
  std::set<std::string> CheckUnderLoad(int kill_after) {
    auto channel = Channel("operator");
    std::atomic<int> next{0};
    std::atomic<bool> killed{false};
    absl::Mutex mu;
    std::set<std::string> allowed;
    int denied = 0;
    std::vector<std::thread> clients;
    for (int c = 0; c < kClients; ++c) {
      clients.emplace_back([&] {
        auto stub = authz::AuthorizationService::NewStub(channel);
        while (!killed.load()) {
          authz::CheckRequest check;
          check.set_operator_org(kOperator);
          check.set_resource_id(resource_);
          check.set_action(absl::StrCat("use-", next++));
          authz::CheckResponse decision;
          auto context = Ctx();
          context->AddMetadata("x-pdao-person", kPerson);
          if (!stub->Check(context.get(), check, &decision).ok()) continue;
          absl::MutexLock lock(&mu);
          if (decision.decision() != authz::DECISION_ALLOW) {
            ++denied;
            continue;
          }
          allowed.insert(check.action());
          if (static_cast<int>(allowed.size()) >= kill_after && !killed.exchange(true)) {
            EXPECT_TRUE(child_->Signal(SIGKILL).ok());  // the other clients are mid-call
          }
        }
      });
    }
    for (std::thread& t : clients) t.join();
    EXPECT_EQ(denied, 0) << "denied while the store was healthy";
    absl::MutexLock lock(&mu);
    return allowed;
  }

  // access_decided ALLOW entries in the audit log per action name (as regulator); each must name
  // the person the caller asserted.
  std::map<std::string, int> LoggedAllows() {
    auto stub = aud::AuditService::NewStub(Channel("regulator"));
    std::map<std::string, int> count;
    aud::QueryRequest req;
    req.set_action("authorization.access.allowed");
    req.set_page_size(1000);
    do {
      aud::QueryResponse resp;
      if (!stub->Query(Ctx().get(), req, &resp).ok()) return {};
      for (const auto& e : resp.entries()) {
        pdao::events::v1::Envelope env;
        if (env.ParseFromString(e.envelope()) && env.has_access_decided() &&
            env.access_decided().decision() == authz::DECISION_ALLOW) {
          count[env.access_decided().action()]++;
          EXPECT_EQ(env.actor().person(), kPerson) << env.access_decided().action();
          EXPECT_EQ(env.actor().org(), kOperator);
        }
      }
      req.set_page_token(resp.next_page_token());
    } while (!req.page_token().empty());
    return count;
  }

  std::unique_ptr<TempDir> dir_;
  std::unique_ptr<ChildProcess> child_;
  std::string resource_;
  int port_ = 0, health_ = 0, starts_ = 0;
};

TEST_F(CheckCrashTest, EveryAllowAClientReceivedIsInTheAuditLogAfterKillNine) {
  const int kill_after = EnvInt("PDAO_CHECK_CRASH_ALLOWS", 300);
  ASSERT_NO_FATAL_FAILURE(Start());
  ASSERT_NO_FATAL_FAILURE(ActiveAgreement());
  {  // the person header is checked: given twice, the call is refused and nothing is decided
    auto stub = authz::AuthorizationService::NewStub(Channel("operator"));
    authz::CheckRequest check;
    check.set_operator_org(kOperator);
    check.set_resource_id(resource_);
    check.set_action("refused");
    authz::CheckResponse decision;
    auto context = Ctx();
    context->AddMetadata("x-pdao-person", "a");
    context->AddMetadata("x-pdao-person", "b");
    EXPECT_EQ(stub->Check(context.get(), check, &decision).error_code(),
              grpc::StatusCode::INVALID_ARGUMENT);
  }
  const std::set<std::string> allowed = CheckUnderLoad(kill_after);
  ASSERT_TRUE(child_->WaitForExit(absl::Seconds(10)).ok());
  ASSERT_GE(static_cast<int>(allowed.size()), kill_after);
  ASSERT_NO_FATAL_FAILURE(Start());

  std::map<std::string, int> logged;
  int missing = 0;
  PollUntil(
      [&] {
        logged = LoggedAllows();
        missing = 0;
        for (const std::string& action : allowed) missing += logged.count(action) == 0 ? 1 : 0;
        return missing == 0;
      },
      kIngestTimeout);
  std::cerr << "allows received " << allowed.size() << ", allow records in the log "
            << logged.size() << " (records of answers lost in flight may exceed the received)\n";
  EXPECT_EQ(missing, 0) << "of " << allowed.size() << " allows received have no audit entry";
  for (const std::string& action : allowed) {
    EXPECT_LE(logged[action], 1) << action << " logged more than once";
  }
}

}  // namespace
}  // namespace pdao::e2e

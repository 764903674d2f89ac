// The revocation cascade over the real Kafka broker, end to end (issue 10 "Cascade latency", issue
// 11 "Hot path": agreement revoked at authorization → CheckUsage denies, p99 goal ≤ 1 s).
//
// Four module hosts in this process (App, the binaries' exact wiring), each its own gRPC+mTLS
// server, all on one real Redis server (common/testing/redis) and one real KRaft broker
// (common/testing/kafka/kafka_environment.h; holds the ctest resource lock "kafka"):
//   core          registry + authorization (pdao-standalone's embedded shape, its dev CA), where
//                 the agency revokes;
//   replica       a second pdao-authorization on the same store, fed by Kafka (its own consumer
//                 group on pdao.authorization.v1, AuthorizationCore::HandleOwnEvent);
//   compliance    pdao-compliance, asking the core over gRPC for facts and consuming
//                 pdao.authorization.v1 and pdao.registry.v1 in its consumer group.
// Each run: a resource, an operator's ACTIVE agreement and its CODED product at the core
// (tests/integration/testing/coded_product.h), then over gRPC a business entity's scenario through
// the operator to approval, a grant, CheckUsage ALLOW at compliance and Check ALLOW on the replica
// (polled: the replica learns the new agreement over Kafka). Then the agency revokes the agreement
// over gRPC; from the revocation's acknowledgement, CheckUsage at compliance and Check on the
// replica are each polled (every kPollPace) until they deny. The latency of each is the time from
// the acknowledgement to the first denying answer.
//
// Asserted: every cascade completes (both deny within kCascadeBound) with the reasons that name
// the cause. Not asserted: the p99 itself (the machine is shared; the figure and its goal are in
// docs/benchmarks.md, "Cascade latency"). Printed: p50/p90/p99/max of both, and the part that is
// the event reaching Kafka (a consumer group of the test's own on pdao.authorization.v1).
//
// Short form (CI): 20 runs, about 20 s with the broker's start (a minute on a loaded machine).
// Longer: PDAO_CASCADE_RUNS=<20..1000>.
#include <grpcpp/grpcpp.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "common/app/proto_time.h"
#include "common/app/service_main.h"
#include "common/bus/kafka_bus.h"
#include "common/crypto/dev_ca.h"
#include "common/rpc/channel.h"
#include "common/testing/fake_clock.h"
#include "common/testing/kafka/kafka_environment.h"
#include "common/testing/redis/redis_server.h"
#include "common/testing/tls_dir.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "pdao/authorization/v1/authorization.grpc.pb.h"
#include "pdao/compliance/v1/compliance.grpc.pb.h"
#include "pdao/events/v1/envelope.pb.h"
#include "services/authorization/authorization_module.h"
#include "services/compliance/compliance_module.h"
#include "services/compliance/testing/scenario_fixture.h"
#include "services/registry/registry_module.h"
#include "tests/integration/testing/coded_product.h"

namespace pdao::e2e {
namespace {

using ::testing::AnyOf;
using ::testing::HasSubstr;
namespace av1 = ::pdao::authorization::v1;
namespace cv1 = ::pdao::compliance::v1;

const pdao::testing::KafkaEnvironment* const kKafka = pdao::testing::KafkaEnvironment::Register(
    {"pdao.registry.v1", "pdao.authorization.v1", "pdao.compliance.v1"});

constexpr int kDefaultRuns = 20;
constexpr int kMinRuns = 20;
constexpr int kMaxRuns = 1000;
// A cascade not complete within this is a failure (generous: no figure is asserted).
constexpr absl::Duration kCascadeBound = absl::Seconds(30);
// The first runs wait for the consumer groups' first assignment on a fresh broker.
constexpr absl::Duration kWarmUpBound = absl::Seconds(60);
// Between two polls of the same check: the resolution of the figures.
constexpr absl::Duration kPollPace = absl::Milliseconds(5);
constexpr absl::Duration kRpcDeadline = absl::Seconds(10);
const std::string kBiz = "cascade-biz";
const std::string kAgency = "cc-info-center";

std::optional<int> RunsFromEnv() {
  const char* v = std::getenv("PDAO_CASCADE_RUNS");
  if (v == nullptr || *v == '\0') return kDefaultRuns;
  int n = 0;
  if (!absl::SimpleAtoi(v, &n) || n < kMinRuns || n > kMaxRuns) return std::nullopt;
  return n;
}

// Nearest-rank percentile of sorted `v` (p in (0, 100]).
absl::Duration Percentile(const std::vector<absl::Duration>& sorted, double p) {
  size_t rank = static_cast<size_t>(std::ceil(p / 100.0 * static_cast<double>(sorted.size())));
  rank = std::clamp<size_t>(rank, 1, sorted.size());
  return sorted[rank - 1];
}

std::string Describe(std::vector<absl::Duration> v) {
  if (v.empty()) return "none";
  std::sort(v.begin(), v.end());
  auto ms = [](absl::Duration d) {
    return absl::StrFormat("%.1f ms", absl::ToDoubleMilliseconds(d));
  };
  return absl::StrCat("p50 ", ms(Percentile(v, 50)), ", p90 ", ms(Percentile(v, 90)), ", p99 ",
                      ms(Percentile(v, 99)), ", max ", ms(v.back()), ", min ", ms(v.front()), " (",
                      v.size(), ")");
}

// When the test's own consumer group first saw each agreement's REVOKED event on Kafka.
class RevocationWatch {
 public:
  MessageHandler Recorder() {
    return [this](const BusMessage& m) -> absl::Status {
      const absl::Time at = absl::Now();
      pdao::events::v1::Envelope e;
      if (!e.ParseFromString(m.payload) || !e.has_agreement_changed() ||
          e.agreement_changed().to_state() != av1::AGREEMENT_STATE_REVOKED) {
        return absl::OkStatus();
      }
      absl::MutexLock lock(&mu_);
      // Bounded by the runs (one revocation each).
      seen_.emplace(e.agreement_changed().agreement().id(), at);
      return absl::OkStatus();
    };
  }
  std::optional<absl::Time> FirstSeen(const std::string& agreement_id) const {
    absl::MutexLock lock(&mu_);
    auto it = seen_.find(agreement_id);
    if (it == seen_.end()) return std::nullopt;
    return it->second;
  }

 private:
  mutable absl::Mutex mu_;
  std::map<std::string, absl::Time> seen_ ABSL_GUARDED_BY(mu_);
};

class CascadeLatencyE2eTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_NE(kKafka->broker(), nullptr);
    auto r = pdao::testing::RedisServer::Start();
    ASSERT_TRUE(r.ok()) << r.status();
    redis_ = std::move(*r);
    dir_ = absl::StrCat(::testing::TempDir(), "/cascade-e2e-", getpid(), "-",
                        absl::ToUnixNanos(absl::Now()));
    std::filesystem::create_directories(dir_ + "/core");
    // The core's dev CA, made first so that the separate hosts' tls dirs come from it.
    crypto::DevCaOptions o;
    o.now = absl::Now();
    auto ca = crypto::EnsureDevCa(dir_ + "/core/certs", o);
    ASSERT_TRUE(ca.ok()) << ca.status();
    ca_ = *ca;
    auto ca_pem = crypto::ReadFile(ca_.ca_cert_path);
    auto ca_key = crypto::ReadFile(ca_.ca_key_path);
    ASSERT_TRUE(ca_pem.ok() && ca_key.ok());
    ca_pem_ = *ca_pem;
    auto authority = crypto::CertificateAuthority::FromPem(*ca_pem, *ca_key);
    ASSERT_TRUE(authority.ok()) << authority.status();
    authority_ = std::make_unique<crypto::CertificateAuthority>(std::move(*authority));

    core_ = StartApp(
        "core",
        {registry::RegistryModule::Factory(), authorization::AuthorizationModule::Factory()},
        /*embedded=*/true, {});
    ASSERT_NE(core_, nullptr);
    const std::string core_target = absl::StrCat("127.0.0.1:", core_->host().port());
    replica_ = StartApp("authorization", {authorization::AuthorizationModule::Factory()}, false,
                        {"--registry-target=" + core_target, "--registry-tls-name=localhost"});
    ASSERT_NE(replica_, nullptr);
    compliance_ =
        StartApp("compliance", {compliance::ComplianceModule::Factory()}, false,
                 {"--authorization-target=" + core_target, "--authorization-tls-name=localhost",
                  "--registry-target=" + core_target, "--registry-tls-name=localhost",
                  // Only samples append to audit; none here.
                  "--audit-target=127.0.0.1:1", "--audit-tls-name=localhost"});
    ASSERT_NE(compliance_, nullptr);

    KafkaBusOptions probe;
    probe.bootstrap_servers = kKafka->broker()->bootstrap();
    probe.client_id = "cascade-probe";
    probe.session_timeout = absl::Seconds(6);
    probe.heartbeat_interval = absl::Milliseconds(500);
    auto bus = KafkaBus::Create(probe);
    ASSERT_TRUE(bus.ok()) << bus.status();
    probe_bus_ = std::move(*bus);
    auto sub = probe_bus_->Subscribe(absl::StrCat("cascade-probe-", absl::ToUnixNanos(absl::Now())),
                                     {"pdao.authorization.v1"}, watch_.Recorder());
    ASSERT_TRUE(sub.ok()) << sub.status();
    probe_ = std::move(*sub);
  }

  void TearDown() override {
    probe_.reset();
    probe_bus_.reset();
    for (auto it = apps_.rbegin(); it != apps_.rend(); ++it) (*it)->Shutdown();
    apps_.clear();
    redis_.reset();
    std::filesystem::remove_all(dir_);
  }

  // A module host on the shared Redis and Kafka. Embedded: the core's dev CA in its data dir;
  // otherwise its own --tls-dir from that CA (service `name`).
  App* StartApp(const std::string& name, std::vector<ModuleFactory> modules, bool embedded,
                std::vector<std::string> args) {
    args.push_back("--listen=127.0.0.1:0");
    args.push_back(absl::StrCat("--data-dir=", dir_, "/", name));
    args.push_back(absl::StrCat("--redis=", redis_->host(), ":", redis_->port()));
    args.push_back("--kafka=" + kKafka->broker()->bootstrap());
    args.push_back("--kafka-session-timeout=6s");
    args.push_back("--drain-timeout=2s");
    // No audit service consumes here: the gate (rule 34) would close after its default 5 min.
    args.push_back("--audit-backlog-limit=24h");
    if (!embedded) {
      auto tls = pdao::testing::MakeServiceTlsDir(ca_, dir_, name);
      EXPECT_TRUE(tls.ok()) << tls.status();
      if (!tls.ok()) return nullptr;
      args.push_back("--tls-dir=" + *tls);
    }
    ServiceMain main{.program = "pdao-" + name,
                     .description = "cascade e2e",
                     .modules = std::move(modules),
                     .embedded = embedded};
    auto app = App::FromArgs(main, args, &clock_);
    EXPECT_TRUE(app.ok()) << app.status();
    if (!app.ok()) return nullptr;
    absl::Status started = (*app)->Start();
    EXPECT_TRUE(started.ok()) << started;
    if (!started.ok()) return nullptr;
    apps_.push_back(std::move(*app));
    return apps_.back().get();
  }

  template <typename Service>
  std::unique_ptr<typename Service::Stub> Stub(App* app, const std::string& spiffe_id) {
    auto cert = authority_->IssueClientCert(
        spiffe_id, crypto::Validity::Starting(absl::Now(), absl::Hours(2)));
    EXPECT_TRUE(cert.ok()) << cert.status();
    return Service::NewStub(MakeMtlsChannelFromPem(absl::StrCat("127.0.0.1:", app->host().port()),
                                                   ca_pem_, cert->cert_pem, cert->key_pem));
  }
  template <typename Service>
  std::unique_ptr<typename Service::Stub> OrgStub(App* app, const std::string& org,
                                                  const std::string& role) {
    return Stub<Service>(app, absl::StrCat("spiffe://pdao/org/", org, "/role/", role));
  }

  // An approved scenario of kBiz under `p` through operator `ops_org`, and its grant; returns the
  // scenario id.
  void ApprovedScenarioWithGrant(const integration_testing::CodedProduct& p,
                                 const std::string& ops_org, const std::string& tag,
                                 std::string* scenario_id) {
    auto biz = OrgStub<cv1::ComplianceService>(compliance_, kBiz, "business_entity");
    auto ops = OrgStub<cv1::ComplianceService>(compliance_, ops_org, "operator");
    auto agency = OrgStub<cv1::ComplianceService>(compliance_, kAgency, "implementing_agency");
    auto call = [](auto& stub, auto method, const auto& req, auto* resp) {
      grpc::ClientContext ctx;
      WithDeadline(ctx, kRpcDeadline);
      return ((*stub).*method)(&ctx, req, resp);
    };
    using S = cv1::ComplianceService::Stub;

    cv1::ScenarioContent c = compliance::testing::FullContent();
    c.clear_resources();
    auto* r = c.add_resources();
    r->set_resource_id(p.resource);
    r->add_fields("line");
    r->add_fields("position");
    c.clear_product_ids();
    c.add_product_ids(p.product);
    c.mutable_personal_information()->Clear();
    c.mutable_personal_information()->set_handling(cv1::PERSONAL_INFO_HANDLING_NOT_INVOLVED);
    *c.mutable_term_start() = ToProtoTime(clock_.Now() + absl::Hours(24));
    *c.mutable_term_end() = ToProtoTime(clock_.Now() + absl::Hours(24 * 365));

    cv1::DraftScenarioRequest draft;
    draft.set_request_id("draft-" + tag);
    draft.set_applicant_credit_code(compliance::testing::CreditCode("91220101MA0Y00001"));
    draft.set_operator_org(ops_org);
    *draft.mutable_content() = c;
    cv1::DraftScenarioResponse dr;
    grpc::Status st = call(biz, &S::DraftScenario, draft, &dr);
    ASSERT_TRUE(st.ok()) << st.error_message();
    const std::string id = dr.scenario().scenario_id();
    cv1::SubmitScenarioRequest submit;
    submit.set_request_id("submit-" + tag);
    submit.set_scenario_id(id);
    submit.set_version_number(1);
    cv1::SubmitScenarioResponse sr;
    st = call(biz, &S::SubmitScenario, submit, &sr);
    ASSERT_TRUE(st.ok()) << st.error_message();
    cv1::EndorseScenarioRequest endorse;
    endorse.set_request_id("endorse-" + tag);
    endorse.set_scenario_id(id);
    endorse.set_version_number(1);
    cv1::EndorseScenarioResponse er;
    st = call(ops, &S::EndorseScenario, endorse, &er);
    ASSERT_TRUE(st.ok()) << st.error_message();
    cv1::StartAssessmentRequest start;
    start.set_scenario_id(id);
    start.set_version_number(1);
    cv1::StartAssessmentResponse str;
    st = call(agency, &S::StartAssessment, start, &str);
    ASSERT_TRUE(st.ok()) << st.error_message();
    cv1::AssessScenarioRequest assess;
    assess.set_scenario_id(id);
    assess.set_version_number(1);
    cv1::AssessScenarioResponse ar;
    st = call(agency, &S::AssessScenario, assess, &ar);
    ASSERT_TRUE(st.ok()) << st.error_message();
    ASSERT_TRUE(ar.scenario().assessment().passed()) << ar.scenario().DebugString();
    cv1::DecideScenarioRequest decide;
    decide.set_request_id("decide-" + tag);
    decide.set_scenario_id(id);
    decide.set_version_number(1);
    *decide.mutable_approve()->mutable_expires_at() =
        ToProtoTime(clock_.Now() + absl::Hours(24 * 300));
    cv1::DecideScenarioResponse decr;
    st = call(agency, &S::DecideScenario, decide, &decr);
    ASSERT_TRUE(st.ok()) << st.error_message();
    ASSERT_EQ(decr.scenario().state(), cv1::SCENARIO_STATE_APPROVED);
    cv1::CreateGrantRequest grant;
    grant.set_request_id("grant-" + tag);
    grant.set_product_id(p.product);
    grant.set_scenario_id(id);
    grant.set_consumer_org(kBiz);
    cv1::CreateGrantResponse grr;
    st = call(ops, &S::CreateGrant, grant, &grr);
    ASSERT_TRUE(st.ok()) << st.error_message();
    *scenario_id = id;
  }

  FakeClock clock_;
  std::unique_ptr<pdao::testing::RedisServer> redis_;
  std::string dir_;
  crypto::DevCa ca_;
  std::string ca_pem_;
  std::unique_ptr<crypto::CertificateAuthority> authority_;
  std::vector<std::unique_ptr<App>> apps_;
  App* core_ = nullptr;
  App* replica_ = nullptr;
  App* compliance_ = nullptr;
  std::unique_ptr<KafkaBus> probe_bus_;
  RevocationWatch watch_;
  std::unique_ptr<Subscription> probe_;
};

TEST_F(CascadeLatencyE2eTest, RevocationDeniesCheckUsageAndTheReplicasCheckOverKafka) {
  const std::optional<int> runs = RunsFromEnv();
  ASSERT_TRUE(runs.has_value()) << "PDAO_CASCADE_RUNS must be " << kMinRuns << ".." << kMaxRuns;
  const absl::Time test_start = absl::Now();
  const std::string nonce = absl::StrCat(absl::ToUnixMicros(absl::Now()));
  auto agency = OrgStub<av1::AuthorizationService>(core_, kAgency, "implementing_agency");
  auto replica = Stub<av1::AuthorizationService>(replica_, "spiffe://pdao/service/registry");
  auto replica_check = [&](const std::string& org, const std::string& resource,
                           av1::CheckResponse* resp) {
    av1::CheckRequest req;
    req.set_operator_org(org);
    req.set_resource_id(resource);
    req.set_action("process");
    grpc::ClientContext ctx;
    WithDeadline(ctx, kRpcDeadline);
    return replica->Check(&ctx, req, resp);
  };

  std::vector<absl::Duration> usage_denied;    // revocation ack → CheckUsage denies
  std::vector<absl::Duration> replica_denied;  // revocation ack → the replica's Check denies
  std::vector<absl::Duration> on_kafka;        // revocation ack → the probe sees the event
  std::vector<std::string> failures;
  const absl::Time base = clock_.Now();
  for (int i = 0; i < *runs; ++i) {
    SCOPED_TRACE(absl::StrCat("run ", i));
    // Every run from the same date: coding a product waits out a publicity of 10 working days
    // (the helper advances 20 days), which a public holiday later in the year would outlast.
    clock_.Set(base);
    const std::string tag = absl::StrFormat("%s-%04d", nonce, i);
    const std::string ops_org = "cascade-ops-" + tag;
    integration_testing::CodedProduct p;
    ASSERT_NO_FATAL_FAILURE(integration_testing::SetUpCodedProduct(
        core_->module<registry::RegistryModule>("registry")->core(),
        core_->module<authorization::AuthorizationModule>("authorization")->core(), clock_, ops_org,
        &p));
    std::string scenario;
    ASSERT_NO_FATAL_FAILURE(ApprovedScenarioWithGrant(p, ops_org, tag, &scenario));

    auto ops = OrgStub<cv1::ComplianceService>(compliance_, ops_org, "operator");
    cv1::CheckUsageRequest use;
    use.set_product_id(p.product);
    use.set_scenario_id(scenario);
    use.set_consumer_org(kBiz);
    use.set_operator_org(ops_org);
    use.set_units(1);
    use.set_unit_kind(cv1::UNIT_KIND_CALL);
    *use.mutable_at() = ToProtoTime(clock_.Now() + absl::Hours(48));
    auto check_usage = [&](cv1::CheckUsageResponse* resp) {
      grpc::ClientContext ctx;
      WithDeadline(ctx, kRpcDeadline);
      return ops->CheckUsage(&ctx, use, resp);
    };
    cv1::CheckUsageResponse ur;
    grpc::Status st = check_usage(&ur);
    ASSERT_TRUE(st.ok()) << st.error_message();
    ASSERT_EQ(ur.decision(), cv1::USAGE_DECISION_ALLOW) << ur.reason();
    // The replica learns the new agreement over Kafka: allowed there before the revocation.
    av1::CheckResponse cr;
    const absl::Time allow_deadline = absl::Now() + (i == 0 ? kWarmUpBound : kCascadeBound);
    while (true) {
      st = replica_check(ops_org, p.resource, &cr);
      ASSERT_TRUE(st.ok()) << st.error_message();
      if (cr.decision() == av1::DECISION_ALLOW) break;
      ASSERT_LT(absl::Now(), allow_deadline) << "the replica never allowed: " << cr.reason();
      absl::SleepFor(absl::Milliseconds(20));  // polling with a deadline
    }

    av1::RevokeAgreementRequest rv;
    rv.set_request_id("revoke-" + tag);
    rv.set_agreement_id(p.agreement);
    rv.set_reason("breach of the security measures");
    av1::RevokeAgreementResponse rvr;
    {
      grpc::ClientContext ctx;
      WithDeadline(ctx, kRpcDeadline);
      st = agency->RevokeAgreement(&ctx, rv, &rvr);
    }
    const absl::Time acked = absl::Now();
    ASSERT_TRUE(st.ok()) << st.error_message();

    std::optional<absl::Time> usage_at, replica_at;
    const absl::Time deadline = acked + (i == 0 ? kWarmUpBound : kCascadeBound);
    while ((!usage_at.has_value() || !replica_at.has_value()) && absl::Now() < deadline) {
      if (!usage_at.has_value()) {
        st = check_usage(&ur);
        const absl::Time at = absl::Now();
        ASSERT_TRUE(st.ok()) << st.error_message();
        if (ur.decision() == cv1::USAGE_DECISION_DENY) {
          usage_at = at;
          // The scenario suspended, or its suspension committing (the index's fence).
          EXPECT_THAT(ur.reason(), AnyOf(HasSubstr("SUSPENDED"), HasSubstr("being changed")));
        }
      }
      if (!replica_at.has_value()) {
        st = replica_check(ops_org, p.resource, &cr);
        const absl::Time at = absl::Now();
        ASSERT_TRUE(st.ok()) << st.error_message();
        if (cr.decision() == av1::DECISION_DENY) {
          replica_at = at;
          EXPECT_THAT(cr.reason(), HasSubstr("REVOKED")) << cr.reason();
        }
      }
      absl::SleepFor(kPollPace);  // polling with a deadline
    }
    if (!usage_at.has_value()) failures.push_back(tag + ": CheckUsage never denied");
    if (!replica_at.has_value()) failures.push_back(tag + ": the replica's Check never denied");
    // The first run includes the consumer groups' first assignment: not a steady-state figure.
    if (i == 0) continue;
    if (usage_at.has_value()) usage_denied.push_back(*usage_at - acked);
    if (replica_at.has_value()) replica_denied.push_back(*replica_at - acked);
    if (auto seen = watch_.FirstSeen(p.agreement); seen.has_value()) {
      on_kafka.push_back(std::max(absl::ZeroDuration(), *seen - acked));
    }
  }
  std::cout << "cascade over Kafka (" << *runs << " revocations, the first a warm-up not counted; "
            << "poll every " << absl::FormatDuration(kPollPace) << "):"
            << "\n  revocation ack -> CheckUsage denies at compliance: " << Describe(usage_denied)
            << "\n  revocation ack -> Check denies on the second authorization replica: "
            << Describe(replica_denied)
            << "\n  breakdown: revocation ack -> event seen on Kafka by the test's own group: "
            << Describe(on_kafka) << "\n  total test time "
            << absl::FormatDuration(absl::Now() - test_start) << "\n";
  EXPECT_THAT(failures, ::testing::IsEmpty()) << absl::StrJoin(failures, "\n");
}

}  // namespace
}  // namespace pdao::e2e

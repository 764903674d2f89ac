// End to end: the real `pdao-registry` binary as a child process, on a real redis-server and a
// real Kafka broker, driven over mTLS with the generated stub and dev-CA role certificates.
//
// Kafka: one broker for the whole binary (a global Environment; the JVM takes seconds).
// Redis: a fresh server per test. Every test's request ids carry a per-test nonce, so the
// aggregate ids it creates are its own even though all tests share the topic pdao.registry.v1.
#include <signal.h>
#include <sys/wait.h>

#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "common/bus/kafka_bus.h"
#include "common/crypto/dev_ca.h"
#include "common/rpc/channel.h"
#include "common/testing/kafka/kafka_environment.h"
#include "common/testing/redis/redis_server.h"
#include "common/testing/tls_dir.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "pdao/events/v1/envelope.pb.h"
#include "pdao/registry/v1/registry.grpc.pb.h"
#include "tests/e2e/e2e_util.h"

namespace pdao::e2e {
namespace {

namespace v1 = ::pdao::registry::v1;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

constexpr char kTopic[] = "pdao.registry.v1";
constexpr absl::Duration kReadyTimeout = absl::Seconds(20);
constexpr absl::Duration kCallTimeout = absl::Seconds(10);
constexpr absl::Duration kEventTimeout = absl::Seconds(60);

// --- One Kafka broker per binary ----------------------------------------------------------------

const pdao::testing::KafkaEnvironment* const kKafka =
    pdao::testing::KafkaEnvironment::Register({kTopic});

// --- Helpers
// --------------------------------------------------------------------------------------

std::unique_ptr<grpc::ClientContext> Ctx() {
  auto context = std::make_unique<grpc::ClientContext>();
  WithDeadline(*context, kCallTimeout);
  return context;
}

v1::Field MakeField(const std::string& name, v1::Grade grade) {
  v1::Field f;
  f.set_name(name);
  f.set_data_type("string");
  f.set_grade(grade);
  f.set_personal_info_kind(v1::PERSONAL_INFO_KIND_NONE);
  return f;
}

v1::ResourceSpec BusArrivals() {
  v1::ResourceSpec spec;
  spec.set_name("Bus arrivals");
  spec.set_description("Real-time arrival predictions per stop");
  *spec.add_fields() = MakeField("stop_id", v1::GRADE_GENERAL);
  *spec.add_fields() = MakeField("vehicle_plate", v1::GRADE_IMPORTANT);
  spec.set_update_frequency("realtime");
  spec.set_volume_records(2500000);
  spec.set_source(v1::RESOURCE_SOURCE_OWN);
  spec.mutable_open_attribute()->set_openness(v1::OPENNESS_CONDITIONAL);
  spec.mutable_open_attribute()->set_conditions("transport apps and research");
  spec.mutable_share_attribute()->set_openness(v1::OPENNESS_UNCONDITIONAL);
  return spec;
}

constexpr char kSha[] = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";

// The envelopes seen on the topic, by aggregate id, in arrival order.
class EventLog {
 public:
  MessageHandler Recorder() {
    return [this](const BusMessage& m) -> absl::Status {
      pdao::events::v1::Envelope e;
      if (!e.ParseFromString(m.payload)) {
        return absl::DataLossError("payload is not a pdao.events.v1.Envelope");
      }
      absl::MutexLock lock(&mu_);
      if (seen_.insert(e.event_id()).second) by_aggregate_[e.aggregate().id()].push_back(e);
      keys_[e.aggregate().id()] = m.key;
      return absl::OkStatus();
    };
  }
  std::vector<pdao::events::v1::Envelope> For(const std::string& aggregate_id) const {
    absl::MutexLock lock(&mu_);
    auto it = by_aggregate_.find(aggregate_id);
    return it == by_aggregate_.end() ? std::vector<pdao::events::v1::Envelope>{} : it->second;
  }
  std::string KeyOf(const std::string& aggregate_id) const {
    absl::MutexLock lock(&mu_);
    auto it = keys_.find(aggregate_id);
    return it == keys_.end() ? "" : it->second;
  }
  std::vector<std::string> Actions(const std::string& aggregate_id) const {
    std::vector<std::string> out;
    for (const auto& e : For(aggregate_id)) out.push_back(e.action());
    return out;
  }

 private:
  mutable absl::Mutex mu_;
  std::set<std::string> seen_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, std::vector<pdao::events::v1::Envelope>> by_aggregate_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, std::string> keys_ ABSL_GUARDED_BY(mu_);
};

// --- Fixture ------------------------------------------------------------------------------------

class RegistryE2eTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_NE(kKafka->broker(), nullptr) << "the Kafka broker did not start";
    auto dir = TempDir::Create("pdao-registry-e2e");
    ASSERT_TRUE(dir.ok()) << dir.status();
    dir_ = std::move(*dir);
    auto redis = pdao::testing::RedisServer::Start();
    ASSERT_TRUE(redis.ok()) << redis.status();
    redis_ = std::move(*redis);
    crypto::DevCaOptions ca_options;
    ca_options.now = absl::Now();
    auto ca = crypto::EnsureDevCa(certs_dir(), ca_options);
    ASSERT_TRUE(ca.ok()) << ca.status();
    // The registry's own --tls-dir: server and client certificate (it calls authorization).
    auto tls = pdao::testing::MakeServiceTlsDir(*ca, dir_->path(), "registry");
    ASSERT_TRUE(tls.ok()) << tls.status();
    tls_dir_ = *tls;
    nonce_ = absl::StrCat("t", absl::ToUnixMicros(absl::Now()));
    ASSERT_NO_FATAL_FAILURE(StartRegistry());
  }

  void TearDown() override {
    if (registry_ != nullptr) {
      if (HasFailure()) std::cerr << "pdao-registry log tail:\n" << registry_->LogTail() << "\n";
      registry_->Kill();
      registry_.reset();
    }
    redis_.reset();
    dir_.reset();
  }

  std::string certs_dir() const { return dir_->path() + "/certs"; }
  std::string tls_dir_;

  // Starts pdao-registry on fresh loopback ports and waits until its plaintext health port
  // answers SERVING (on new ports when one was taken before the registry bound it).
  void StartRegistry() {
    const absl::Time start = absl::Now();
    std::vector<int> ports;
    auto child = StartServerOnFreePorts(
        3,
        [&](const std::vector<int>& p) -> std::vector<std::string> {
          return {PDAO_REGISTRY_BIN,
                  "--listen=" + Loopback(p[0]),
                  "--health-listen=" + Loopback(p[1]),
                  "--metrics-listen=" + Loopback(p[2]),
                  "--tls-dir=" + tls_dir_,
                  "--data-dir=" + dir_->path(),
                  absl::StrCat("--redis=", redis_->host(), ":", redis_->port()),
                  "--kafka=" + kKafka->broker()->bootstrap(),
                  "--drain-timeout=2s"};
        },
        dir_->path() + "/registry.log",
        [&](const std::vector<int>& p) {
          absl::StatusOr<int> h = HealthCheck(PlaintextChannel(p[1]), "", absl::Milliseconds(500));
          return h.ok() && *h == 1;
        },
        kReadyTimeout, &ports);
    ASSERT_TRUE(child.ok()) << child.status();
    registry_ = std::move(*child);
    port_ = ports[0];
    health_port_ = ports[1];
    metrics_port_ = ports[2];
    std::cerr << "pdao-registry serving in " << absl::FormatDuration(absl::Now() - start) << "\n";
    stubs_.clear();
  }

  // A stub that presents `role`'s dev-CA certificate (e.g. "department").
  v1::RegistryService::Stub& As(const std::string& role) {
    auto it = stubs_.find(role);
    if (it != stubs_.end()) return *it->second;
    auto channel =
        MakeMtlsChannel(Loopback(port_), certs_dir() + "/ca.pem", certs_dir() + "/" + role + ".crt",
                        certs_dir() + "/" + role + ".key");
    EXPECT_TRUE(channel.ok()) << channel.status();
    return *(stubs_[role] = v1::RegistryService::NewStub(*channel));
  }

  std::string Rid(const std::string& what) const { return absl::StrCat(nonce_, "-", what); }

  // Registers BusArrivals() as the department; the resource.
  v1::Resource RegisterResource(const std::string& request) {
    v1::RegisterResourceRequest req;
    req.set_request_id(Rid(request));
    *req.mutable_spec() = BusArrivals();
    v1::RegisterResourceResponse resp;
    grpc::Status s = As("department").RegisterResource(Ctx().get(), req, &resp);
    EXPECT_TRUE(s.ok()) << s.error_code() << " " << s.error_message();
    return resp.resource();
  }

  // Records evidence and submits a FIRST registration of `resource_id`; the registration.
  v1::Registration SubmitFirst(const std::string& resource_id, std::string* evidence_id) {
    v1::RecordEvidenceRequest ev;
    ev.set_request_id(Rid("evidence"));
    ev.set_content_sha256(kSha);
    v1::RecordEvidenceResponse ev_resp;
    grpc::Status s = As("department").RecordEvidence(Ctx().get(), ev, &ev_resp);
    EXPECT_TRUE(s.ok()) << s.error_message();
    *evidence_id = ev_resp.evidence().id();
    v1::SubmitRegistrationRequest req;
    req.set_request_id(Rid("submit"));
    req.set_type(v1::REGISTRATION_TYPE_FIRST);
    req.set_subject_kind(v1::SUBJECT_KIND_RESOURCE);
    req.set_subject_id(resource_id);
    req.set_evidence_id(*evidence_id);
    v1::SubmitRegistrationResponse resp;
    s = As("department").SubmitRegistration(Ctx().get(), req, &resp);
    EXPECT_TRUE(s.ok()) << s.error_code() << " " << s.error_message();
    return resp.registration();
  }

  grpc::Status Advance(const std::string& role, const std::string& registration_id,
                       v1::AdvanceAction action, v1::Registration* out) {
    v1::AdvanceRegistrationRequest req;
    req.set_request_id(Rid(absl::StrCat("advance-", v1::AdvanceAction_Name(action), "-", role)));
    req.set_registration_id(registration_id);
    req.set_action(action);
    v1::AdvanceRegistrationResponse resp;
    grpc::Status s = As(role).AdvanceRegistration(Ctx().get(), req, &resp);
    if (out != nullptr) *out = resp.registration();
    return s;
  }

  std::vector<std::string> ResourceIds() {
    v1::ListResourcesResponse resp;
    grpc::Status s = As("implementing_agency").ListResources(Ctx().get(), {}, &resp);
    EXPECT_TRUE(s.ok()) << s.error_message();
    std::vector<std::string> ids;
    for (const auto& r : resp.resources()) ids.push_back(r.id());
    return ids;
  }

  std::unique_ptr<KafkaBus> NewConsumerBus() {
    KafkaBusOptions o;
    o.bootstrap_servers = kKafka->broker()->bootstrap();
    o.client_id = "pdao-e2e";
    o.session_timeout = absl::Milliseconds(6000);
    o.heartbeat_interval = absl::Milliseconds(500);
    o.consumer_config = {{"fetch.wait.max.ms", "100"}};
    auto bus = KafkaBus::Create(o);
    EXPECT_TRUE(bus.ok()) << bus.status();
    return bus.ok() ? std::move(*bus) : nullptr;
  }

  std::unique_ptr<TempDir> dir_;
  std::unique_ptr<pdao::testing::RedisServer> redis_;
  std::unique_ptr<ChildProcess> registry_;
  std::map<std::string, std::unique_ptr<v1::RegistryService::Stub>> stubs_;
  std::string nonce_;
  int port_ = 0, health_port_ = 0, metrics_port_ = 0;
};

// --- The workflow over mTLS, and its events on Kafka ---------------------------------------------

TEST_F(RegistryE2eTest, RegistrationWorkflowOverMtlsPublishesEveryChangeToKafka) {
  // Join a fresh consumer group first, so the join overlaps with the calls.
  EventLog events;
  std::unique_ptr<KafkaBus> bus = NewConsumerBus();
  ASSERT_NE(bus, nullptr);
  auto sub = bus->Subscribe(Rid("group"), {kTopic}, events.Recorder());
  ASSERT_TRUE(sub.ok()) << sub.status();

  const v1::Resource resource = RegisterResource("resource");
  ASSERT_FALSE(resource.id().empty());
  EXPECT_EQ(resource.holder_org(), "demo-department");
  EXPECT_EQ(resource.grade(), v1::GRADE_IMPORTANT) << "rule 2: the highest field grade";
  EXPECT_EQ(resource.status(), v1::RESOURCE_STATUS_CATALOGED);

  std::string evidence_id;
  const v1::Registration submitted = SubmitFirst(resource.id(), &evidence_id);
  ASSERT_FALSE(submitted.id().empty());
  EXPECT_EQ(submitted.state(), v1::REGISTRATION_STATE_SUBMITTED);
  EXPECT_FALSE(submitted.accept_due().empty());

  v1::Registration r;
  grpc::Status s = Advance("implementing_agency", submitted.id(), v1::ADVANCE_ACTION_ACCEPT, &r);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(r.state(), v1::REGISTRATION_STATE_ACCEPTED);
  s = Advance("implementing_agency", submitted.id(), v1::ADVANCE_ACTION_PASS_REVIEW, &r);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(r.state(), v1::REGISTRATION_STATE_REVIEWED);
  s = Advance("implementing_agency", submitted.id(), v1::ADVANCE_ACTION_START_PUBLICITY, &r);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(r.state(), v1::REGISTRATION_STATE_PUBLICITY);
  EXPECT_FALSE(r.publicity_start().empty());
  EXPECT_FALSE(r.publicity_end().empty());
  const int64_t publicity_version = r.version();

  // The production binary has no clock control: publicity is not over, so no code (rule 6).
  s = Advance("implementing_agency", submitted.id(), v1::ADVANCE_ACTION_ISSUE_CODE, nullptr);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::FAILED_PRECONDITION) << s.error_message();
  EXPECT_THAT(s.error_message(), HasSubstr("rule 6"));

  // Publicity starts on the next working day: a real-name objection filed the day publicity is
  // decided is refused (issue 8: objections from publicity_start to publicity_end inclusive). The
  // production binary has no clock control; the objection lifecycle on the platform clock is in
  // RegistryCoreTest (UpheldObjectionEndsTheRegistration, ObjectionsOnlyFromPublicityStart).
  v1::FileObjectionRequest obj;
  obj.set_request_id(Rid("objection"));
  obj.set_registration_id(submitted.id());
  obj.set_objector_name("Li Wei");
  obj.set_contact("li.wei@example.org");
  obj.set_reason("the stop list includes stops we operate");
  obj.set_evidence_sha256(kSha);
  v1::FileObjectionResponse obj_resp;
  s = As("business_entity").FileObjection(Ctx().get(), obj, &obj_resp);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::FAILED_PRECONDITION) << s.error_message();
  EXPECT_THAT(s.error_message(), HasSubstr("publicity_start"));

  // The stored registration matches what the calls returned; the refusal wrote nothing.
  v1::GetRegistrationRequest get;
  get.set_registration_id(submitted.id());
  v1::GetRegistrationResponse got;
  s = As("department").GetRegistration(Ctx().get(), get, &got);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(got.registration().version(), publicity_version);
  EXPECT_EQ(got.registration().objections_size(), 0);

  // Every state change reached Kafka as an Envelope, in order per aggregate.
  const std::vector<std::string> want_registration = {
      "registry.registration.submitted", "registry.registration.accepted",
      "registry.registration.reviewed", "registry.registration.publicity_started"};
  const bool all = PollUntil(
      [&] {
        return events.For(resource.id()).size() >= 1 && events.For(evidence_id).size() >= 1 &&
               events.For(submitted.id()).size() >= want_registration.size();
      },
      kEventTimeout);
  ASSERT_TRUE(all) << "events seen: resource " << events.For(resource.id()).size() << ", evidence "
                   << events.For(evidence_id).size() << ", registration "
                   << events.For(submitted.id()).size() << "\nregistry log:\n"
                   << registry_->LogTail();

  EXPECT_THAT(events.Actions(resource.id()), ElementsAre("registry.resource.registered"));
  const auto res_events = events.For(resource.id());
  EXPECT_EQ(res_events[0].producer(), "registry");
  EXPECT_EQ(res_events[0].aggregate().type(), "registry.Resource");
  EXPECT_EQ(res_events[0].aggregate_version(), 1);
  EXPECT_EQ(res_events[0].actor().org(), "demo-department");
  EXPECT_EQ(res_events[0].actor().role(), pdao::common::v1::ROLE_DEPARTMENT);
  ASSERT_TRUE(res_events[0].has_resource_changed());
  EXPECT_EQ(res_events[0].resource_changed().resource().id(), resource.id());
  EXPECT_EQ(events.KeyOf(resource.id()), resource.id()) << "keyed by aggregate id";

  EXPECT_THAT(events.Actions(evidence_id), ElementsAre("registry.evidence.recorded"));

  const auto reg_events = events.For(submitted.id());
  EXPECT_EQ(events.Actions(submitted.id()), want_registration);
  int64_t last_version = 0;
  for (const auto& e : reg_events) {
    EXPECT_EQ(e.aggregate().type(), "registry.Registration");
    EXPECT_GT(e.aggregate_version(), last_version) << e.action() << " out of order";
    last_version = e.aggregate_version();
    EXPECT_FALSE(e.event_id().empty());
    ASSERT_TRUE(e.has_registration_changed()) << e.action();
    EXPECT_EQ(e.registration_changed().registration().id(), submitted.id());
  }
  EXPECT_EQ(reg_events[1].registration_changed().from_state(), v1::REGISTRATION_STATE_SUBMITTED);
  EXPECT_EQ(reg_events[1].registration_changed().registration().state(),
            v1::REGISTRATION_STATE_ACCEPTED);
  EXPECT_EQ(reg_events[1].actor().role(), pdao::common::v1::ROLE_IMPLEMENTING_AGENCY);
  EXPECT_EQ(last_version, publicity_version);
  // Registration events are keyed by their subject, so coding and the subject stay in order.
  EXPECT_EQ(events.KeyOf(submitted.id()), resource.id());
}

// --- Transport security ------------------------------------------------------------------------

TEST_F(RegistryE2eTest, RefusesClientsWithoutAValidCertificateFromTheCa) {
  const std::string ca_pem = crypto::ReadFile(certs_dir() + "/ca.pem").value_or("");
  const std::string ca_key = crypto::ReadFile(certs_dir() + "/ca.key").value_or("");
  ASSERT_FALSE(ca_pem.empty());
  const std::string spiffe = "spiffe://pdao/org/demo-department/role/department";

  auto call = [&](const std::string& cert, const std::string& key) {
    auto stub =
        v1::RegistryService::NewStub(MakeMtlsChannelFromPem(Loopback(port_), ca_pem, cert, key));
    v1::ListResourcesResponse resp;
    return stub->ListResources(Ctx().get(), {}, &resp);
  };

  // No client certificate at all.
  grpc::Status s = call("", "");
  EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAVAILABLE) << s.error_message();

  // A certificate for the same identity from another CA.
  auto other = crypto::CertificateAuthority::Create(
      "another CA", crypto::Validity::Starting(absl::Now(), absl::Hours(24)));
  ASSERT_TRUE(other.ok()) << other.status();
  auto foreign =
      other->IssueClientCert(spiffe, crypto::Validity::Starting(absl::Now(), absl::Hours(24)));
  ASSERT_TRUE(foreign.ok()) << foreign.status();
  s = call(foreign->cert_pem, foreign->key_pem);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAVAILABLE) << s.error_message();

  // A certificate from the right CA whose validity ended yesterday.
  auto ca = crypto::CertificateAuthority::FromPem(ca_pem, ca_key);
  ASSERT_TRUE(ca.ok()) << ca.status();
  auto expired = ca->IssueClientCert(
      spiffe, crypto::Validity{absl::Now() - absl::Hours(48), absl::Now() - absl::Hours(24)});
  ASSERT_TRUE(expired.ok()) << expired.status();
  s = call(expired->cert_pem, expired->key_pem);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAVAILABLE) << s.error_message();

  // The control: a fresh certificate from the right CA works.
  auto good = ca->IssueClientCert(spiffe, crypto::Validity::Starting(absl::Now(), absl::Hours(1)));
  ASSERT_TRUE(good.ok()) << good.status();
  s = call(good->cert_pem, good->key_pem);
  EXPECT_TRUE(s.ok()) << s.error_code() << " " << s.error_message();
}

TEST_F(RegistryE2eTest, RoleThatMayNotCallIsDeniedWritesNothingAndIsCounted) {
  const v1::Resource resource = RegisterResource("resource");
  std::string evidence_id;
  const v1::Registration submitted = SubmitFirst(resource.id(), &evidence_id);
  ASSERT_FALSE(submitted.id().empty());
  const std::vector<std::string> before = ResourceIds();
  ASSERT_EQ(before.size(), 1u);

  // An operator may not register a department's resource.
  v1::RegisterResourceRequest req;
  req.set_request_id(Rid("by-operator"));
  *req.mutable_spec() = BusArrivals();
  v1::RegisterResourceResponse resp;
  grpc::Status s = As("operator").RegisterResource(Ctx().get(), req, &resp);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::PERMISSION_DENIED) << s.error_message();
  EXPECT_EQ(ResourceIds(), before) << "a refused call writes nothing";

  // A business entity may not move a registration through its workflow.
  s = Advance("business_entity", submitted.id(), v1::ADVANCE_ACTION_ACCEPT, nullptr);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::PERMISSION_DENIED) << s.error_message();
  v1::GetRegistrationRequest get;
  get.set_registration_id(submitted.id());
  v1::GetRegistrationResponse got;
  s = As("implementing_agency").GetRegistration(Ctx().get(), get, &got);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(got.registration().state(), v1::REGISTRATION_STATE_SUBMITTED);
  EXPECT_EQ(got.registration().version(), submitted.version());

  // /metrics counts the refusals by code.
  absl::StatusOr<std::string> metrics = HttpGet(metrics_port_, "/metrics");
  ASSERT_TRUE(metrics.ok()) << metrics.status();
  bool denied_register = false, denied_advance = false;
  for (absl::string_view line : absl::StrSplit(*metrics, '\n')) {
    if (!absl::StartsWith(line, "pdao_grpc_server_handled_total{")) continue;
    if (!absl::StrContains(line, "code=\"PERMISSION_DENIED\"")) continue;
    if (absl::StrContains(line, "method=\"RegisterResource\"")) denied_register = true;
    if (absl::StrContains(line, "method=\"AdvanceRegistration\"")) denied_advance = true;
  }
  EXPECT_TRUE(denied_register && denied_advance) << *metrics;
}

TEST_F(RegistryE2eTest, BadInputGetsInvalidArgumentNamingTheRuleAndWritesNothing) {
  v1::RegisterResourceRequest req;
  req.set_request_id(Rid("ungraded"));
  *req.mutable_spec() = BusArrivals();
  req.mutable_spec()->mutable_fields(1)->set_grade(v1::GRADE_UNSPECIFIED);
  v1::RegisterResourceResponse resp;
  grpc::Status s = As("department").RegisterResource(Ctx().get(), req, &resp);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(s.error_message(), HasSubstr("rule 2"));
  EXPECT_THAT(s.error_message(), HasSubstr("vehicle_plate"));

  // Evidence that is not a SHA-256 (rule 7) and a registration of an unknown subject.
  v1::RecordEvidenceRequest ev;
  ev.set_request_id(Rid("bad-evidence"));
  ev.set_content_sha256("not-a-hash");
  v1::RecordEvidenceResponse ev_resp;
  s = As("department").RecordEvidence(Ctx().get(), ev, &ev_resp);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << s.error_message();

  v1::SubmitRegistrationRequest sub;
  sub.set_request_id(Rid("unknown-subject"));
  sub.set_type(v1::REGISTRATION_TYPE_FIRST);
  sub.set_subject_kind(v1::SUBJECT_KIND_RESOURCE);
  sub.set_subject_id("res-doesnotexist");
  v1::SubmitRegistrationResponse sub_resp;
  s = As("department").SubmitRegistration(Ctx().get(), sub, &sub_resp);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::NOT_FOUND) << s.error_message();

  EXPECT_TRUE(ResourceIds().empty()) << "a refused call writes nothing";
  v1::ListRegistrationsResponse regs;
  s = As("implementing_agency").ListRegistrations(Ctx().get(), {}, &regs);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(regs.registrations_size(), 0);
}

// --- Operations: health, durability ------------------------------------------------------------

TEST_F(RegistryE2eTest, PlaintextHealthPortAnswersServingWithoutACertificate) {
  auto channel = PlaintextChannel(health_port_);
  absl::StatusOr<int> overall = HealthCheck(channel);
  ASSERT_TRUE(overall.ok()) << overall.status();
  EXPECT_EQ(*overall, 1);  // SERVING
  absl::StatusOr<int> registry = HealthCheck(channel, v1::RegistryService::service_full_name());
  ASSERT_TRUE(registry.ok()) << registry.status();
  EXPECT_EQ(*registry, 1);
  // The health port serves nothing else: the registry API is not reachable in plaintext.
  auto stub = v1::RegistryService::NewStub(channel);
  v1::ListResourcesResponse resp;
  grpc::Status s = stub->ListResources(Ctx().get(), {}, &resp);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::UNIMPLEMENTED) << s.error_message();
  // And the API port does not speak plaintext.
  auto plain_api = v1::RegistryService::NewStub(PlaintextChannel(port_));
  s = plain_api->ListResources(Ctx().get(), {}, &resp);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAVAILABLE) << s.error_message();
}

TEST_F(RegistryE2eTest, SigtermExitsZeroAndStateSurvivesARestartOnTheSameRedis) {
  const v1::Resource resource = RegisterResource("resource");
  ASSERT_FALSE(resource.id().empty());
  std::string evidence_id;
  const v1::Registration submitted = SubmitFirst(resource.id(), &evidence_id);
  ASSERT_FALSE(submitted.id().empty());
  v1::Registration accepted;
  grpc::Status s =
      Advance("implementing_agency", submitted.id(), v1::ADVANCE_ACTION_ACCEPT, &accepted);
  ASSERT_TRUE(s.ok()) << s.error_message();

  const absl::Time stop_start = absl::Now();
  ASSERT_TRUE(registry_->Signal(SIGTERM).ok());
  absl::StatusOr<int> status = registry_->WaitForExit(absl::Seconds(30));
  ASSERT_TRUE(status.ok()) << status.status() << "\n" << registry_->LogTail();
  EXPECT_TRUE(WIFEXITED(*status)) << "wait status " << *status;
  EXPECT_EQ(WEXITSTATUS(*status), 0) << registry_->LogTail();
  std::cerr << "pdao-registry stopped in " << absl::FormatDuration(absl::Now() - stop_start)
            << "\n";

  ASSERT_NO_FATAL_FAILURE(StartRegistry());
  v1::GetResourceRequest get_res;
  get_res.set_resource_id(resource.id());
  v1::GetResourceResponse res;
  s = As("department").GetResource(Ctx().get(), get_res, &res);
  ASSERT_TRUE(s.ok()) << s.error_code() << " " << s.error_message();
  EXPECT_EQ(res.resource().spec().name(), "Bus arrivals");
  EXPECT_EQ(res.resource().version(), resource.version());

  v1::GetRegistrationRequest get_reg;
  get_reg.set_registration_id(submitted.id());
  v1::GetRegistrationResponse reg;
  s = As("department").GetRegistration(Ctx().get(), get_reg, &reg);
  ASSERT_TRUE(s.ok()) << s.error_code() << " " << s.error_message();
  EXPECT_EQ(reg.registration().state(), v1::REGISTRATION_STATE_ACCEPTED);
  EXPECT_EQ(reg.registration().version(), accepted.version());

  // A retried request (same request_id) after the restart is answered from the stored result.
  v1::RegisterResourceRequest again;
  again.set_request_id(Rid("resource"));
  *again.mutable_spec() = BusArrivals();
  v1::RegisterResourceResponse again_resp;
  s = As("department").RegisterResource(Ctx().get(), again, &again_resp);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(again_resp.resource().id(), resource.id());
  EXPECT_EQ(ResourceIds().size(), 1u);
}

}  // namespace
}  // namespace pdao::e2e

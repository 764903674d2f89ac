// End to end: the real `pdao-standalone` binary (embedded defaults: SQLite + in-process bus, a dev
// CA made on first start) as a child process, driven over mTLS with the generated stubs, with the
// real `pdaoctl` binary, and with `buf curl` through server reflection.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "common/crypto/dev_ca.h"
#include "common/rpc/channel.h"
#include "gmock/gmock.h"
#include "google/protobuf/util/time_util.h"
#include "gtest/gtest.h"
#include "pdao/dev/v1/dev_clock.grpc.pb.h"
#include "pdao/registry/v1/registry.grpc.pb.h"
#include "tests/e2e/e2e_util.h"

namespace pdao::e2e {
namespace {

namespace v1 = ::pdao::registry::v1;
namespace dev = ::pdao::dev::v1;
using ::google::protobuf::util::TimeUtil;
using ::testing::HasSubstr;

constexpr absl::Duration kReadyTimeout = absl::Seconds(20);
constexpr absl::Duration kCallTimeout = absl::Seconds(10);
constexpr absl::Duration kCommandTimeout = absl::Seconds(30);
constexpr char kSha[] = "2c26b46b68ffc68ff99b453c1d30413413422d706483bfa0f98a5e886266e7ae";

// The seven credentialed roles whose certificates pdao-standalone creates (dev_ca.h).
constexpr const char* kRoles[] = {"data_bureau", "government", "implementing_agency",
                                  "department",  "operator",   "business_entity",
                                  "regulator"};

std::vector<std::string> RoleNames() { return {std::begin(kRoles), std::end(kRoles)}; }

std::unique_ptr<grpc::ClientContext> Ctx() {
  auto context = std::make_unique<grpc::ClientContext>();
  WithDeadline(*context, kCallTimeout);
  return context;
}

v1::ResourceSpec AirQuality() {
  v1::ResourceSpec spec;
  spec.set_name("Air quality readings");
  spec.set_description("Hourly PM2.5 and NO2 per monitoring station");
  for (const char* name : {"station_id", "pm25", "no2"}) {
    v1::Field* f = spec.add_fields();
    f->set_name(name);
    f->set_data_type("string");
    f->set_grade(v1::GRADE_GENERAL);
    f->set_personal_info_kind(v1::PERSONAL_INFO_KIND_NONE);
  }
  spec.set_update_frequency("hourly");
  spec.set_volume_records(880000);
  spec.set_source(v1::RESOURCE_SOURCE_OWN);
  spec.mutable_open_attribute()->set_openness(v1::OPENNESS_UNCONDITIONAL);
  spec.mutable_share_attribute()->set_openness(v1::OPENNESS_UNCONDITIONAL);
  return spec;
}

// buf from PATH, else ${PDAO_CACHE:-$HOME/.cache/pdao}/bin/buf (tools/setup/install-deps.sh).
std::string FindBuf() {
  const char* path = std::getenv("PATH");
  if (path != nullptr) {
    for (absl::string_view dir : absl::StrSplit(path, ':', absl::SkipEmpty())) {
      const std::string candidate = absl::StrCat(dir, "/buf");
      if (IsExecutable(candidate)) return candidate;
    }
  }
  const char* cache = std::getenv("PDAO_CACHE");
  const char* home = std::getenv("HOME");
  std::string dir = cache != nullptr && *cache != '\0'
                        ? std::string(cache)
                        : absl::StrCat(home != nullptr ? home : "", "/.cache/pdao");
  const std::string candidate = dir + "/bin/buf";
  return IsExecutable(candidate) ? candidate : "";
}

class StandaloneE2eTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto dir = TempDir::Create("pdao-standalone-e2e");
    ASSERT_TRUE(dir.ok()) << dir.status();
    dir_ = std::move(*dir);
    ASSERT_NO_FATAL_FAILURE(Start());
  }

  void TearDown() override {
    if (standalone_ != nullptr) {
      if (HasFailure())
        std::cerr << "pdao-standalone log tail:\n" << standalone_->LogTail() << "\n";
      standalone_->Kill();
      standalone_.reset();
    }
    dir_.reset();
  }

  std::string data_dir() const { return dir_->path() + "/data"; }
  std::string certs_dir() const { return data_dir() + "/certs"; }
  std::string target() const { return Loopback(port_); }

  bool AllCertFilesExist() const {
    if (!IsFile(certs_dir() + "/ca.pem")) return false;
    for (const std::string& role : RoleNames()) {
      if (!IsFile(certs_dir() + "/" + role + ".crt") ||
          !IsFile(certs_dir() + "/" + role + ".key")) {
        return false;
      }
    }
    return true;
  }

  static bool IsFile(const std::string& path) { return access(path.c_str(), R_OK) == 0; }

  // Starts pdao-standalone on fresh loopback ports and waits until it creates its certificates
  // and answers a grpc.health.v1 Check over mTLS (department certificate) with SERVING.
  void Start() {
    auto port = FreeLoopbackPort();
    auto metrics = FreeLoopbackPort();
    ASSERT_TRUE(port.ok() && metrics.ok());
    port_ = *port;
    metrics_port_ = *metrics;
    const std::vector<std::string> argv = {PDAO_STANDALONE_BIN,
                                           "--data-dir",
                                           data_dir(),
                                           "--listen",
                                           Loopback(port_),
                                           "--metrics-listen",
                                           Loopback(metrics_port_),
                                           "--dev-clock"};
    const absl::Time start = absl::Now();
    auto child = ChildProcess::Start(argv, dir_->path() + "/standalone.log");
    ASSERT_TRUE(child.ok()) << child.status();
    standalone_ = std::move(*child);
    bool exited = false;
    const bool ready = PollUntil(
        [&] {
          if (!standalone_->Running()) {
            exited = true;
            return true;
          }
          if (!AllCertFilesExist()) return false;
          // A new channel per attempt: a channel's reconnect backoff would add up to a second.
          auto channel =
              MakeMtlsChannel(target(), certs_dir() + "/ca.pem", certs_dir() + "/department.crt",
                              certs_dir() + "/department.key");
          if (!channel.ok()) return false;
          absl::StatusOr<int> h = HealthCheck(*channel, "", absl::Milliseconds(500));
          return h.ok() && *h == 1;
        },
        kReadyTimeout);
    ASSERT_FALSE(exited) << "pdao-standalone exited during start:\n" << standalone_->LogTail();
    ASSERT_TRUE(ready) << "pdao-standalone not serving within " << kReadyTimeout << ":\n"
                       << standalone_->LogTail();
    startup_ = absl::Now() - start;
    std::cerr << "pdao-standalone serving in " << absl::FormatDuration(startup_) << "\n";
    registry_stubs_.clear();
    clock_stubs_.clear();
  }

  std::shared_ptr<grpc::Channel> Channel(const std::string& role) {
    auto channel =
        MakeMtlsChannel(target(), certs_dir() + "/ca.pem", certs_dir() + "/" + role + ".crt",
                        certs_dir() + "/" + role + ".key");
    EXPECT_TRUE(channel.ok()) << channel.status();
    return channel.ok() ? *channel : nullptr;
  }

  v1::RegistryService::Stub& As(const std::string& role) {
    auto& stub = registry_stubs_[role];
    if (stub == nullptr) stub = v1::RegistryService::NewStub(Channel(role));
    return *stub;
  }

  dev::DevClockService::Stub& ClockAs(const std::string& role) {
    auto& stub = clock_stubs_[role];
    if (stub == nullptr) stub = dev::DevClockService::NewStub(Channel(role));
    return *stub;
  }

  v1::Resource RegisterResource(const std::string& request_id) {
    v1::RegisterResourceRequest req;
    req.set_request_id(request_id);
    *req.mutable_spec() = AirQuality();
    v1::RegisterResourceResponse resp;
    grpc::Status s = As("department").RegisterResource(Ctx().get(), req, &resp);
    EXPECT_TRUE(s.ok()) << s.error_code() << " " << s.error_message();
    return resp.resource();
  }

  grpc::Status Advance(const std::string& registration_id, v1::AdvanceAction action,
                       v1::Registration* out) {
    v1::AdvanceRegistrationRequest req;
    req.set_registration_id(registration_id);
    req.set_action(action);
    v1::AdvanceRegistrationResponse resp;
    grpc::Status s = As("implementing_agency").AdvanceRegistration(Ctx().get(), req, &resp);
    if (out != nullptr) *out = resp.registration();
    return s;
  }

  absl::StatusOr<CommandResult> Pdaoctl(const std::string& role,
                                        const std::vector<std::string>& rest) {
    std::vector<std::string> argv = {PDAO_PDAOCTL_BIN, "--target", target(), "--certs-dir",
                                     certs_dir(),      "--as",     role};
    argv.insert(argv.end(), rest.begin(), rest.end());
    return RunCommand(argv, dir_->path(), kCommandTimeout);
  }

  std::unique_ptr<TempDir> dir_;
  std::unique_ptr<ChildProcess> standalone_;
  std::map<std::string, std::unique_ptr<v1::RegistryService::Stub>> registry_stubs_;
  std::map<std::string, std::unique_ptr<dev::DevClockService::Stub>> clock_stubs_;
  int port_ = 0, metrics_port_ = 0;
  absl::Duration startup_;
};

TEST_F(StandaloneE2eTest, FirstStartCreatesTheDevCaWithEveryRoleAndServesQuickly) {
  EXPECT_LT(startup_, absl::Seconds(10)) << "first start (with the dev CA) took too long";
  EXPECT_TRUE(IsFile(certs_dir() + "/ca.pem"));
  for (const std::string& role : RoleNames()) {
    EXPECT_TRUE(IsFile(certs_dir() + "/" + role + ".crt")) << role;
    EXPECT_TRUE(IsFile(certs_dir() + "/" + role + ".key")) << role;
    // Each certificate names its role in its SPIFFE id.
    auto pem = crypto::ReadFile(certs_dir() + "/" + role + ".crt");
    ASSERT_TRUE(pem.ok()) << pem.status();
    auto sans = crypto::UriSans(*pem);
    ASSERT_TRUE(sans.ok()) << sans.status();
    ASSERT_EQ(sans->size(), 1u) << role;
    EXPECT_THAT((*sans)[0], ::testing::EndsWith("/role/" + role));
  }
  // Every role's certificate is accepted by the server.
  for (const std::string& role : RoleNames()) {
    absl::StatusOr<int> h = HealthCheck(Channel(role));
    ASSERT_TRUE(h.ok()) << role << ": " << h.status();
    EXPECT_EQ(*h, 1) << role;
  }
  // /metrics answers on its port.
  v1::ListResourcesResponse list;
  ASSERT_TRUE(As("department").ListResources(Ctx().get(), {}, &list).ok());
  absl::StatusOr<std::string> metrics = HttpGet(metrics_port_, "/metrics");
  ASSERT_TRUE(metrics.ok()) << metrics.status();
  EXPECT_THAT(*metrics, HasSubstr("pdao_grpc_server_handled_total{"));
}

TEST_F(StandaloneE2eTest, RegistrationReachesCodedAfterTheDevClockPassesPublicity) {
  const v1::Resource resource = RegisterResource("aq-resource");
  ASSERT_FALSE(resource.id().empty());

  v1::RecordEvidenceRequest ev;
  ev.set_request_id("aq-evidence");
  ev.set_content_sha256(kSha);
  v1::RecordEvidenceResponse ev_resp;
  grpc::Status s = As("department").RecordEvidence(Ctx().get(), ev, &ev_resp);
  ASSERT_TRUE(s.ok()) << s.error_message();

  v1::SubmitRegistrationRequest sub;
  sub.set_request_id("aq-submit");
  sub.set_type(v1::REGISTRATION_TYPE_FIRST);
  sub.set_subject_kind(v1::SUBJECT_KIND_RESOURCE);
  sub.set_subject_id(resource.id());
  sub.set_evidence_id(ev_resp.evidence().id());
  v1::SubmitRegistrationResponse sub_resp;
  s = As("department").SubmitRegistration(Ctx().get(), sub, &sub_resp);
  ASSERT_TRUE(s.ok()) << s.error_message();
  const std::string reg_id = sub_resp.registration().id();

  v1::Registration r;
  for (v1::AdvanceAction action : {v1::ADVANCE_ACTION_ACCEPT, v1::ADVANCE_ACTION_PASS_REVIEW,
                                   v1::ADVANCE_ACTION_START_PUBLICITY}) {
    s = Advance(reg_id, action, &r);
    ASSERT_TRUE(s.ok()) << v1::AdvanceAction_Name(action) << ": " << s.error_message();
  }
  ASSERT_EQ(r.state(), v1::REGISTRATION_STATE_PUBLICITY);
  ASSERT_FALSE(r.publicity_end().empty());

  // Not yet: publicity runs 10 working days (rule 6).
  s = Advance(reg_id, v1::ADVANCE_ACTION_ISSUE_CODE, nullptr);
  ASSERT_EQ(s.error_code(), grpc::StatusCode::FAILED_PRECONDITION) << s.error_message();

  // Move the platform clock to the day after publicity_end (a date in UTC+8), plus a margin.
  dev::GetTimeResponse now;
  s = ClockAs("implementing_agency").GetTime(Ctx().get(), {}, &now);
  ASSERT_TRUE(s.ok()) << s.error_message();
  absl::Time end_day;
  std::string err;
  ASSERT_TRUE(
      absl::ParseTime("%Y-%m-%d", r.publicity_end(), absl::FixedTimeZone(8 * 3600), &end_day, &err))
      << r.publicity_end() << ": " << err;
  const absl::Time platform_now =
      absl::FromUnixMillis(TimeUtil::TimestampToMilliseconds(now.now()));
  const absl::Duration by = end_day + absl::Hours(24) + absl::Hours(1) - platform_now;
  ASSERT_GT(by, absl::ZeroDuration());
  dev::AdvanceTimeRequest adv;
  *adv.mutable_by() = TimeUtil::MillisecondsToDuration(absl::ToInt64Milliseconds(by));
  dev::AdvanceTimeResponse adv_resp;
  s = ClockAs("implementing_agency").AdvanceTime(Ctx().get(), adv, &adv_resp);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_GE(TimeUtil::TimestampToMilliseconds(adv_resp.now()),
            TimeUtil::TimestampToMilliseconds(now.now()) + absl::ToInt64Milliseconds(by));

  s = Advance(reg_id, v1::ADVANCE_ACTION_ISSUE_CODE, &r);
  ASSERT_TRUE(s.ok()) << s.error_code() << " " << s.error_message();
  EXPECT_EQ(r.state(), v1::REGISTRATION_STATE_CODED);
  ASSERT_FALSE(r.query_code().empty());
  ASSERT_TRUE(r.has_valid_until());
  // Valid for 3 years from coding (rule 8).
  const int64_t valid_days =
      (TimeUtil::TimestampToSeconds(r.valid_until()) - TimeUtil::TimestampToSeconds(r.coded_at())) /
      86400;
  EXPECT_GE(valid_days, 3 * 365);
  EXPECT_LE(valid_days, 3 * 365 + 1);

  // Anyone with a certificate looks the code up and sees the publicity fields.
  v1::QueryRegistrationCodeRequest q;
  q.set_query_code(r.query_code());
  v1::QueryRegistrationCodeResponse notice;
  s = As("business_entity").QueryRegistrationCode(Ctx().get(), q, &notice);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(notice.notice().registration_id(), reg_id);
  EXPECT_EQ(notice.notice().state(), v1::REGISTRATION_STATE_CODED);
  EXPECT_EQ(notice.notice().subject_name(), "Air quality readings");
  EXPECT_EQ(notice.notice().query_code(), r.query_code());

  // The resource is REGISTERED under that registration.
  v1::GetResourceRequest get;
  get.set_resource_id(resource.id());
  v1::GetResourceResponse got;
  s = As("department").GetResource(Ctx().get(), get, &got);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(got.resource().status(), v1::RESOURCE_STATUS_REGISTERED);
  EXPECT_EQ(got.resource().registration_id(), reg_id);

  // An unknown code is NOT_FOUND.
  q.set_query_code("NO-SUCH-CODE");
  s = As("business_entity").QueryRegistrationCode(Ctx().get(), q, &notice);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::NOT_FOUND) << s.error_message();
}

TEST_F(StandaloneE2eTest, DevClockRefusesADepartment) {
  dev::GetTimeResponse before;
  ASSERT_TRUE(ClockAs("implementing_agency").GetTime(Ctx().get(), {}, &before).ok());
  dev::AdvanceTimeRequest adv;
  *adv.mutable_by() = TimeUtil::SecondsToDuration(86400);
  dev::AdvanceTimeResponse resp;
  grpc::Status s = ClockAs("department").AdvanceTime(Ctx().get(), adv, &resp);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::PERMISSION_DENIED) << s.error_message();
  // The clock did not move: the offset is unchanged.
  dev::GetTimeResponse after;
  ASSERT_TRUE(ClockAs("implementing_agency").GetTime(Ctx().get(), {}, &after).ok());
  EXPECT_EQ(TimeUtil::DurationToMilliseconds(after.offset()),
            TimeUtil::DurationToMilliseconds(before.offset()));
}

TEST_F(StandaloneE2eTest, PdaoctlCallsTheRunningPlatform) {
  const v1::Resource resource = RegisterResource("ctl-resource");
  ASSERT_FALSE(resource.id().empty());

  auto list = Pdaoctl("department", {"registry", "ListResources", "{}"});
  ASSERT_TRUE(list.ok()) << list.status();
  EXPECT_EQ(list->exit_code, 0) << list->err;
  EXPECT_THAT(list->out, HasSubstr(resource.id()));
  EXPECT_THAT(list->out, HasSubstr("Air quality readings"));

  auto denied = Pdaoctl("operator", {"registry", "RegisterResource", "{}"});
  ASSERT_TRUE(denied.ok()) << denied.status();
  EXPECT_NE(denied->exit_code, 0) << denied->out;
  EXPECT_THAT(denied->err, HasSubstr("PERMISSION_DENIED"));

  // Nothing was written by the refused call.
  v1::ListResourcesResponse resources;
  ASSERT_TRUE(As("implementing_agency").ListResources(Ctx().get(), {}, &resources).ok());
  EXPECT_EQ(resources.resources_size(), 1);
}

TEST_F(StandaloneE2eTest, BufCurlReachesTheApiThroughServerReflection) {
  const std::string buf = FindBuf();
  ASSERT_FALSE(buf.empty())
      << "`buf` is not installed (neither on PATH nor in ${PDAO_CACHE:-$HOME/.cache/pdao}/bin): "
         "run tools/setup/install-deps.sh (CI installs it)";
  const v1::Resource resource = RegisterResource("buf-resource");
  ASSERT_FALSE(resource.id().empty());
  const std::vector<std::string> tls = {"--protocol", "grpc",
                                        "--cacert",   certs_dir() + "/ca.pem",
                                        "--cert",     certs_dir() + "/department.crt",
                                        "--key",      certs_dir() + "/department.key",
                                        "--timeout",  "20s"};
  const std::string url = absl::StrCat("https://", target());

  std::vector<std::string> argv = {buf, "curl"};
  argv.insert(argv.end(), tls.begin(), tls.end());
  argv.insert(argv.end(), {"--list-services", url});
  auto services = RunCommand(argv, dir_->path(), kCommandTimeout);
  ASSERT_TRUE(services.ok()) << services.status();
  EXPECT_EQ(services->exit_code, 0) << services->err;
  EXPECT_THAT(services->out, HasSubstr("pdao.registry.v1.RegistryService"));
  EXPECT_THAT(services->out, HasSubstr("pdao.dev.v1.DevClockService"));

  argv = {buf, "curl"};
  argv.insert(argv.end(), tls.begin(), tls.end());
  argv.insert(argv.end(), {"-d", "{}", url + "/pdao.registry.v1.RegistryService/ListResources"});
  auto call = RunCommand(argv, dir_->path(), kCommandTimeout);
  ASSERT_TRUE(call.ok()) << call.status();
  EXPECT_EQ(call->exit_code, 0) << call->err;
  EXPECT_THAT(call->out, HasSubstr(resource.id()));

  // Without a client certificate the same call is refused.
  argv = {buf,
          "curl",
          "--protocol",
          "grpc",
          "--cacert",
          certs_dir() + "/ca.pem",
          "--timeout",
          "20s",
          "-d",
          "{}",
          url + "/pdao.registry.v1.RegistryService/ListResources"};
  auto anonymous = RunCommand(argv, dir_->path(), kCommandTimeout);
  ASSERT_TRUE(anonymous.ok()) << anonymous.status();
  EXPECT_NE(anonymous->exit_code, 0) << anonymous->out;
}

TEST_F(StandaloneE2eTest, RestartKeepsTheCaAndTheData) {
  const v1::Resource resource = RegisterResource("restart-resource");
  ASSERT_FALSE(resource.id().empty());
  const std::string ca_before = ReadFileOrEmpty(certs_dir() + "/ca.pem");
  const std::string dept_before = ReadFileOrEmpty(certs_dir() + "/department.crt");

  registry_stubs_.clear();
  clock_stubs_.clear();
  ASSERT_TRUE(standalone_->Signal(SIGTERM).ok());
  absl::StatusOr<int> status = standalone_->WaitForExit(absl::Seconds(40));
  ASSERT_TRUE(status.ok()) << status.status() << "\n" << standalone_->LogTail();
  EXPECT_TRUE(WIFEXITED(*status) && WEXITSTATUS(*status) == 0) << "wait status " << *status;

  ASSERT_NO_FATAL_FAILURE(Start());
  EXPECT_EQ(ReadFileOrEmpty(certs_dir() + "/ca.pem"), ca_before) << "the CA is never rewritten";
  EXPECT_EQ(ReadFileOrEmpty(certs_dir() + "/department.crt"), dept_before);
  v1::GetResourceRequest get;
  get.set_resource_id(resource.id());
  v1::GetResourceResponse got;
  grpc::Status s = As("department").GetResource(Ctx().get(), get, &got);
  ASSERT_TRUE(s.ok()) << s.error_code() << " " << s.error_message();
  EXPECT_EQ(got.resource().spec().name(), "Air quality readings");
}

}  // namespace
}  // namespace pdao::e2e

// Fault tests of the audit log (REGULATION.md rules 33, 34: tamper-evident, never lossy, fail
// closed), with the real binaries: pdao-registry on a real redis-server and a real Kafka broker,
// pdao-audit consuming pdao.registry.v1, pdaoctl verify-log checking from the outside.
//
//   1. Audit service and Kafka stopped during traffic: registry commits keep going (events wait
//      in its outbox); after both return, every committed action has exactly one log entry.
//   2. pdao-audit SIGKILLed during ingestion: the same.
//   3. An entry acknowledged by Append survives a SIGKILL.
//   4. Changing, deleting, reordering or truncating stored entries is reported by verify-log.
//   5. No audit service consuming for longer than --audit-backlog-limit: the registry refuses
//      writes (UNAVAILABLE, rule 34) and accepts them again once pdao-audit caught up.
//   6. A non-envelope in the middle of an ingested batch is logged once, nothing is lost.
//
// Kafka: one broker for the whole binary (global Environment); registered as one ctest.
#include <signal.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "common/bus/kafka_bus.h"
#include "common/crypto/dev_ca.h"
#include "common/rpc/channel.h"
#include "common/testing/kafka/kafka_environment.h"
#include "common/testing/redis/redis_server.h"
#include "common/testing/tls_dir.h"
#include "common/tlog/checkpoint.h"
#include "gtest/gtest.h"
#include "pdao/audit/v1/audit.grpc.pb.h"
#include "pdao/events/v1/envelope.pb.h"
#include "pdao/registry/v1/registry.grpc.pb.h"
#include "services/audit/record_file.h"
#include "tests/e2e/e2e_util.h"

namespace pdao::e2e {
namespace {

namespace reg = ::pdao::registry::v1;
namespace aud = ::pdao::audit::v1;

constexpr absl::Duration kReadyTimeout = absl::Seconds(30);
constexpr absl::Duration kCallTimeout = absl::Seconds(10);
// A SIGKILLed consumer keeps its partitions until its Kafka session (45 s) expires.
constexpr absl::Duration kIngestTimeout = absl::Seconds(150);

const pdao::testing::KafkaEnvironment* const kKafka = pdao::testing::KafkaEnvironment::Register(
    {"pdao.registry.v1", "pdao.authorization.v1", "pdao.audit.v1"});

std::unique_ptr<grpc::ClientContext> Ctx() {
  auto context = std::make_unique<grpc::ClientContext>();
  WithDeadline(*context, kCallTimeout);
  return context;
}

reg::ResourceSpec Spec(const std::string& name) {
  reg::ResourceSpec spec;
  spec.set_name(name);
  spec.set_description("fault test resource");
  auto* f = spec.add_fields();
  f->set_name("stop_id");
  f->set_data_type("string");
  f->set_grade(reg::GRADE_GENERAL);
  f->set_personal_info_kind(reg::PERSONAL_INFO_KIND_NONE);
  spec.set_update_frequency("daily");
  spec.set_volume_records(10);
  spec.set_source(reg::RESOURCE_SOURCE_OWN);
  spec.mutable_open_attribute()->set_openness(reg::OPENNESS_UNCONDITIONAL);
  spec.mutable_share_attribute()->set_openness(reg::OPENNESS_UNCONDITIONAL);
  return spec;
}

// A started server binary with its ports.
struct Server {
  std::unique_ptr<ChildProcess> child;
  int port = 0, health = 0;
};

class AuditFaultTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto dir = TempDir::Create("pdao-audit-fault");
    ASSERT_TRUE(dir.ok()) << dir.status();
    dir_ = std::move(*dir);
    crypto::DevCaOptions ca_options;
    ca_options.now = absl::Now();
    auto ca = crypto::EnsureDevCa(certs(), ca_options);
    ASSERT_TRUE(ca.ok()) << ca.status();
    // The registry's own --tls-dir: server and client certificate (it calls authorization).
    auto tls = pdao::testing::MakeServiceTlsDir(*ca, dir_->path(), "registry");
    ASSERT_TRUE(tls.ok()) << tls.status();
    registry_tls_ = *tls;
    nonce_ = absl::StrCat("f", absl::ToUnixMicros(absl::Now()));
    auto port = FreeLoopbackPort();
    ASSERT_TRUE(port.ok());
    audit_port_ = *port;  // the same port across restarts, so stubs and pdaoctl keep working
  }
  void TearDown() override {
    for (Server* s : {&audit_, &registry_}) {
      if (s->child && HasFailure()) std::cerr << "log tail:\n" << s->child->LogTail() << "\n";
      if (s->child) s->child->Kill();
    }
    redis_.reset();
    dir_.reset();
  }
  std::string certs() const { return dir_->path() + "/certs"; }
  std::string registry_tls_;

  void StartServer(Server& server, const std::string& bin, std::vector<std::string> extra,
                   const std::string& name, int port) {
    auto health = FreeLoopbackPort();
    ASSERT_TRUE(health.ok());
    server.port = port;
    server.health = *health;
    std::vector<std::string> argv = {bin,
                                     "--listen=" + Loopback(port),
                                     "--health-listen=" + Loopback(server.health),
                                     "--tls-dir=" + (name == "registry" ? registry_tls_ : certs()),
                                     "--data-dir=" + dir_->path() + "/" + name,
                                     "--drain-timeout=2s"};
    argv.insert(argv.end(), extra.begin(), extra.end());
    auto child = ChildProcess::Start(argv, absl::StrCat(dir_->path(), "/", name, ".log"));
    ASSERT_TRUE(child.ok()) << child.status();
    server.child = std::move(*child);
    auto channel = PlaintextChannel(server.health);
    bool exited = false;
    const bool ready = PollUntil(
        [&] {
          if (!server.child->Running()) return exited = true;
          absl::StatusOr<int> h = HealthCheck(channel, "", absl::Milliseconds(500));
          return h.ok() && *h == 1;
        },
        kReadyTimeout);
    ASSERT_FALSE(exited) << name << " exited during start:\n" << server.child->LogTail();
    ASSERT_TRUE(ready) << name << " not serving:\n" << server.child->LogTail();
  }

  void StartRedisAndRegistry(std::vector<std::string> extra = {}) {
    auto redis = pdao::testing::RedisServer::Start();
    ASSERT_TRUE(redis.ok()) << redis.status();
    redis_ = std::move(*redis);
    auto port = FreeLoopbackPort();
    ASSERT_TRUE(port.ok());
    std::vector<std::string> args = {absl::StrCat("--redis=", redis_->host(), ":", redis_->port()),
                                     "--kafka=" + kKafka->broker()->bootstrap(),
                                     // The audit gate measures the group the audit service of
                                     // this test consumes in.
                                     "--audit-group=pdao-audit-" + nonce_};
    args.insert(args.end(), extra.begin(), extra.end());
    StartServer(registry_, PDAO_REGISTRY_BIN, args, "registry", *port);
    auto channel = MakeMtlsChannel(Loopback(registry_.port), certs() + "/ca.pem",
                                   certs() + "/department.crt", certs() + "/department.key");
    ASSERT_TRUE(channel.ok());
    registry_stub_ = reg::RegistryService::NewStub(*channel);
  }

  void StartAudit(bool with_kafka) {
    std::vector<std::string> extra = {"--audit-checkpoint-interval=20ms",
                                      "--audit-group=pdao-audit-" + nonce_};
    if (with_kafka) extra.push_back("--kafka=" + kKafka->broker()->bootstrap());
    StartServer(audit_, PDAO_AUDIT_BIN, extra, "audit", audit_port_);
  }

  aud::AuditService::Stub& AuditAs(const std::string& cert) {
    auto it = audit_stubs_.find(cert);
    if (it != audit_stubs_.end()) return *it->second;
    auto channel = MakeMtlsChannel(Loopback(audit_port_), certs() + "/ca.pem",
                                   certs() + "/" + cert + ".crt", certs() + "/" + cert + ".key");
    EXPECT_TRUE(channel.ok());
    return *(audit_stubs_[cert] = aud::AuditService::NewStub(*channel));
  }

  // Registers a resource; its id, or "" when the call failed (then it may or may not exist).
  std::string Register(int i, grpc::Status* status = nullptr) {
    reg::RegisterResourceRequest req;
    req.set_request_id(absl::StrCat(nonce_, "-r", i));
    *req.mutable_spec() = Spec(absl::StrCat("res ", i));
    reg::RegisterResourceResponse resp;
    grpc::Status s = registry_stub_->RegisterResource(Ctx().get(), req, &resp);
    if (status != nullptr) *status = s;
    return s.ok() ? resp.resource().id() : "";
  }

  // Ground truth: every resource the registry committed.
  std::set<std::string> CommittedResources() {
    auto channel =
        MakeMtlsChannel(Loopback(registry_.port), certs() + "/ca.pem",
                        certs() + "/implementing_agency.crt", certs() + "/implementing_agency.key");
    auto stub = reg::RegistryService::NewStub(*channel);
    std::set<std::string> ids;
    reg::ListResourcesRequest req;
    req.mutable_page()->set_page_size(1000);
    reg::ListResourcesResponse resp;
    grpc::Status s = stub->ListResources(Ctx().get(), req, &resp);
    EXPECT_TRUE(s.ok()) << s.error_message();
    for (const auto& r : resp.resources()) ids.insert(r.id());
    return ids;
  }

  // "registry.resource.registered" entries per resource id, from the audit log (as regulator).
  std::map<std::string, int> LoggedRegistrations() {
    std::map<std::string, int> count;
    aud::QueryRequest req;
    req.set_action("registry.resource.registered");
    req.set_page_size(1000);
    do {
      aud::QueryResponse resp;
      grpc::Status s = AuditAs("regulator").Query(Ctx().get(), req, &resp);
      if (!s.ok()) return {};
      for (const auto& e : resp.entries()) {
        pdao::events::v1::Envelope env;
        env.ParseFromString(e.envelope());
        // The topic is shared by the tests of this binary: count this test's requests only.
        if (env.correlation_id().find(nonce_) != std::string::npos) {
          count[env.aggregate().id()]++;
        }
      }
      req.set_page_token(resp.next_page_token());
    } while (!req.page_token().empty());
    return count;
  }

  // Polls until every committed resource has a log entry; then checks there is exactly one.
  void ExpectExactlyOneEntryPerCommittedAction(const std::set<std::string>& committed) {
    std::map<std::string, int> logged;
    const bool all = PollUntil(
        [&] {
          logged = LoggedRegistrations();
          for (const std::string& id : committed) {
            if (logged.find(id) == logged.end()) return false;
          }
          return true;
        },
        kIngestTimeout);
    ASSERT_TRUE(all) << "only " << logged.size() << " of " << committed.size()
                     << " committed actions reached the audit log:\n"
                     << audit_.child->LogTail();
    for (const std::string& id : committed) EXPECT_EQ(logged[id], 1) << id;
    for (const auto& [id, n] : logged) EXPECT_TRUE(committed.count(id)) << "unknown " << id;
  }

  CommandResult VerifyLog(const std::string& as = "regulator") {
    auto r = RunCommand(
        {PDAO_PDAOCTL_BIN, "audit", "verify-log", "--target=" + Loopback(audit_port_),
         "--certs-dir=" + certs(), "--as=" + as, "--state=" + dir_->path() + "/verify.state"},
        dir_->path(), absl::Seconds(60));
    EXPECT_TRUE(r.ok()) << r.status();
    return r.ok() ? *r : CommandResult{};
  }

  std::unique_ptr<TempDir> dir_;
  std::unique_ptr<pdao::testing::RedisServer> redis_;
  Server registry_, audit_;
  int audit_port_ = 0;
  std::unique_ptr<reg::RegistryService::Stub> registry_stub_;
  std::map<std::string, std::unique_ptr<aud::AuditService::Stub>> audit_stubs_;
  std::string nonce_;
};

// Issue 9 item 10 (rule 34, fail closed): with no audit service consuming, the registry's events
// wait on Kafka unacknowledged by the audit group; past --audit-backlog-limit the registry refuses
// writes UNAVAILABLE naming the cause, and writes nothing. Once pdao-audit runs and catches up,
// writes are accepted again, and every committed action has exactly one log entry.
TEST_F(AuditFaultTest, WritesStopWhileTheAuditTrailIsBehindAndResumeWhenItCatchesUp) {
  ASSERT_NO_FATAL_FAILURE(StartRedisAndRegistry({"--audit-backlog-limit=2s"}));
  ASSERT_FALSE(Register(0).empty());
  const absl::Time first = absl::Now();
  int i = 1;
  grpc::Status refused;
  ASSERT_TRUE(PollUntil(
      [&] {
        Register(i++, &refused);
        return refused.error_code() == grpc::StatusCode::UNAVAILABLE;
      },
      absl::Seconds(60)))
      << "writes never refused:\n"
      << registry_.child->LogTail();
  const absl::Duration to_close = absl::Now() - first;
  EXPECT_NE(refused.error_message().find("writes refused: the audit trail of registry is "),
            std::string::npos)
      << refused.error_message();
  EXPECT_NE(refused.error_message().find("(limit 2s; REGULATION.md rule 34, fail closed)"),
            std::string::npos)
      << refused.error_message();
  EXPECT_GE(to_close, absl::Seconds(2));

  ASSERT_NO_FATAL_FAILURE(StartAudit(true));
  const absl::Time audit_started = absl::Now();
  grpc::Status accepted;
  ASSERT_TRUE(PollUntil(
      [&] {
        Register(i++, &accepted);
        return accepted.ok();
      },
      absl::Seconds(120)))
      << "writes never accepted again: " << accepted.error_message() << "\n"
      << registry_.child->LogTail();
  std::cerr << "audit gate on Kafka: closed " << absl::FormatDuration(to_close)
            << " after the first unaudited write (limit 2s); open again "
            << absl::FormatDuration(absl::Now() - audit_started)
            << " after pdao-audit was started\n";
  const std::set<std::string> committed = CommittedResources();
  EXPECT_LT(committed.size(), static_cast<size_t>(i)) << "refused writes left nothing";
  ASSERT_NO_FATAL_FAILURE(ExpectExactlyOneEntryPerCommittedAction(committed));
}

TEST_F(AuditFaultTest, AuditAndKafkaDownDuringTrafficLoseNothingAndDuplicateNothing) {
  ASSERT_NO_FATAL_FAILURE(StartRedisAndRegistry());
  ASSERT_NO_FATAL_FAILURE(StartAudit(true));
  for (int i = 0; i < 10; ++i) Register(i);
  // Stop the audit service and the broker in the middle of the traffic.
  ASSERT_TRUE(audit_.child->Signal(SIGTERM).ok());
  ASSERT_TRUE(audit_.child->WaitForExit(absl::Seconds(30)).ok());
  ASSERT_TRUE(kKafka->broker()->Stop().ok());
  int committed_while_down = 0;
  for (int i = 10; i < 25; ++i) committed_while_down += Register(i).empty() ? 0 : 1;
  EXPECT_EQ(committed_while_down, 15) << "registry commits keep going; events wait in the outbox";
  ASSERT_TRUE(kKafka->broker()->Start().ok());
  ASSERT_NO_FATAL_FAILURE(StartAudit(true));
  for (int i = 25; i < 30; ++i) Register(i);
  const std::set<std::string> committed = CommittedResources();
  EXPECT_EQ(committed.size(), 30u);
  ASSERT_NO_FATAL_FAILURE(ExpectExactlyOneEntryPerCommittedAction(committed));
  CommandResult v = VerifyLog();
  EXPECT_EQ(v.exit_code, 0) << v.out << v.err;
}

TEST_F(AuditFaultTest, SigkillDuringIngestionLosesNothingAndDuplicatesNothing) {
  ASSERT_NO_FATAL_FAILURE(StartRedisAndRegistry());
  ASSERT_NO_FATAL_FAILURE(StartAudit(true));
  for (int i = 0; i < 30; ++i) {
    Register(i);
    if (i == 15) {
      ASSERT_TRUE(audit_.child->Signal(SIGKILL).ok());
    }
  }
  audit_.child->Kill();
  ASSERT_NO_FATAL_FAILURE(StartAudit(true));
  for (int i = 30; i < 35; ++i) Register(i);
  const std::set<std::string> committed = CommittedResources();
  EXPECT_EQ(committed.size(), 35u);
  ASSERT_NO_FATAL_FAILURE(ExpectExactlyOneEntryPerCommittedAction(committed));
  CommandResult v = VerifyLog();
  EXPECT_EQ(v.exit_code, 0) << v.out << v.err;
}

// Issue 10: a message that is not an envelope, published in the middle of traffic so that it sits
// in the middle of the batch the audit service ingests at start. The audit service never
// dead-letters: the message is logged (keyed by its hash) exactly once, and every committed action
// still has exactly one entry.
TEST_F(AuditFaultTest, PoisonMessageInTheMiddleOfABatchIsLoggedAndNothingIsLost) {
  ASSERT_NO_FATAL_FAILURE(StartRedisAndRegistry());
  for (int i = 0; i < 10; ++i) Register(i);
  const std::string poison = absl::StrCat("not an envelope ", nonce_);
  {
    KafkaBusOptions o;
    o.bootstrap_servers = kKafka->broker()->bootstrap();
    auto bus = KafkaBus::Create(o);
    ASSERT_TRUE(bus.ok()) << bus.status();
    absl::Notification delivered;
    absl::Status outcome;
    ASSERT_TRUE((*bus)
                    ->Publish({"pdao.registry.v1", "poison", poison},
                              [&](const absl::Status& s) {
                                outcome = s;
                                delivered.Notify();
                              })
                    .ok());
    ASSERT_TRUE(delivered.WaitForNotificationWithTimeout(kCallTimeout));
    ASSERT_TRUE(outcome.ok()) << outcome;
  }
  for (int i = 10; i < 20; ++i) Register(i);
  ASSERT_NO_FATAL_FAILURE(StartAudit(true));  // the backlog arrives in batches
  const std::set<std::string> committed = CommittedResources();
  EXPECT_EQ(committed.size(), 20u);
  ASSERT_NO_FATAL_FAILURE(ExpectExactlyOneEntryPerCommittedAction(committed));
  int poison_entries = 0;
  aud::QueryRequest req;
  req.set_page_size(1000);
  do {
    aud::QueryResponse resp;
    grpc::Status s = AuditAs("regulator").Query(Ctx().get(), req, &resp);
    ASSERT_TRUE(s.ok()) << s.error_message();
    for (const auto& e : resp.entries()) poison_entries += e.envelope() == poison ? 1 : 0;
    req.set_page_token(resp.next_page_token());
  } while (!req.page_token().empty());
  EXPECT_EQ(poison_entries, 1);
  CommandResult v = VerifyLog();
  EXPECT_EQ(v.exit_code, 0) << v.out << v.err;
}

pdao::events::v1::Envelope Event(const std::string& id) {
  pdao::events::v1::Envelope e;
  e.set_event_id(id);
  // Appended over gRPC as compliance does with its sample certificates (the one service whose
  // Append the audit API allows, and a service appends only its own events: issue 9 item 5).
  e.set_producer("compliance");
  e.set_action("compliance.sample.produced");
  e.mutable_aggregate()->set_type("compliance.Sample");
  e.mutable_aggregate()->set_id("sample-" + id);
  return e;
}

TEST_F(AuditFaultTest, AppendAcknowledgedEntrySurvivesSigkill) {
  ASSERT_NO_FATAL_FAILURE(StartAudit(false));
  std::map<uint64_t, std::string> acked;
  for (int i = 0; i < 20; ++i) {
    aud::AppendRequest req;
    req.set_envelope(Event(absl::StrCat(nonce_, "-", i)).SerializeAsString());
    aud::AppendResponse resp;
    grpc::Status s = AuditAs("service-compliance").Append(Ctx().get(), req, &resp);
    ASSERT_TRUE(s.ok()) << s.error_message();
    acked[resp.index()] = absl::StrCat(nonce_, "-", i);
  }
  ASSERT_TRUE(audit_.child->Signal(SIGKILL).ok());  // right after the last acknowledgement
  audit_.child->Kill();
  audit_stubs_.clear();
  ASSERT_NO_FATAL_FAILURE(StartAudit(false));
  for (const auto& [index, event_id] : acked) {
    aud::GetEntryRequest req;
    req.set_index(index);
    req.set_parsed(true);
    aud::GetEntryResponse resp;
    grpc::Status s = AuditAs("regulator").GetEntry(Ctx().get(), req, &resp);
    ASSERT_TRUE(s.ok()) << index << ": " << s.error_message();
    pdao::events::v1::Envelope env;
    ASSERT_TRUE(env.ParseFromString(resp.entry().envelope()));
    EXPECT_EQ(env.event_id(), event_id);
  }
  // A retry of an acknowledged append is answered with the original index.
  aud::AppendRequest again;
  again.set_envelope(Event(acked.begin()->second).SerializeAsString());
  aud::AppendResponse resp;
  ASSERT_TRUE(AuditAs("service-compliance").Append(Ctx().get(), again, &resp).ok());
  EXPECT_TRUE(resp.duplicate());
  EXPECT_EQ(resp.index(), acked.begin()->first);
}

TEST_F(AuditFaultTest, VerifyLogTrustsOnlyTheGivenPublicKey) {
  ASSERT_NO_FATAL_FAILURE(StartAudit(false));
  aud::AppendRequest req;
  req.set_envelope(Event(absl::StrCat(nonce_, "-key")).SerializeAsString());
  aud::AppendResponse resp;
  ASSERT_TRUE(AuditAs("service-compliance").Append(Ctx().get(), req, &resp).ok());
  ASSERT_TRUE(PollUntil(
      [&] {
        aud::GetCheckpointResponse cp;
        return AuditAs("business_entity").GetCheckpoint(Ctx().get(), {}, &cp).ok();
      },
      absl::Seconds(10)));
  aud::GetPublicKeyResponse served;
  ASSERT_TRUE(AuditAs("business_entity").GetPublicKey(Ctx().get(), {}, &served).ok());
  const std::string good = dir_->path() + "/served.pem", bad = dir_->path() + "/other.pem";
  std::ofstream(good) << served.public_key_pem();
  auto other = pdao::tlog::CheckpointSigner::Generate();
  ASSERT_TRUE(other.ok());
  std::ofstream(bad) << other->public_key_pem();
  for (const auto& [key, want] : {std::pair<std::string, int>{good, 0}, {bad, 1}}) {
    auto r =
        RunCommand({PDAO_PDAOCTL_BIN, "audit", "verify-log", "--target=" + Loopback(audit_port_),
                    "--certs-dir=" + certs(), "--as=business_entity", "--public-key=" + key},
                   dir_->path(), absl::Seconds(60));
    ASSERT_TRUE(r.ok());
    EXPECT_EQ(r->exit_code, want) << key << "\n" << r->out << r->err;
    // A business entity reads no foreign entries: the root is not recomputed, and it says so.
    if (want == 0) {
      EXPECT_NE(r->out.find("not recomputed"), std::string::npos) << r->out;
    } else {
      EXPECT_NE(r->err.find("differs from --public-key"), std::string::npos) << r->err;
    }
  }
}

// Rewrites entries.log with valid framing and CRCs, so only the Merkle checks can catch it.
void RewriteEntries(const std::string& path,
                    const std::function<void(std::vector<std::string>&)>& edit) {
  std::vector<std::string> records;
  {
    auto f = pdao::audit::RecordFile::Open(path, [&](uint64_t, absl::string_view p) {
      records.emplace_back(p);
      return absl::OkStatus();
    });
    ASSERT_TRUE(f.ok()) << f.status();
  }
  edit(records);
  std::filesystem::remove(path);
  auto f = pdao::audit::RecordFile::Open(
      path, [](uint64_t, absl::string_view) { return absl::OkStatus(); });
  ASSERT_TRUE(f.ok());
  ASSERT_TRUE((*f)->Append(records).ok());
}

TEST_F(AuditFaultTest, TamperingWithStoredEntriesIsReportedByVerifyLog) {
  const std::vector<std::string> modes = {"change", "delete", "reorder", "truncate", "flip-byte"};
  for (const std::string& mode : modes) {
    SCOPED_TRACE(mode);
    audit_stubs_.clear();
    std::filesystem::remove_all(dir_->path() + "/audit");
    std::filesystem::remove(dir_->path() + "/verify.state");
    ASSERT_NO_FATAL_FAILURE(StartAudit(false));
    for (int i = 0; i < 12; ++i) {
      aud::AppendRequest req;
      req.set_envelope(Event(absl::StrCat(nonce_, mode, i)).SerializeAsString());
      aud::AppendResponse resp;
      ASSERT_TRUE(AuditAs("service-compliance").Append(Ctx().get(), req, &resp).ok());
    }
    // Wait for a checkpoint that covers all 12, and remember it (a first verify-log run).
    ASSERT_TRUE(PollUntil(
        [&] {
          aud::GetCheckpointResponse cp;
          return AuditAs("business_entity").GetCheckpoint(Ctx().get(), {}, &cp).ok() &&
                 cp.checkpoint().tree_size() == 12;
        },
        absl::Seconds(10)));
    CommandResult before = VerifyLog();
    ASSERT_EQ(before.exit_code, 0) << before.out << before.err;
    ASSERT_TRUE(audit_.child->Signal(SIGKILL).ok());
    audit_.child->Kill();

    const std::string path = dir_->path() + "/audit/audit/entries.log";
    if (mode == "flip-byte") {
      std::string data = ReadFileOrEmpty(path);
      ASSERT_FALSE(data.empty());
      data[data.size() / 2] ^= 0x01;
      std::ofstream(path, std::ios::binary | std::ios::trunc) << data;
    } else {
      ASSERT_NO_FATAL_FAILURE(RewriteEntries(path, [&](std::vector<std::string>& r) {
        if (mode == "change") {
          aud::AuditEntry e;
          e.ParseFromString(r[5]);
          pdao::events::v1::Envelope env;
          env.ParseFromString(e.envelope());
          env.set_action("registry.resource.nothing_happened");
          e.set_envelope(env.SerializeAsString());
          r[5] = e.SerializeAsString();
        } else if (mode == "delete") {
          r.erase(r.begin() + 4);
        } else if (mode == "reorder") {
          std::swap(r[2], r[3]);
        } else if (mode == "truncate") {
          r.resize(9);
        }
      }));
    }
    audit_stubs_.clear();
    ASSERT_NO_FATAL_FAILURE(StartAudit(false));
    CommandResult after = VerifyLog();
    EXPECT_EQ(after.exit_code, 1) << after.out << after.err;
    EXPECT_NE(after.err.find("INVALID"), std::string::npos) << after.err;
    std::cerr << "[" << mode << "] verify-log: " << after.err;
    audit_.child->Kill();
  }
}

}  // namespace
}  // namespace pdao::e2e

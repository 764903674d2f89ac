// End to end, checked by an implementation that is not PDAO's (rules 33, 41): pdao-standalone
// with --portal-listen serves the audit log's public face over plain HTTP; tests/tlog-verify (Go,
// golang.org/x/mod/sumdb/note and sumdb/tlog) fetches /log/key, /log/checkpoint and the hash
// tiles, verifies the checkpoint's signature and proves an audited entry's inclusion. A tampered
// entry and a checkpoint with one flipped byte are rejected; a published disclosure snapshot
// verifies against its entry and the tiles, one changed figure does not. Needs `go` (skipped,
// saying so, without it) and golang.org/x/mod in the module cache (tools/setup/install-deps.sh).
#include <cstdlib>
#include <fstream>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/rpc/channel.h"
#include "gtest/gtest.h"
#include "pdao/audit/v1/audit.grpc.pb.h"
#include "pdao/authorization/v1/authorization.grpc.pb.h"
#include "pdao/registry/v1/registry.grpc.pb.h"
#include "tests/e2e/e2e_util.h"

namespace pdao::e2e {
namespace {

namespace reg = ::pdao::registry::v1;
namespace aud = ::pdao::audit::v1;
namespace authz = ::pdao::authorization::v1;

std::unique_ptr<grpc::ClientContext> Ctx() {
  auto context = std::make_unique<grpc::ClientContext>();
  WithDeadline(*context, absl::Seconds(10));
  return context;
}

// The `go` binary on PATH, or "".
std::string FindGo() {
  const char* path = std::getenv("PATH");
  for (absl::string_view dir : absl::StrSplit(path ? path : "", ':', absl::SkipEmpty())) {
    const std::string candidate = absl::StrCat(dir, "/go");
    if (IsExecutable(candidate)) return candidate;
  }
  return "";
}

void WriteFile(const std::string& path, const std::string& data) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << data;
}

uint64_t CheckpointSize(const std::string& note) {
  std::vector<std::string> lines = absl::StrSplit(note, '\n');
  uint64_t size = 0;
  if (lines.size() < 2 || !absl::SimpleAtoi(lines[1], &size)) return 0;
  return size;
}

TEST(TlogVerifyE2eTest, AnIndependentVerifierChecksTheCheckpointAndAnEntrysInclusion) {
  const std::string go = FindGo();
  if (go.empty()) GTEST_SKIP() << "`go` is not on PATH: the independent Go verifier cannot run";
  auto dir = TempDir::Create("pdao-tlog-verify");
  ASSERT_TRUE(dir.ok());
  const std::string work = (*dir)->path();
  // Build the verifier from tests/tlog-verify (golang.org/x/mod from the module cache).
  auto build =
      RunCommand({go, "build", "-C", PDAO_TLOG_VERIFY_DIR, "-o", work + "/tlog-verify", "."}, work,
                 absl::Minutes(5));
  ASSERT_TRUE(build.ok()) << build.status();
  ASSERT_EQ(build->exit_code, 0) << build->out << build->err;
  const std::string verifier = work + "/tlog-verify";

  auto standalone = StartStandalone(PDAO_STANDALONE_BIN, work, 1, [](const std::vector<int>& p) {
    // The test polls the portal every 20 ms: above the default per-client rate (20/s).
    return std::vector<std::string>{"--portal-listen=" + Loopback(p[0]),
                                    "--audit-origin=pdao.e2e/audit", "--portal-rate=1000",
                                    "--portal-burst=1000"};
  });
  ASSERT_TRUE(standalone.ok()) << standalone.status();
  const int portal = standalone->extra_ports[0];
  ChildProcess* child = standalone->process.get();
  auto healthz = HttpGet(portal, "/healthz");
  ASSERT_TRUE(healthz.ok()) << healthz.status() << child->LogTail();

  // Audited activity: three resources registered; each lands in the log.
  auto channel = [&](const std::string& role) { return standalone->As(role); };
  auto registry = reg::RegistryService::NewStub(channel("department"));
  auto audit = aud::AuditService::NewStub(channel("regulator"));
  std::string resource_id;
  for (int i = 0; i < 3; ++i) {
    reg::RegisterResourceRequest rr;
    rr.set_request_id(absl::StrCat("tlog-resource-", i));
    auto* spec = rr.mutable_spec();
    spec->set_name(absl::StrCat("Bus stops ", i));
    spec->set_description("stops");
    auto* f = spec->add_fields();
    f->set_name("stop_id");
    f->set_data_type("string");
    f->set_grade(reg::GRADE_GENERAL);
    f->set_personal_info_kind(reg::PERSONAL_INFO_KIND_NONE);
    spec->set_update_frequency("daily");
    spec->set_volume_records(10);
    spec->set_source(reg::RESOURCE_SOURCE_OWN);
    spec->mutable_open_attribute()->set_openness(reg::OPENNESS_UNCONDITIONAL);
    spec->mutable_share_attribute()->set_openness(reg::OPENNESS_UNCONDITIONAL);
    reg::RegisterResourceResponse resource;
    grpc::Status s = registry->RegisterResource(Ctx().get(), rr, &resource);
    ASSERT_TRUE(s.ok()) << s.error_message();
    resource_id = resource.resource().id();
  }
  aud::QueryRequest q;
  q.set_object_id(resource_id);
  aud::QueryResponse found;
  ASSERT_TRUE(PollUntil(
      [&] {
        found.Clear();
        return audit->Query(Ctx().get(), q, &found).ok() && found.entries_size() >= 1;
      },
      absl::Seconds(20)))
      << child->LogTail();
  const uint64_t index = found.entries(0).index();
  aud::GetEntryRequest ge;
  ge.set_index(index);
  aud::GetEntryResponse entry;
  ASSERT_TRUE(audit->GetEntry(Ctx().get(), ge, &entry).ok());
  WriteFile(work + "/entry.bin", entry.entry_bytes());

  // The portal's checkpoint covers the entry (signed within --audit-checkpoint-interval, served
  // from a cache of at most 1 s).
  std::string note;
  ASSERT_TRUE(PollUntil(
      [&] {
        auto cp = HttpGet(portal, "/log/checkpoint");
        if (!cp.ok()) return false;
        note = *cp;
        return CheckpointSize(note) > index;
      },
      absl::Seconds(20)))
      << note << child->LogTail();
  auto key = HttpGet(portal, "/log/key");
  ASSERT_TRUE(key.ok()) << key.status();
  EXPECT_EQ(key->rfind("pdao.e2e/audit+", 0), 0u) << *key;

  const std::string url = Loopback(portal);
  auto run = [&](std::vector<std::string> args) {
    std::vector<std::string> argv = {verifier, "-url", "http://" + url};
    argv.insert(argv.end(), args.begin(), args.end());
    auto r = RunCommand(argv, work, absl::Seconds(60));
    EXPECT_TRUE(r.ok()) << r.status();
    return r.ok() ? *r : CommandResult{};
  };
  // By the entry's bytes and its index.
  CommandResult ok = run({"-entry-file", work + "/entry.bin", "-index", absl::StrCat(index),
                          "-origin", "pdao.e2e/audit"});
  EXPECT_EQ(ok.exit_code, 0) << ok.out << ok.err;
  EXPECT_NE(ok.out.find("OK: entry"), std::string::npos) << ok.out;
  // By the entry's bytes alone: the verifier finds the leaf in the level-0 tiles.
  CommandResult searched = run({"-entry-file", work + "/entry.bin"});
  EXPECT_EQ(searched.exit_code, 0) << searched.out << searched.err;

  // A tampered entry (one byte changed) is not included.
  std::string tampered = entry.entry_bytes();
  tampered[tampered.size() / 2] ^= 0x01;
  WriteFile(work + "/tampered.bin", tampered);
  CommandResult bad_entry =
      run({"-entry-file", work + "/tampered.bin", "-index", absl::StrCat(index)});
  EXPECT_EQ(bad_entry.exit_code, 1) << bad_entry.out << bad_entry.err;
  // A checkpoint with one flipped byte (in the root line) fails its signature.
  std::string flipped = note;
  const size_t root_line = flipped.find('\n', flipped.find('\n') + 1) + 1;
  flipped[root_line + 2] = flipped[root_line + 2] == 'A' ? 'B' : 'A';
  WriteFile(work + "/flipped.checkpoint", flipped);
  CommandResult bad_cp = run({"-entry-file", work + "/entry.bin", "-index", absl::StrCat(index),
                              "-checkpoint-file", work + "/flipped.checkpoint"});
  EXPECT_EQ(bad_cp.exit_code, 1) << bad_cp.out << bad_cp.err;
  EXPECT_NE(bad_cp.err.find("checkpoint signature"), std::string::npos) << bad_cp.err;
  // The unmodified saved checkpoint verifies the same way (the flip is what failed).
  WriteFile(work + "/saved.checkpoint", note);
  CommandResult saved = run({"-entry-file", work + "/entry.bin", "-index", absl::StrCat(index),
                             "-checkpoint-file", work + "/saved.checkpoint"});
  EXPECT_EQ(saved.exit_code, 0) << saved.out << saved.err;

  // A published disclosure snapshot (rule 41), through the real binary: an operator registered by
  // the agency enters the public state (rule 37), the state loop publishes snapshot 1, and its
  // proof is served once its audit entry is in a signed checkpoint.
  auto agency = authz::AuthorizationService::NewStub(channel("implementing_agency"));
  grpc::Status registered = RegisterTestOperator(*agency, "tlog-operator");
  ASSERT_TRUE(registered.ok()) << registered.error_message();
  // The verifier checks the snapshot's SHA-256 against the hash in its audit entry and the entry's
  // inclusion from the tiles alone; one changed byte of the snapshot is rejected.
  std::string snapshot;
  ASSERT_TRUE(PollUntil(
      [&] {
        auto bytes = HttpGet(portal, "/snapshots/1.json");
        if (!bytes.ok() || !HttpGet(portal, "/snapshots/1.proof.json").ok()) return false;
        snapshot = *bytes;
        return true;
      },
      absl::Seconds(30)))
      << child->LogTail();
  CommandResult snap_ok = run({"-snapshot-url", "http://" + url + "/snapshots/1.json"});
  EXPECT_EQ(snap_ok.exit_code, 0) << snap_ok.out << snap_ok.err;
  ASSERT_FALSE(snapshot.empty());
  // One figure changed: the first digit of the tree size the snapshot names.
  std::string changed = snapshot;
  const size_t figure = changed.find_first_of("0123456789", changed.find("built_from_tree_size"));
  ASSERT_NE(figure, std::string::npos) << snapshot;
  changed[figure] = changed[figure] == '9' ? '8' : static_cast<char>(changed[figure] + 1);
  WriteFile(work + "/changed-snapshot.json", changed);
  CommandResult snap_bad = run({"-snapshot-file", work + "/changed-snapshot.json", "-proof-url",
                                "http://" + url + "/snapshots/1.proof.json"});
  EXPECT_EQ(snap_bad.exit_code, 1) << snap_bad.out << snap_bad.err;
}

}  // namespace
}  // namespace pdao::e2e

// Rule 41, "checkable against the log", over the binaries' exact wiring: the audit and disclosure
// modules in one App (pdao-standalone's shape: SQLite, the in-process bus, mTLS on loopback, the
// portal on a plain HTTP port). A snapshot is published through the module's SnapshotStore (the
// seam the snapshot build loop calls); its snapshot_published event goes through the outbox into
// the audit log; the module's background refresh finds the entry, its inclusion proof and the
// signed checkpoint. Then, as a member of the public would:
//   - `pdaoctl disclosure verify http://.../snapshots/<n>.json` (and latest.json) → exit 0;
//   - the same snapshot with one figure changed, verified as a FILE → exit 1, naming the hash;
//   - a key pinned out of band that is not the log's → exit 1, naming the signature;
//   - the independent Go verifier (tests/tlog-verify: golang.org/x/mod/sumdb/note + tlog, the
//     entry's inclusion proven from the hash tiles) accepts the snapshot and rejects the tampered
//     copy (skipped, saying so, without `go`).
#include <cstdlib>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "common/app/service_main.h"
#include "common/tlog/checkpoint.h"
#include "gtest/gtest.h"
#include "services/audit/audit_module.h"
#include "services/disclosure/disclosure_module.h"
#include "tests/e2e/e2e_util.h"

namespace pdao::disclosure {
namespace {

using e2e::CommandResult;

void WriteFile(const std::string& path, const std::string& data) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << data;
}

std::string FindGo() {
  const char* path = std::getenv("PATH");
  for (absl::string_view dir : absl::StrSplit(path ? path : "", ':', absl::SkipEmpty())) {
    const std::string candidate = absl::StrCat(dir, "/go");
    if (e2e::IsExecutable(candidate)) return candidate;
  }
  return "";
}

class SnapshotProofTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto dir = e2e::TempDir::Create("pdao-snapshot-proof");
    ASSERT_TRUE(dir.ok()) << dir.status();
    dir_ = std::move(*dir);
    ServiceMain main{.program = "test",
                     .description = "test",
                     .modules = {audit::AuditModule::Factory(), DisclosureModule::Factory()},
                     .embedded = true};
    auto app =
        App::FromArgs(main, {"--data-dir=" + dir_->path() + "/data", "--listen=127.0.0.1:0",
                             "--drain-timeout=2s", "--portal-listen=127.0.0.1:0",
                             "--audit-origin=pdao.it/audit", "--disclosure-proof-refresh=100ms"});
    ASSERT_TRUE(app.ok()) << app.status();
    app_ = std::move(*app);
    ASSERT_TRUE(app_->Start().ok());
    module_ = app_->module<DisclosureModule>("disclosure");
    ASSERT_NE(module_, nullptr);
    base_ = absl::StrCat("http://127.0.0.1:", module_->portal_port());

    // A snapshot with one report (the figure the tamper test changes). Publish names the latest
    // signed checkpoint, so it waits for the audit log's first one.
    v1::Snapshot snapshot;
    v1::AnnualReport* report = snapshot.add_reports();
    report->set_operator_org("op-1");
    report->set_year(2025);
    report->mutable_figures()->set_revenue_fen(1234500);
    ASSERT_TRUE(e2e::PollUntil([&] { return module_->snapshots().Publish(snapshot).ok(); },
                               absl::Seconds(20)));
    ASSERT_TRUE(e2e::PollUntil(
        [&] {
          auto latest = module_->snapshots().Latest();
          return latest.ok() && (*latest)->proof.has_value();
        },
        absl::Seconds(30)))
        << "the snapshot's audit entry never got a proof";
    auto served = e2e::HttpGet(module_->portal_port(), "/snapshots/1.json");
    ASSERT_TRUE(served.ok()) << served.status();
    json_ = *served;
    ASSERT_TRUE(absl::StrContains(json_, "1234500")) << json_;
    tampered_ = dir_->path() + "/tampered.json";
    WriteFile(tampered_, absl::StrReplaceAll(json_, {{"1234500", "1234600"}}));
  }

  void TearDown() override {
    if (app_ != nullptr) app_->Shutdown();
  }

  CommandResult Run(const std::vector<std::string>& argv) {
    auto r = e2e::RunCommand(argv, dir_->path(), absl::Seconds(60));
    EXPECT_TRUE(r.ok()) << r.status();
    return r.ok() ? *r : CommandResult{};
  }
  CommandResult Pdaoctl(std::vector<std::string> args) {
    args.insert(args.begin(), {PDAOCTL_BIN, "disclosure", "verify"});
    return Run(args);
  }

  std::unique_ptr<e2e::TempDir> dir_;
  std::unique_ptr<App> app_;
  DisclosureModule* module_ = nullptr;
  std::string base_;
  std::string json_;
  std::string tampered_;
};

TEST_F(SnapshotProofTest, PdaoctlVerifiesAPublishedSnapshotAndRejectsATamperedOne) {
  CommandResult ok = Pdaoctl({base_ + "/snapshots/1.json"});
  EXPECT_EQ(ok.exit_code, 0) << ok.out << ok.err;
  EXPECT_TRUE(absl::StrContains(ok.out, "OK: snapshot 1")) << ok.out;
  CommandResult latest = Pdaoctl({base_ + "/snapshots/latest.json"});
  EXPECT_EQ(latest.exit_code, 0) << latest.out << latest.err;

  CommandResult tampered = Pdaoctl(
      {tampered_, "--proof", base_ + "/snapshots/1.proof.json", "--key-url", base_ + "/log/key"});
  EXPECT_EQ(tampered.exit_code, 1) << tampered.out << tampered.err;
  EXPECT_TRUE(absl::StrContains(tampered.err, "snapshot hash")) << tampered.err;
  // The untouched bytes as a FILE verify the same way (the changed figure is what failed).
  WriteFile(dir_->path() + "/kept.json", json_);
  CommandResult kept =
      Pdaoctl({dir_->path() + "/kept.json", "--proof", base_ + "/snapshots/1.proof.json",
               "--key-url", base_ + "/log/key"});
  EXPECT_EQ(kept.exit_code, 0) << kept.out << kept.err;

  tlog::CheckpointSigner other = *tlog::CheckpointSigner::Generate("pdao.it/audit");
  CommandResult wrong_key =
      Pdaoctl({base_ + "/snapshots/1.json", "--key-line", other.verifier_key()});
  EXPECT_EQ(wrong_key.exit_code, 1) << wrong_key.out << wrong_key.err;
  EXPECT_TRUE(absl::StrContains(wrong_key.err, "checkpoint signature")) << wrong_key.err;

  CommandResult missing = Pdaoctl({base_ + "/snapshots/2.json"});
  EXPECT_EQ(missing.exit_code, 1) << missing.out << missing.err;
  EXPECT_EQ(Pdaoctl({"ftp://x/snapshots/1.json"}).exit_code, 2);
}

TEST_F(SnapshotProofTest, TheIndependentGoVerifierChecksTheSnapshotThroughTheTiles) {
  const std::string go = FindGo();
  if (go.empty()) GTEST_SKIP() << "`go` is not on PATH: the independent Go verifier cannot run";
  const std::string verifier = dir_->path() + "/tlog-verify";
  CommandResult build = Run({go, "build", "-C", PDAO_TLOG_VERIFY_DIR, "-o", verifier, "."});
  ASSERT_EQ(build.exit_code, 0) << build.out << build.err;

  CommandResult ok = Run({verifier, "-url", base_, "-snapshot-url", base_ + "/snapshots/1.json"});
  EXPECT_EQ(ok.exit_code, 0) << ok.out << ok.err;
  EXPECT_TRUE(absl::StrContains(ok.out, "OK: entry")) << ok.out;

  CommandResult bad = Run({verifier, "-url", base_, "-snapshot-file", tampered_, "-proof-url",
                           base_ + "/snapshots/1.proof.json"});
  EXPECT_EQ(bad.exit_code, 1) << bad.out << bad.err;
  EXPECT_TRUE(absl::StrContains(bad.err, "snapshot hash")) << bad.err;
}

}  // namespace
}  // namespace pdao::disclosure

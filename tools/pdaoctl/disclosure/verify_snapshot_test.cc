// `pdaoctl disclosure verify`'s decision (rule 41): a snapshot published through the real
// SnapshotStore, its event in a log signed with a real Ed25519 key, verifies; one changed figure,
// another key, the proof of another entry, a changed proof hash or checkpoint are each rejected
// and named.
#include "tools/pdaoctl/disclosure/verify_snapshot.h"

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "common/store/sqlite_store.h"
#include "common/testing/fake_clock.h"
#include "common/tlog/checkpoint.h"
#include "gtest/gtest.h"
#include "services/disclosure/snapshot_store.h"
#include "services/disclosure/testing/fake_audit_reader.h"

namespace pdao::pdaoctl::disclosure {
namespace {

using pdao::disclosure::PublishedSnapshot;
using pdao::disclosure::SnapshotStore;

bool Mentions(const SnapshotVerification& v, absl::string_view what) {
  for (const std::string& p : v.problems) {
    if (absl::StrContains(p, what)) return true;
  }
  return false;
}

class VerifySnapshotTest : public ::testing::Test {
 protected:
  void SetUp() override {
    store_ = *SqliteStore::Open(":memory:");
    signer_ = std::make_unique<tlog::CheckpointSigner>(
        *tlog::CheckpointSigner::Generate("pdao.test/audit"));
    for (int i = 0; i < 6; ++i) audit_.AppendEnvelope("other", clock_.Now());
    ASSERT_TRUE(audit_.SignCheckpoint(*signer_, clock_.Now()).ok());
    snapshots_ = *SnapshotStore::Open(*store_, clock_, audit_, {});
    for (int64_t revenue : {1234500, 999}) {
      pdao::disclosure::v1::Snapshot s;
      pdao::disclosure::v1::AnnualReport* r = s.add_reports();
      r->set_operator_org("op-1");
      r->set_year(2025);
      r->mutable_figures()->set_revenue_fen(revenue);
      ASSERT_TRUE(snapshots_->Publish(s).ok());
    }
    const std::vector<OutboxRecord> events = *store_->PendingOutbox(10);
    for (const OutboxRecord& r : events) audit_.AppendEnvelope(r.event.payload, clock_.Now());
    audit_.AppendEnvelope("later", clock_.Now());
    ASSERT_TRUE(audit_.SignCheckpoint(*signer_, clock_.Now()).ok());
    ASSERT_EQ(*snapshots_->RefreshProofs(), 2);
    first_ = *snapshots_->Get(1);
    second_ = *snapshots_->Get(2);
    ASSERT_TRUE(first_->proof.has_value());
  }

  FakeClock clock_;
  pdao::disclosure::testing::FakeAuditReader audit_;
  std::unique_ptr<SqliteStore> store_;
  std::unique_ptr<tlog::CheckpointSigner> signer_;
  std::unique_ptr<SnapshotStore> snapshots_;
  std::shared_ptr<const PublishedSnapshot> first_, second_;
};

TEST_F(VerifySnapshotTest, APublishedSnapshotVerifies) {
  SnapshotVerification v = VerifySnapshot(first_->json, *first_->proof, signer_->verifier_key());
  EXPECT_TRUE(v.ok()) << v.problems.front();
  // Also as served over HTTP: the proof through its JSON, the key with a newline.
  pdao::disclosure::v1::SnapshotProof proof = *ParseProofJson(R"({"sequence":"1"})");
  EXPECT_EQ(proof.sequence(), 1);
  EXPECT_TRUE(VerifySnapshot(second_->json, *second_->proof, signer_->verifier_key() + "\n").ok());
}

TEST_F(VerifySnapshotTest, OneChangedFigureIsRejected) {
  ASSERT_NE(first_->json.find("1234500"), std::string::npos) << first_->json;
  const std::string tampered = absl::StrReplaceAll(first_->json, {{"1234500", "1234600"}});
  SnapshotVerification v = VerifySnapshot(tampered, *first_->proof, signer_->verifier_key());
  EXPECT_FALSE(v.ok());
  EXPECT_TRUE(Mentions(v, "snapshot hash")) << v.problems.front();
}

TEST_F(VerifySnapshotTest, AnotherKeyIsRejected) {
  tlog::CheckpointSigner other = *tlog::CheckpointSigner::Generate("pdao.test/audit");
  SnapshotVerification v = VerifySnapshot(first_->json, *first_->proof, other.verifier_key());
  EXPECT_FALSE(v.ok());
  EXPECT_TRUE(Mentions(v, "checkpoint signature")) << v.problems.front();
  tlog::CheckpointSigner renamed = *tlog::CheckpointSigner::Generate("other.example/log");
  EXPECT_TRUE(
      Mentions(VerifySnapshot(first_->json, *first_->proof, renamed.verifier_key()), "origin"));
  EXPECT_TRUE(Mentions(VerifySnapshot(first_->json, *first_->proof, "not a key"), "verifier key"));
}

TEST_F(VerifySnapshotTest, TheProofOfAnotherEntryIsRejected) {
  // Snapshot 1's bytes with snapshot 2's (valid) proof: the entry's hash is not theirs.
  SnapshotVerification v = VerifySnapshot(first_->json, *second_->proof, signer_->verifier_key());
  EXPECT_FALSE(v.ok());
  EXPECT_TRUE(Mentions(v, "snapshot hash"));
  // Snapshot 1's entry claimed at snapshot 2's leaf index: not proven there.
  pdao::disclosure::v1::SnapshotProof moved = *first_->proof;
  moved.set_leaf_index(second_->proof->leaf_index());
  v = VerifySnapshot(first_->json, moved, signer_->verifier_key());
  EXPECT_FALSE(v.ok());
  EXPECT_TRUE(Mentions(v, "entry"));
  // One hash of the inclusion proof changed.
  pdao::disclosure::v1::SnapshotProof bent = *first_->proof;
  ASSERT_GT(bent.inclusion_proof_size(), 0);
  bent.mutable_inclusion_proof(0)->at(0) ^= 1;
  EXPECT_TRUE(Mentions(VerifySnapshot(first_->json, bent, signer_->verifier_key()), "inclusion"));
}

TEST_F(VerifySnapshotTest, AChangedCheckpointIsRejected) {
  pdao::disclosure::v1::SnapshotProof proof = *first_->proof;
  // Another tree size in the signed body: the signature no longer holds.
  proof.set_checkpoint_note(absl::StrReplaceAll(
      proof.checkpoint_note(), {{absl::StrCat("\n", proof.tree_size(), "\n"), "\n99\n"}}));
  SnapshotVerification v = VerifySnapshot(first_->json, proof, signer_->verifier_key());
  EXPECT_FALSE(v.ok());
  EXPECT_TRUE(Mentions(v, "checkpoint signature"));
  EXPECT_TRUE(Mentions(v, "tree size"));
  EXPECT_FALSE(ParseCheckpointNote("no blank line").ok());
  EXPECT_FALSE(ParseProofJson("{not json").ok());
}

}  // namespace
}  // namespace pdao::pdaoctl::disclosure

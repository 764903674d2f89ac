// Published snapshots (rule 41, "checkable against the log"): the bytes stored are the bytes
// hashed into the snapshot_published event and the bytes served; the proof appears only once the
// entry is in a signed checkpoint and verifies against it; retention and the wait list are bounded;
// an audit failure publishes nothing.
#include "services/disclosure/snapshot_store.h"

#include <openssl/sha.h>

#include "absl/strings/escaping.h"
#include "common/store/sqlite_store.h"
#include "common/testing/fake_clock.h"
#include "common/tlog/checkpoint.h"
#include "common/tlog/merkle.h"
#include "gtest/gtest.h"
#include "pdao/audit/v1/audit.pb.h"
#include "pdao/events/v1/envelope.pb.h"
#include "services/disclosure/testing/fake_audit_reader.h"

namespace pdao::disclosure {
namespace {

std::string Sha256(const std::string& bytes) {
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(bytes.data()), bytes.size(), digest);
  return std::string(reinterpret_cast<const char*>(digest), sizeof(digest));
}

v1::Snapshot SomeState(const std::string& agency) {
  v1::Snapshot s;
  s.mutable_agency()->set_agency_org(agency);
  return s;
}

class SnapshotStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    store_ = *SqliteStore::Open(":memory:");
    signer_ = std::make_unique<tlog::CheckpointSigner>(
        *tlog::CheckpointSigner::Generate("pdao.test/audit"));
    // Some unrelated entries first, so the snapshot's entry is not leaf 0.
    for (int i = 0; i < 5; ++i) audit_.AppendEnvelope("other", clock_.Now());
    ASSERT_TRUE(audit_.SignCheckpoint(*signer_, clock_.Now()).ok());
  }

  // What the outbox relay and the audit ingest do: every pending event becomes a log entry.
  std::vector<events::v1::Envelope> DeliverEvents() {
    std::vector<events::v1::Envelope> out;
    absl::StatusOr<std::vector<OutboxRecord>> records = store_->PendingOutbox(100);
    EXPECT_TRUE(records.ok());
    for (const OutboxRecord& r : *records) {
      EXPECT_EQ(r.event.topic, "pdao.disclosure.v1");
      audit_.AppendEnvelope(r.event.payload, clock_.Now());
      out.emplace_back().ParseFromString(r.event.payload);
    }
    EXPECT_TRUE(store_->MarkSent(*records).ok());
    return out;
  }

  std::unique_ptr<SnapshotStore> Open(SnapshotStoreOptions options = {}) {
    absl::StatusOr<std::unique_ptr<SnapshotStore>> s =
        SnapshotStore::Open(*store_, clock_, audit_, options);
    EXPECT_TRUE(s.ok()) << s.status();
    return s.ok() ? std::move(*s) : nullptr;
  }

  FakeClock clock_;
  testing::FakeAuditReader audit_;
  std::unique_ptr<SqliteStore> store_;
  std::unique_ptr<tlog::CheckpointSigner> signer_;
};

TEST_F(SnapshotStoreTest, PublishStoresTheBytesItHashesIntoTheEvent) {
  std::unique_ptr<SnapshotStore> snapshots = Open();
  EXPECT_TRUE(absl::IsNotFound(snapshots->Latest().status()));
  absl::StatusOr<int64_t> seq = snapshots->Publish(SomeState("agency-1"));
  ASSERT_TRUE(seq.ok()) << seq.status();
  EXPECT_EQ(*seq, 1);
  std::shared_ptr<const PublishedSnapshot> latest = *snapshots->Latest();
  EXPECT_EQ(latest->snapshot.sequence(), 1);
  EXPECT_EQ(latest->snapshot.built_from_tree_size(), 5u);
  EXPECT_EQ(latest->snapshot.built_at().seconds(), absl::ToUnixSeconds(clock_.Now()));
  EXPECT_FALSE(latest->proof.has_value());
  EXPECT_NE(latest->json.find("\"built_from_tree_size\""), std::string::npos)
      << "proto field names: " << latest->json;
  EXPECT_NE(latest->json.find("agency-1"), std::string::npos);

  std::vector<events::v1::Envelope> events = DeliverEvents();
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].action(), kSnapshotPublishedAction);
  EXPECT_EQ(events[0].aggregate().id(), "snapshot-1");
  EXPECT_EQ(events[0].snapshot_published().sequence(), 1);
  EXPECT_EQ(events[0].snapshot_published().sha256(), Sha256(latest->json));
  EXPECT_EQ(events[0].snapshot_published().size_bytes(), static_cast<int64_t>(latest->json.size()));

  clock_.Advance(absl::Seconds(10));
  ASSERT_EQ(*snapshots->Publish(SomeState("agency-2")), 2);
  EXPECT_EQ((*snapshots->Latest())->snapshot.sequence(), 2);
  // Snapshot 1 read back from the store: the same bytes, also after a restart.
  EXPECT_EQ((*snapshots->Get(1))->json, latest->json);
  std::unique_ptr<SnapshotStore> reopened = Open();
  EXPECT_EQ((*reopened->Latest())->snapshot.sequence(), 2);
  EXPECT_EQ((*reopened->Get(1))->json, latest->json);
  EXPECT_EQ(*reopened->Publish(SomeState("agency-3")), 3);
}

TEST_F(SnapshotStoreTest, TheProofComesOnceTheEntryIsInASignedCheckpointAndVerifies) {
  std::unique_ptr<SnapshotStore> snapshots = Open();
  ASSERT_TRUE(snapshots->Publish(SomeState("agency-1")).ok());
  EXPECT_EQ(snapshots->pending(), 1u);
  EXPECT_EQ(*snapshots->RefreshProofs(), 0) << "the event is not in the log yet";
  DeliverEvents();
  EXPECT_EQ(*snapshots->RefreshProofs(), 0) << "the entry is in no signed checkpoint yet";
  EXPECT_FALSE((*snapshots->Latest())->proof.has_value());
  audit_.AppendEnvelope("later", clock_.Now());
  ASSERT_TRUE(audit_.SignCheckpoint(*signer_, clock_.Now()).ok());
  EXPECT_EQ(*snapshots->RefreshProofs(), 1);
  EXPECT_EQ(snapshots->pending(), 0u);

  std::shared_ptr<const PublishedSnapshot> latest = *snapshots->Latest();
  ASSERT_TRUE(latest->proof.has_value());
  const v1::SnapshotProof& proof = *latest->proof;
  EXPECT_EQ(proof.sequence(), 1);
  EXPECT_EQ(proof.leaf_index(), 5u);
  EXPECT_EQ(proof.tree_size(), 7u);
  EXPECT_EQ(proof.sha256_hex(), absl::BytesToHexString(Sha256(latest->json)));
  audit::v1::AuditEntry entry;
  ASSERT_TRUE(entry.ParseFromString(proof.entry_bytes()));
  events::v1::Envelope envelope;
  ASSERT_TRUE(envelope.ParseFromString(entry.envelope()));
  EXPECT_EQ(envelope.snapshot_published().sha256(), Sha256(latest->json));
  // The proof verifies against the root of the signed note it names.
  const LogCheckpoint cp = *audit_.LatestCheckpoint();
  EXPECT_EQ(proof.checkpoint_note(), cp.note);
  std::vector<std::string> hashes(proof.inclusion_proof().begin(), proof.inclusion_proof().end());
  EXPECT_TRUE(tlog::VerifyInclusionBytes(
                  proof.leaf_index(), proof.tree_size(),
                  tlog::HashToBytes(tlog::LeafHash(absl::string_view(proof.entry_bytes()))), hashes,
                  cp.root_hash)
                  .ok());
  // Kept across a restart; nothing left to look up.
  std::unique_ptr<SnapshotStore> reopened = Open();
  ASSERT_TRUE((*reopened->Latest())->proof.has_value());
  EXPECT_EQ((*reopened->Latest())->proof->SerializeAsString(), proof.SerializeAsString());
  EXPECT_EQ(reopened->pending(), 0u);
}

TEST_F(SnapshotStoreTest, AnEntryWithAnotherHashIsNotTheSnapshotsProof) {
  std::unique_ptr<SnapshotStore> snapshots = Open();
  ASSERT_TRUE(snapshots->Publish(SomeState("agency-1")).ok());
  std::vector<OutboxRecord> records = *store_->PendingOutbox(10);
  ASSERT_EQ(records.size(), 1u);
  events::v1::Envelope forged;
  forged.ParseFromString(records[0].event.payload);
  forged.mutable_snapshot_published()->set_sha256(std::string(32, 'x'));
  audit_.AppendEnvelope(forged.SerializeAsString(), clock_.Now());
  ASSERT_TRUE(audit_.SignCheckpoint(*signer_, clock_.Now()).ok());
  EXPECT_EQ(*snapshots->RefreshProofs(), 0);
  EXPECT_EQ(snapshots->pending(), 1u);
}

TEST_F(SnapshotStoreTest, OnlyTheLastRetentionSnapshotsAreKept) {
  std::unique_ptr<SnapshotStore> snapshots = Open({.retention = 3});
  for (int i = 1; i <= 5; ++i) ASSERT_EQ(*snapshots->Publish(SomeState("a")), i);
  for (int64_t gone : {0, 1, 2, 6, -1}) {
    EXPECT_TRUE(absl::IsNotFound(snapshots->Get(gone).status())) << gone;
  }
  for (int64_t kept : {3, 4, 5}) EXPECT_EQ((*snapshots->Get(kept))->snapshot.sequence(), kept);
  ScanPage page = *store_->Scan("snapshots/{snapshots}/json/", "", 100);
  EXPECT_EQ(page.entries.size(), 3u) << "older snapshots are deleted from the store";
}

TEST_F(SnapshotStoreTest, TheWaitListForProofsIsBounded) {
  std::unique_ptr<SnapshotStore> snapshots = Open({.max_pending = 2});
  for (int i = 1; i <= 4; ++i) ASSERT_TRUE(snapshots->Publish(SomeState("a")).ok());
  EXPECT_EQ(snapshots->pending(), 2u);
  // Reading an old snapshot without a proof puts it back on the (bounded) list.
  ASSERT_TRUE(snapshots->Get(1).ok());
  EXPECT_EQ(snapshots->pending(), 2u);
}

TEST_F(SnapshotStoreTest, NothingIsPublishedWithoutTheCheckpointItNames) {
  std::unique_ptr<SnapshotStore> snapshots = Open();
  audit_.FailWith(absl::UnavailableError("audit down"));
  EXPECT_TRUE(absl::IsUnavailable(snapshots->Publish(SomeState("a")).status()));
  EXPECT_TRUE(absl::IsNotFound(snapshots->Latest().status()));
  EXPECT_TRUE(store_->PendingOutbox(10)->empty());
  EXPECT_TRUE(store_->Scan("snapshots/", "", 10)->entries.empty());
  audit_.FailWith(absl::OkStatus());
  ASSERT_EQ(*snapshots->Publish(SomeState("a")), 1);
  DeliverEvents();
  ASSERT_TRUE(audit_.SignCheckpoint(*signer_, clock_.Now()).ok());
  audit_.FailWith(absl::UnavailableError("audit down"));
  EXPECT_TRUE(absl::IsUnavailable(snapshots->RefreshProofs().status()));
  EXPECT_EQ(snapshots->pending(), 1u) << "retried on the next pass";
  audit_.FailWith(absl::OkStatus());
  EXPECT_EQ(*snapshots->RefreshProofs(), 1);
}

TEST_F(SnapshotStoreTest, BadOptionsAreRefused) {
  for (SnapshotStoreOptions o :
       {SnapshotStoreOptions{.retention = 0}, SnapshotStoreOptions{.retention = 100001},
        SnapshotStoreOptions{.max_pending = 0},
        SnapshotStoreOptions{.max_lookups_per_refresh = 0}}) {
    EXPECT_TRUE(absl::IsInvalidArgument(SnapshotStore::Open(*store_, clock_, audit_, o).status()));
  }
}

}  // namespace
}  // namespace pdao::disclosure

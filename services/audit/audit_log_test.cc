// AuditLog: durability, dedup, checkpoints and tamper detection on real files (rules 33, 34).
#include "services/audit/audit_log.h"

#include <fcntl.h>
#include <sys/resource.h>
#include <unistd.h>

#include <csignal>
#include <deque>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/blocking_counter.h"
#include "common/testing/fake_clock.h"
#include "google/protobuf/io/coded_stream.h"
#include "google/protobuf/io/zero_copy_stream_impl_lite.h"
#include "gtest/gtest.h"

namespace pdao::audit {
namespace {

using pdao::events::v1::Envelope;

std::string TempDir(const std::string& name) {
  std::string dir = absl::StrCat(::testing::TempDir(), "/audit_log_test_", name, "_", ::getpid());
  std::filesystem::remove_all(dir);
  return dir;
}

Envelope Event(const std::string& id) {
  Envelope e;
  e.set_event_id(id);
  e.set_producer("registry");
  e.set_action("registry.resource.registered");
  e.mutable_aggregate()->set_id("res-1");
  return e;
}

absl::StatusOr<AppendResult> Add(AuditLog& log, const std::string& id) {
  Envelope e = Event(id);
  return log.Append(e.SerializeAsString(), e, id, "grpc:test");
}

std::string ReadAll(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}
void WriteAll(const std::string& path, const std::string& data) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << data;
}

class AuditLogTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = TempDir(::testing::UnitTest::GetInstance()->current_test_info()->name());
    signer_ = std::make_unique<tlog::CheckpointSigner>(*tlog::CheckpointSigner::Generate());
  }
  std::unique_ptr<AuditLog> OpenLog(RecordFile::TornTailHook on_torn_tail = nullptr) {
    AuditLogOptions o;
    o.dir = dir_;
    o.on_torn_tail = std::move(on_torn_tail);
    o.checkpoint_interval = checkpoint_interval_;
    o.cached_checkpoints = cached_checkpoints_;
    o.max_batch = max_batch_;
    o.observers = observers_;
    absl::StatusOr<std::unique_ptr<AuditLog>> log = AuditLog::Open(o, clock_, *signer_);
    EXPECT_TRUE(log.ok()) << log.status();
    return log.ok() ? std::move(*log) : nullptr;
  }
  // Appends n entries, signs a checkpoint, closes.
  void Fill(int n) {
    auto log = OpenLog();
    for (int i = 0; i < n; ++i) ASSERT_TRUE(Add(*log, absl::StrCat("e", i)).ok());
    ASSERT_TRUE(log->CheckpointNow().ok());
  }
  std::string dir_;
  absl::Duration checkpoint_interval_ = absl::Hours(1);  // tests sign explicitly
  size_t cached_checkpoints_ = AuditLogOptions().cached_checkpoints;
  size_t max_batch_ = AuditLogOptions().max_batch;
  std::vector<EntryObserver*> observers_;
  FakeClock clock_;
  std::unique_ptr<tlog::CheckpointSigner> signer_;
};

TEST_F(AuditLogTest, AppendsSequentiallyAndDeduplicatesByEventId) {
  auto log = OpenLog();
  EXPECT_EQ(Add(*log, "a")->index, 0u);
  EXPECT_EQ(Add(*log, "b")->index, 1u);
  absl::StatusOr<AppendResult> again = Add(*log, "a");
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->index, 0u);
  EXPECT_TRUE(again->duplicate);
  EXPECT_EQ(log->size(), 2u);
}

TEST_F(AuditLogTest, DuplicatesInsideOneBatchGetTheFirstIndex) {
  auto log = OpenLog();
  std::vector<absl::StatusOr<AppendResult>> results(10);
  absl::BlockingCounter done(10);
  for (int i = 0; i < 10; ++i) {
    Envelope e = Event("same");
    log->AppendAsync(e.SerializeAsString(), e, "same", "t", [&, i](absl::StatusOr<AppendResult> r) {
      results[i] = r;
      done.DecrementCount();
    });
  }
  done.Wait();
  for (auto& r : results) ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(log->size(), 1u);
  for (auto& r : results) EXPECT_EQ(r->index, 0u);
}

// AppendBatch (the bus path) borrows its items and writes each entry's bytes without building the
// whole AuditEntry first (audit_log.cc AppendEntryBytes): the stored record must still be exactly
// the deterministic serialization of the entry it parses to, with the envelope as received, also
// for an empty payload (proto3 leaves an empty field out) and a large one (a multi-byte length).
TEST_F(AuditLogTest, BatchEntriesAreStoredAsTheDeterministicSerializationOfTheEntry) {
  auto log = OpenLog();
  Envelope big = Event("big");
  big.set_action(std::string(70000, 'x'));
  const std::vector<std::string> bytes = {Event("a").SerializeAsString(), "",
                                          big.SerializeAsString(), Event("a").SerializeAsString()};
  const std::vector<Envelope> parsed = {Event("a"), Envelope(), big, Event("a")};
  const std::vector<std::string> keys = {"a", "sha256:empty", "big", "a"};
  std::vector<AppendItem> items;
  for (size_t i = 0; i < bytes.size(); ++i) {
    items.push_back({bytes[i], &parsed[i], keys[i], i == 1 ? "bus:other" : "bus:topic"});
  }
  absl::StatusOr<std::vector<AppendResult>> results = log->AppendBatch(items);
  ASSERT_TRUE(results.ok()) << results.status();
  ASSERT_EQ(results->size(), 4u);
  EXPECT_EQ((*results)[3].index, 0u);  // a duplicate of the first item, in the same batch
  EXPECT_TRUE((*results)[3].duplicate);
  ASSERT_EQ(log->size(), 3u);
  for (uint64_t i = 0; i < 3; ++i) {
    absl::StatusOr<std::string> stored = log->GetEntryBytes(i);
    ASSERT_TRUE(stored.ok()) << stored.status();
    pdao::audit::v1::AuditEntry entry;
    ASSERT_TRUE(entry.ParseFromString(*stored)) << i;
    EXPECT_EQ(entry.index(), i);
    EXPECT_EQ(entry.envelope(), bytes[i]) << i;
    EXPECT_EQ(entry.source(), i == 1 ? "bus:other" : "bus:topic");
    EXPECT_GT(entry.ingested_at().seconds(), 0);
    std::string canonical;
    {
      google::protobuf::io::StringOutputStream stream(&canonical);
      google::protobuf::io::CodedOutputStream coded(&stream);
      coded.SetSerializationDeterministic(true);
      entry.SerializeToCodedStream(&coded);
    }
    EXPECT_EQ(*stored, canonical) << "entry " << i;
  }
}

// Remembers the indexes it is told of, slowly: a caller answered before the observers have its
// entry would find it missing.
class SlowRecorder final : public EntryObserver {
 public:
  void OnEntries(absl::Span<const ObservedEntry> entries, bool replay) override {
    absl::SleepFor(absl::Milliseconds(20));
    absl::MutexLock lock(&mu_);
    for (const ObservedEntry& e : entries) seen_.push_back({e.index, e.envelope->event_id()});
  }
  std::vector<std::pair<uint64_t, std::string>> seen() {
    absl::MutexLock lock(&mu_);
    return seen_;
  }

 private:
  absl::Mutex mu_;
  std::vector<std::pair<uint64_t, std::string>> seen_ ABSL_GUARDED_BY(mu_);
};

// Items borrowed by an appender: envelopes "<prefix>0".."<prefix>n-1", the first `big_bytes`
// long when that is not 0.
struct Items {
  Items(const std::string& prefix, int n, size_t big_bytes = 0) {
    for (int i = 0; i < n; ++i) {
      Envelope e = Event(absl::StrCat(prefix, i));
      if (i == 0 && big_bytes > 0) e.set_action(std::string(big_bytes, 'x'));
      parsed.push_back(e);
      bytes.push_back(e.SerializeAsString());
    }
    for (int i = 0; i < n; ++i) {
      items.push_back({bytes[i], &parsed[i], parsed[i].event_id(), "bus:topic"});
    }
  }
  std::deque<Envelope> parsed;  // stable addresses
  std::deque<std::string> bytes;
  std::vector<AppendItem> items;
};

// Issue 10: the ingest queues a batch in pieces while it parses the rest (BatchAppender). The
// entries land in the order added, each once, and the observers (on their own thread) have every
// entry before Finish answers.
TEST_F(AuditLogTest, AnAppenderInPiecesKeepsItsOrderAndObserversHaveEachEntryBeforeTheAnswer) {
  SlowRecorder recorder;
  observers_ = {&recorder};
  max_batch_ = 3;  // several group commits, so several observer calls
  auto log = OpenLog();
  Items first("a", 5), second("b", 4);
  AuditLog::BatchAppender appender(*log);
  ASSERT_TRUE(appender.Add(first.items).ok());
  ASSERT_TRUE(appender.Add(second.items).ok());
  absl::StatusOr<std::vector<AppendResult>> results = appender.Finish();
  ASSERT_TRUE(results.ok()) << results.status();
  ASSERT_EQ(results->size(), 9u);
  const std::vector<std::pair<uint64_t, std::string>> seen = recorder.seen();
  ASSERT_EQ(seen.size(), 9u) << "answered before the observers had every entry";
  for (uint64_t i = 0; i < 9; ++i) {
    EXPECT_EQ((*results)[i].index, i);
    EXPECT_FALSE((*results)[i].duplicate);
    EXPECT_EQ(seen[i].first, i);
    EXPECT_EQ(seen[i].second, i < 5 ? absl::StrCat("a", i) : absl::StrCat("b", i - 5));
  }
}

// Issue 10, rule 34: when an item of an appender fails to be written, no later item of the same
// appender is appended, even one the disk would take, so a retry of the batch puts every item
// in its order with no hole (a partition's order is what the audit trail records). The write
// fails for real: the file size limit (RLIMIT_FSIZE) leaves room for a small entry only.
TEST_F(AuditLogTest, AFailedWriteStopsTheLaterItemsOfItsAppender) {
  max_batch_ = 1;  // each item is its own commit: the small one would fit after the big one failed
  auto log = OpenLog();
  ASSERT_TRUE(Add(*log, "before").ok());
  Items big("big", 1, 64 << 10), small("small", 2);
  const uintmax_t size = std::filesystem::file_size(dir_ + "/entries.log");
  rlimit old{};
  ASSERT_EQ(::getrlimit(RLIMIT_FSIZE, &old), 0);
  auto previous = std::signal(SIGXFSZ, SIG_IGN);  // EFBIG instead of the signal
  rlimit limit = old;
  limit.rlim_cur = static_cast<rlim_t>(size + 4096);  // room for the small ones, not the big one
  ASSERT_EQ(::setrlimit(RLIMIT_FSIZE, &limit), 0);
  absl::StatusOr<std::vector<AppendResult>> results;
  absl::Status added;
  {
    AuditLog::BatchAppender appender(*log);
    EXPECT_TRUE(appender.Add(big.items).ok());
    added = appender.Add(small.items);  // queued behind the big one, or refused once it failed
    results = appender.Finish();
  }
  ASSERT_EQ(::setrlimit(RLIMIT_FSIZE, &old), 0);
  std::signal(SIGXFSZ, previous);
  ASSERT_FALSE(results.ok());
  EXPECT_NE(results.status().message().find("cannot write"), std::string::npos) << results.status();
  if (!added.ok()) {
    EXPECT_EQ(added, results.status());
  }
  EXPECT_EQ(log->size(), 1u) << "an item after the failed one was appended";
  EXPECT_EQ(std::filesystem::file_size(dir_ + "/entries.log"), size) << "a partial record stayed";

  // The retry, with room: every item in its order after the entry before.
  results = log->AppendBatch(big.items);
  ASSERT_TRUE(results.ok()) << results.status();
  results = log->AppendBatch(small.items);
  ASSERT_TRUE(results.ok()) << results.status();
  EXPECT_EQ((*results)[0].index, 2u);
  EXPECT_EQ((*results)[1].index, 3u);
  EXPECT_EQ(log->size(), 4u);
}

// An empty log answers with a signed checkpoint of size 0 whose root is the RFC 9162 empty root,
// SHA-256 of the empty string (e3b0c442...b855), not NOT_FOUND; the first entry moves it on.
TEST_F(AuditLogTest, EmptyLogHasASignedCheckpointOfSizeZero) {
  auto log = OpenLog();
  absl::StatusOr<pdao::audit::v1::SignedCheckpoint> cp = log->GetCheckpoint(0);
  ASSERT_TRUE(cp.ok()) << cp.status();
  EXPECT_EQ(cp->tree_size(), 0u);
  const std::string kEmptySha256 =
      absl::HexStringToBytes("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(cp->root_hash(), kEmptySha256);
  EXPECT_TRUE(tlog::VerifyCheckpoint(*cp, signer_->public_key()).ok());
  ASSERT_TRUE(Add(*log, "first").ok());
  ASSERT_TRUE(log->CheckpointNow().ok());
  EXPECT_EQ(log->GetCheckpoint(0)->tree_size(), 1u);
  log.reset();
  EXPECT_EQ(OpenLog()->GetCheckpoint(0)->tree_size(), 1u);
}

TEST_F(AuditLogTest, AcknowledgedEntriesSurviveReopenAndProofsVerify) {
  Fill(37);
  auto log = OpenLog();
  ASSERT_TRUE(log->integrity_error().ok()) << log->integrity_error();
  EXPECT_EQ(log->size(), 37u);
  EXPECT_TRUE(Add(*log, "e5")->duplicate) << "dedup map is rebuilt on recovery";
  absl::StatusOr<pdao::audit::v1::SignedCheckpoint> cp = log->GetCheckpoint(0);
  ASSERT_TRUE(cp.ok());
  EXPECT_EQ(cp->tree_size(), 37u);
  EXPECT_TRUE(tlog::VerifyCheckpoint(*cp, signer_->public_key()).ok());
  tlog::Hash root = *tlog::HashFromBytes(cp->root_hash(), "root");
  for (uint64_t i = 0; i < 37; ++i) {
    std::string bytes = *log->GetEntryBytes(i);
    pdao::audit::v1::AuditEntry entry;
    ASSERT_TRUE(entry.ParseFromString(bytes));
    EXPECT_EQ(entry.index(), i);
    auto proof = log->InclusionProof(i, 37);
    ASSERT_TRUE(proof.ok());
    EXPECT_TRUE(
        tlog::VerifyInclusion(i, 37, tlog::LeafHash(absl::string_view(bytes)), *proof, root).ok());
  }
  ASSERT_TRUE(Add(*log, "more").ok());
  ASSERT_TRUE(log->CheckpointNow().ok());
  auto cp2 = log->GetCheckpoint(0);
  auto proof = log->ConsistencyProof(37, 38);
  ASSERT_TRUE(proof.ok());
  EXPECT_TRUE(
      tlog::VerifyConsistency(37, 38, *proof, root, *tlog::HashFromBytes(cp2->root_hash(), "r"))
          .ok());
  EXPECT_TRUE(log->GetCheckpoint(37).ok());
  EXPECT_TRUE(absl::IsNotFound(log->GetCheckpoint(12).status()));
}

// Issue 10: under load the checkpointer signs up to 1/interval checkpoints per second, forever;
// only the latest `cached_checkpoints` stay parsed in memory, and every older one is still served
// by size (read from checkpoints.log), before and after a reopen.
TEST_F(AuditLogTest, OnlyTheLatestCheckpointsStayInMemoryAndOlderOnesAreReadFromTheFile) {
  cached_checkpoints_ = 4;
  constexpr uint64_t kSigned = 300;
  auto check_all = [&](AuditLog& log) {
    for (uint64_t size = 1; size <= kSigned; ++size) {
      absl::StatusOr<pdao::audit::v1::SignedCheckpoint> cp = log.GetCheckpoint(size);
      ASSERT_TRUE(cp.ok()) << size << ": " << cp.status();
      EXPECT_EQ(cp->tree_size(), size);
      EXPECT_TRUE(tlog::VerifyCheckpoint(*cp, signer_->public_key()).ok()) << size;
      EXPECT_EQ(cp->root_hash(), tlog::HashToBytes(*log.RootAt(size))) << size;
    }
    EXPECT_EQ(log.GetCheckpoint(0)->tree_size(), kSigned);
    EXPECT_TRUE(absl::IsNotFound(log.GetCheckpoint(kSigned + 1).status()));
  };
  {
    auto log = OpenLog();
    for (uint64_t i = 0; i < kSigned; ++i) {
      ASSERT_TRUE(Add(*log, absl::StrCat("e", i)).ok());
      ASSERT_TRUE(log->CheckpointNow().ok());
      EXPECT_LE(log->cached_checkpoints(), 4u);
    }
    EXPECT_EQ(log->cached_checkpoints(), 4u);
    check_all(*log);
  }
  auto log = OpenLog();
  ASSERT_TRUE(log->integrity_error().ok()) << log->integrity_error();
  EXPECT_EQ(log->cached_checkpoints(), 4u) << "recovery keeps the same bound";
  check_all(*log);
}

// The checkpointer is woken by a durable batch: no CheckpointNow, a short gap, and the entry gets
// covered (polled with a deadline, nothing timed).
TEST_F(AuditLogTest, ADurableBatchIsCheckpointedWithoutATick) {
  checkpoint_interval_ = absl::Milliseconds(1);
  auto log = OpenLog();
  ASSERT_TRUE(Add(*log, "a").ok());
  ASSERT_TRUE(Add(*log, "b").ok());
  const absl::Time deadline = absl::Now() + absl::Seconds(30);
  while (log->GetCheckpoint(0)->tree_size() < 2 && absl::Now() < deadline) {
    absl::SleepFor(absl::Milliseconds(1));
  }
  EXPECT_EQ(log->GetCheckpoint(0)->tree_size(), 2u);
  EXPECT_TRUE(tlog::VerifyCheckpoint(*log->GetCheckpoint(0), signer_->public_key()).ok());
}

TEST_F(AuditLogTest, TornTailIsTruncatedAndTheLogStaysIntact) {
  Fill(5);
  const std::string path = dir_ + "/entries.log";
  std::string data = ReadAll(path);
  WriteAll(path, data + data.substr(0, 30));           // half a record: an interrupted batch
  std::vector<std::pair<std::string, uint64_t>> torn;  // never silent (issue 10): reported
  auto log = OpenLog([&](const std::string& p, uint64_t bytes) { torn.emplace_back(p, bytes); });
  ASSERT_EQ(torn.size(), 1u);
  EXPECT_EQ(torn[0].first, path);
  EXPECT_EQ(torn[0].second, 30u);
  EXPECT_TRUE(log->integrity_error().ok()) << log->integrity_error();
  EXPECT_EQ(log->size(), 5u);
  EXPECT_EQ(ReadAll(path), data);
  EXPECT_TRUE(Add(*log, "after").ok());
}

TEST_F(AuditLogTest, FlippedByteInTheMiddleIsDetected) {
  Fill(5);
  const std::string path = dir_ + "/entries.log";
  std::string data = ReadAll(path);
  data[20] ^= 1;
  WriteAll(path, data);
  auto log = OpenLog();
  EXPECT_TRUE(absl::IsDataLoss(log->integrity_error()));
  EXPECT_TRUE(absl::IsFailedPrecondition(Add(*log, "x").status())) << "fail closed (rule 34)";
}

// Rewrites entries.log through the record framing, so every CRC is valid: only the Merkle
// checks can catch it.
void RewriteEntries(const std::string& dir,
                    const std::function<void(std::vector<std::string>&)>& edit) {
  std::vector<std::string> records;
  {
    auto f = RecordFile::Open(dir + "/entries.log", [&](uint64_t, absl::string_view p) {
      records.emplace_back(p);
      return absl::OkStatus();
    });
    ASSERT_TRUE(f.ok());
  }
  edit(records);
  std::filesystem::remove(dir + "/entries.log");
  auto f = RecordFile::Open(dir + "/entries.log",
                            [](uint64_t, absl::string_view) { return absl::OkStatus(); });
  ASSERT_TRUE(f.ok());
  if (!records.empty()) {
    ASSERT_TRUE((*f)->Append(records).ok());
  }
}

TEST_F(AuditLogTest, ChangedEntryWithValidCrcIsDetected) {
  Fill(6);
  RewriteEntries(dir_, [](std::vector<std::string>& r) {
    pdao::audit::v1::AuditEntry e;
    e.ParseFromString(r[3]);
    e.set_source("grpc:forged");
    r[3] = e.SerializeAsString();
  });
  auto log = OpenLog();
  EXPECT_TRUE(absl::IsDataLoss(log->integrity_error()));
  EXPECT_NE(log->integrity_error().message().find("changed"), std::string::npos);
}

TEST_F(AuditLogTest, DeletedReorderedOrTruncatedEntriesAreDetected) {
  for (int mode = 0; mode < 3; ++mode) {
    dir_ = TempDir(absl::StrCat("mode", mode));
    Fill(6);
    RewriteEntries(dir_, [mode](std::vector<std::string>& r) {
      if (mode == 0) r.erase(r.begin() + 2);
      if (mode == 1) std::swap(r[1], r[2]);
      if (mode == 2) r.resize(4);
    });
    auto log = OpenLog();
    EXPECT_TRUE(absl::IsDataLoss(log->integrity_error())) << "mode " << mode;
  }
}

TEST_F(AuditLogTest, CheckpointSignatureRejectsAnotherKeyAndAForgedNote) {
  Fill(3);
  auto log = OpenLog();
  auto cp = *log->GetCheckpoint(0);
  auto other = *tlog::CheckpointSigner::Generate();
  EXPECT_TRUE(absl::IsFailedPrecondition(tlog::VerifyCheckpoint(cp, other.public_key())));
  cp.set_tree_size(4);
  EXPECT_TRUE(absl::IsFailedPrecondition(tlog::VerifyCheckpoint(cp, signer_->public_key())));
}

// A checkpoints.log written before the C2SP format: its legacy checkpoints still verify at Open
// (no integrity error), and the latest size is signed again as a C2SP note, so the latest
// checkpoint served is one that C2SP tools read. Changing the origin re-signs the same way.
TEST_F(AuditLogTest, LegacyCheckpointsVerifyAndTheLatestIsResignedAsAC2spNote) {
  Fill(3);
  const std::string path = dir_ + "/checkpoints.log";
  {
    auto log = OpenLog();
    tlog::Hash root = *log->RootAt(3);
    log.reset();
    std::filesystem::remove(path);
    pdao::audit::v1::SignedCheckpoint legacy = *signer_->Sign(3, root, absl::FromUnixSeconds(1));
    legacy.set_note(tlog::LegacyCheckpointNote(3, root, absl::FromUnixSeconds(1)));
    legacy.set_signature(*signer_->SignBytes(legacy.note()));
    auto file =
        RecordFile::Open(path, [](uint64_t, absl::string_view) { return absl::OkStatus(); });
    ASSERT_TRUE(file.ok()) << file.status();
    ASSERT_TRUE((*file)->Append({legacy.SerializeAsString()}).ok());
  }
  auto log = OpenLog();
  ASSERT_TRUE(log->integrity_error().ok()) << log->integrity_error();
  auto cp = log->GetCheckpoint(0);
  ASSERT_TRUE(cp.ok());
  EXPECT_EQ(cp->tree_size(), 3u);
  EXPECT_TRUE(tlog::IsC2spCheckpointFrom(*cp, tlog::kDefaultLogOrigin)) << cp->note();
  EXPECT_TRUE(tlog::VerifyCheckpoint(*cp, signer_->public_key()).ok());
  log.reset();
  // Another origin for the same key: the same size is signed again under it.
  signer_ = std::make_unique<tlog::CheckpointSigner>(
      *tlog::CheckpointSigner::FromPem(*signer_->private_key_pem(), "pdao.test/other"));
  log = OpenLog();
  ASSERT_TRUE(log->integrity_error().ok()) << log->integrity_error();
  EXPECT_TRUE(tlog::IsC2spCheckpointFrom(*log->GetCheckpoint(0), "pdao.test/other"));
}

}  // namespace
}  // namespace pdao::audit

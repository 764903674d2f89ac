#include "common/store/store_conformance.h"

#include <algorithm>
#include <atomic>
#include <map>
#include <set>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/synchronization/notification.h"
#include "common/store/shard.h"
#include "gmock/gmock.h"

namespace pdao {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::SizeIs;

CommitRequest PutReq(const std::string& shard, const std::string& key, const std::string& value,
                     int64_t expected) {
  CommitRequest req;
  req.shard = shard;
  req.puts.push_back({key, value, expected});
  return req;
}

OutboxEvent Event(const std::string& id, const std::string& key = "agg") {
  return OutboxEvent{"pdao.test.v1", key, id, absl::StrCat("payload-", id)};
}

std::vector<OutboxRecord> AllPending(Store& store) {
  absl::StatusOr<std::vector<OutboxRecord>> pending = store.PendingOutbox(10000);
  EXPECT_TRUE(pending.ok()) << pending.status();
  return pending.ok() ? *pending : std::vector<OutboxRecord>{};
}

std::vector<std::string> EventIds(const std::vector<OutboxRecord>& records,
                                  const std::string& shard) {
  std::vector<std::string> ids;
  for (const OutboxRecord& r : records) {
    if (r.shard == shard) ids.push_back(r.event.event_id);
  }
  return ids;
}

std::vector<std::string> ScanAll(Store& store, const std::string& prefix, int page_size) {
  std::vector<std::string> keys;
  std::string after;
  for (int pages = 0; pages < 10000; ++pages) {
    absl::StatusOr<ScanPage> page = store.Scan(prefix, after, page_size);
    EXPECT_TRUE(page.ok()) << page.status();
    if (!page.ok()) break;
    EXPECT_LE(static_cast<int>(page->entries.size()), page_size);
    for (const ScanEntry& e : page->entries) keys.push_back(e.key);
    if (page->next_start_after.empty()) break;
    after = page->next_start_after;
  }
  return keys;
}

}  // namespace

void PrintTo(const StoreFactory& factory, std::ostream* os) { *os << factory.name; }

std::string StoreFactoryName(const ::testing::TestParamInfo<StoreFactory>& info) {
  return info.param.name;
}

void StoreConformanceTest::SetUp() {
  absl::StatusOr<std::unique_ptr<Store>> store = GetParam().make();
  ASSERT_TRUE(store.ok()) << store.status();
  store_ = *std::move(store);
}

TEST_P(StoreConformanceTest, GetMissingKeyIsNullopt) {
  absl::StatusOr<std::optional<VersionedValue>> got = store().Get("item/none");
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_FALSE(got->has_value());
}

TEST_P(StoreConformanceTest, PutThenGetAndVersionsIncrementByOne) {
  absl::StatusOr<CommitResult> r1 = store().Commit(PutReq("a", "item/{a}", "one", kMustNotExist));
  ASSERT_TRUE(r1.ok()) << r1.status();
  EXPECT_FALSE(r1->replayed);
  EXPECT_THAT(r1->versions, ElementsAre(1));

  absl::StatusOr<CommitResult> r2 = store().Commit(PutReq("a", "item/{a}", "two", 1));
  ASSERT_TRUE(r2.ok()) << r2.status();
  EXPECT_THAT(r2->versions, ElementsAre(2));

  absl::StatusOr<CommitResult> r3 = store().Commit(PutReq("a", "item/{a}", "three", kAnyVersion));
  ASSERT_TRUE(r3.ok()) << r3.status();
  EXPECT_THAT(r3->versions, ElementsAre(3));

  absl::StatusOr<std::optional<VersionedValue>> got = store().Get("item/{a}");
  ASSERT_TRUE(got.ok()) << got.status();
  ASSERT_TRUE(got->has_value());
  EXPECT_EQ((*got)->value, "three");
  EXPECT_EQ((*got)->version, 3);

  // Several puts in one commit: versions in request order.
  CommitRequest multi;
  multi.shard = "a";
  multi.puts = {{"item/{a}/x", "x", kMustNotExist},
                {"item/{a}", "four", 3},
                {"item/{a}/y", "y", kAnyVersion}};
  absl::StatusOr<CommitResult> r4 = store().Commit(multi);
  ASSERT_TRUE(r4.ok()) << r4.status();
  EXPECT_THAT(r4->versions, ElementsAre(1, 4, 1));
}

TEST_P(StoreConformanceTest, CreateOnlyConflictsWhenKeyExists) {
  ASSERT_TRUE(store().Commit(PutReq("a", "item/{a}", "one", kMustNotExist)).ok());
  absl::StatusOr<CommitResult> again =
      store().Commit(PutReq("a", "item/{a}", "other", kMustNotExist));
  ASSERT_EQ(again.status().code(), absl::StatusCode::kAborted) << again.status();
  EXPECT_THAT(again.status().message(), HasSubstr("item/{a}"));
  EXPECT_THAT(again.status().message(), HasSubstr("expected version 0"));
  EXPECT_THAT(again.status().message(), HasSubstr("actual 1"));
  absl::StatusOr<std::optional<VersionedValue>> got = store().Get("item/{a}");
  ASSERT_TRUE(got.ok() && got->has_value());
  EXPECT_EQ((*got)->value, "one");
}

TEST_P(StoreConformanceTest, VersionConflictAbortsAndWritesNothing) {
  CommitRequest setup;
  setup.shard = "a";
  setup.puts = {{"item/{a}", "v1", kMustNotExist}, {"item/{a}/old", "old", kMustNotExist}};
  ASSERT_TRUE(store().Commit(setup).ok());
  const size_t pending_before = AllPending(store()).size();

  CommitRequest bad;
  bad.shard = "a";
  bad.puts = {{"item/{a}/new", "new", kMustNotExist}, {"item/{a}", "v2", 5}};
  bad.deletes = {{"item/{a}/old", 1}};
  bad.events = {Event("e-bad")};
  bad.idempotency_key = "idem-conflict";
  bad.idempotency_result = "first";
  absl::StatusOr<CommitResult> result = store().Commit(bad);
  ASSERT_EQ(result.status().code(), absl::StatusCode::kAborted) << result.status();
  EXPECT_THAT(result.status().message(), HasSubstr("'item/{a}'"));
  EXPECT_THAT(result.status().message(), HasSubstr("expected version 5"));
  EXPECT_THAT(result.status().message(), HasSubstr("actual 1"));

  // Nothing of the commit is visible: not the create, not the delete, not the event.
  absl::StatusOr<std::optional<VersionedValue>> created = store().Get("item/{a}/new");
  ASSERT_TRUE(created.ok());
  EXPECT_FALSE(created->has_value());
  absl::StatusOr<std::optional<VersionedValue>> old = store().Get("item/{a}/old");
  ASSERT_TRUE(old.ok());
  ASSERT_TRUE(old->has_value());
  absl::StatusOr<std::optional<VersionedValue>> main = store().Get("item/{a}");
  ASSERT_TRUE(main.ok() && main->has_value());
  EXPECT_EQ((*main)->value, "v1");
  EXPECT_EQ((*main)->version, 1);
  EXPECT_EQ(AllPending(store()).size(), pending_before);

  // Nor the idempotency key: the corrected retry with the same key runs for real.
  bad.puts[1].expected_version = 1;
  absl::StatusOr<CommitResult> retry = store().Commit(bad);
  ASSERT_TRUE(retry.ok()) << retry.status();
  EXPECT_FALSE(retry->replayed);
  EXPECT_THAT(retry->versions, ElementsAre(1, 2));
  EXPECT_EQ(AllPending(store()).size(), pending_before + 1);
}

TEST_P(StoreConformanceTest, IdempotentReplayReturnsFirstResultAndWritesNothing) {
  CommitRequest first;
  first.shard = "a";
  first.puts = {{"item/{a}", "v1", kMustNotExist}};
  first.events = {Event("e1")};
  first.idempotency_key = "req-42";
  first.idempotency_result = "response-of-first";
  absl::StatusOr<CommitResult> r1 = store().Commit(first);
  ASSERT_TRUE(r1.ok()) << r1.status();
  EXPECT_FALSE(r1->replayed);
  EXPECT_EQ(r1->idempotency_result, "response-of-first");

  // A retry (even one that differs, even one whose version check would fail) is a replay.
  CommitRequest second = first;
  second.puts = {{"item/{a}", "v2", kMustNotExist}, {"item/{a}/extra", "x", kAnyVersion}};
  second.events = {Event("e2")};
  second.idempotency_result = "response-of-second";
  absl::StatusOr<CommitResult> r2 = store().Commit(second);
  ASSERT_TRUE(r2.ok()) << r2.status();
  EXPECT_TRUE(r2->replayed);
  EXPECT_EQ(r2->idempotency_result, "response-of-first");
  EXPECT_THAT(r2->versions, IsEmpty());

  absl::StatusOr<std::optional<VersionedValue>> got = store().Get("item/{a}");
  ASSERT_TRUE(got.ok() && got->has_value());
  EXPECT_EQ((*got)->value, "v1");
  EXPECT_EQ((*got)->version, 1);
  absl::StatusOr<std::optional<VersionedValue>> extra = store().Get("item/{a}/extra");
  ASSERT_TRUE(extra.ok());
  EXPECT_FALSE(extra->has_value());
  std::vector<OutboxRecord> pending = AllPending(store());
  EXPECT_THAT(EventIds(pending, "a"), ElementsAre("e1"));

  // Another key is a new request.
  second.idempotency_key = "req-43";
  second.puts = {{"item/{a}", "v2", 1}};
  absl::StatusOr<CommitResult> r3 = store().Commit(second);
  ASSERT_TRUE(r3.ok()) << r3.status();
  EXPECT_FALSE(r3->replayed);
  EXPECT_EQ(r3->idempotency_result, "response-of-second");
}

TEST_P(StoreConformanceTest, DeleteChecksVersionAndRemovesRecord) {
  ASSERT_TRUE(store().Commit(PutReq("d", "item/{d}", "v", kMustNotExist)).ok());
  ASSERT_TRUE(store().Commit(PutReq("d", "item/{d}", "v2", 1)).ok());

  CommitRequest del;
  del.shard = "d";
  del.deletes = {{"item/{d}", 1}};
  absl::StatusOr<CommitResult> wrong = store().Commit(del);
  ASSERT_EQ(wrong.status().code(), absl::StatusCode::kAborted) << wrong.status();
  EXPECT_THAT(wrong.status().message(), HasSubstr("item/{d}"));

  del.deletes = {{"item/{d}", 2}};
  absl::StatusOr<CommitResult> ok = store().Commit(del);
  ASSERT_TRUE(ok.ok()) << ok.status();
  EXPECT_THAT(ok->versions, IsEmpty());
  absl::StatusOr<std::optional<VersionedValue>> got = store().Get("item/{d}");
  ASSERT_TRUE(got.ok());
  EXPECT_FALSE(got->has_value());
  EXPECT_THAT(ScanAll(store(), "item/", 10), IsEmpty());

  // Deleting a missing key: fine blind, a conflict with an exact version.
  del.deletes = {{"item/{d}", kAnyVersion}};
  EXPECT_TRUE(store().Commit(del).ok());
  del.deletes = {{"item/{d}", 2}};
  EXPECT_EQ(store().Commit(del).status().code(), absl::StatusCode::kAborted);

  // Re-created after delete: versions start again at 1.
  absl::StatusOr<CommitResult> again = store().Commit(PutReq("d", "item/{d}", "v3", kMustNotExist));
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_THAT(again->versions, ElementsAre(1));
}

TEST_P(StoreConformanceTest, ScanReturnsPrefixInKeyOrderAcrossPages) {
  // 300 keys over 60 aggregates (shards), plus neighbours that must not match the prefix.
  std::set<std::string> expected;
  for (int agg = 0; agg < 60; ++agg) {
    const std::string shard = absl::StrFormat("a-%d", agg);
    const std::string root = absl::StrFormat("item/{%s}", shard);
    CommitRequest req;
    req.shard = shard;
    req.puts.push_back({root, "root", kMustNotExist});
    expected.insert(root);
    for (int sub = 0; sub < 4; ++sub) {
      const std::string key = absl::StrFormat("%s/s/%d", root, sub);
      req.puts.push_back({key, absl::StrCat("value-", key), kMustNotExist});
      expected.insert(key);
    }
    ASSERT_TRUE(store().Commit(req).ok());
  }
  for (const std::string key : {"item", "item0/x", "itemz/x", "ite/x", "other/x"}) {
    ASSERT_TRUE(store().Commit(PutReq(std::string(key), key, "n", kMustNotExist)).ok()) << key;
  }
  const std::vector<std::string> want(expected.begin(), expected.end());

  for (int page_size : {1, 7, 300, 1000}) {
    EXPECT_EQ(ScanAll(store(), "item/", page_size), want) << "page size " << page_size;
  }

  // Exactly `limit` entries left: the page is full and the next page is empty.
  absl::StatusOr<ScanPage> tail = store().Scan("item/", want[want.size() - 3], 2);
  ASSERT_TRUE(tail.ok()) << tail.status();
  ASSERT_THAT(tail->entries, SizeIs(2));
  EXPECT_EQ(tail->entries[1].key, want.back());
  EXPECT_EQ(tail->next_start_after, "");

  // Values and versions come with the keys.
  absl::StatusOr<ScanPage> one = store().Scan("item/{a-7}/s/", "", 10);
  ASSERT_TRUE(one.ok()) << one.status();
  ASSERT_THAT(one->entries, SizeIs(4));
  EXPECT_EQ(one->entries[2].key, "item/{a-7}/s/2");
  EXPECT_EQ(one->entries[2].value.value, "value-item/{a-7}/s/2");
  EXPECT_EQ(one->entries[2].value.version, 1);

  // start_after before the prefix starts at the prefix; an empty prefix scans everything.
  absl::StatusOr<ScanPage> from_a = store().Scan("item/", "a", 1);
  ASSERT_TRUE(from_a.ok());
  ASSERT_THAT(from_a->entries, SizeIs(1));
  EXPECT_EQ(from_a->entries[0].key, want.front());
  EXPECT_EQ(ScanAll(store(), "", 50).size(), want.size() + 5);
}

// A large commit (more creates than a Redis script passes to one multi-key command): every key is
// created with version 1 and scannable; a create conflict far into the commit is found, named and
// writes nothing; updates and blind puts of existing keys keep each key in the scan exactly once;
// a deleted key leaves the scan and a re-created one returns to it.
TEST_P(StoreConformanceTest, LargeCommitsCreateCheckAndIndexEveryKey) {
  constexpr int kKeys = 450;
  auto key = [](int i) { return absl::StrFormat("big/{b}/%04d", i); };
  CommitRequest create;
  create.shard = "b";
  for (int i = 0; i < kKeys; ++i) create.puts.push_back({key(i), absl::StrCat("v", i), 0});
  absl::StatusOr<CommitResult> created = store().Commit(create);
  ASSERT_TRUE(created.ok()) << created.status();
  ASSERT_THAT(created->versions, SizeIs(kKeys));
  for (int64_t v : created->versions) EXPECT_EQ(v, 1);
  std::vector<std::string> want;
  want.reserve(kKeys);
  for (int i = 0; i < kKeys; ++i) want.push_back(key(i));
  EXPECT_EQ(ScanAll(store(), "big/", 1000), want);

  // 430 new keys and one that exists (in the third group of 200 creates): nothing is written.
  CommitRequest clash;
  clash.shard = "b";
  for (int i = 0; i < 430; ++i) clash.puts.push_back({absl::StrCat(key(i), "/n"), "n", 0});
  clash.puts.insert(clash.puts.begin() + 420, Put{key(7), "again", 0});
  clash.events = {Event("e-clash")};
  const size_t pending_before = AllPending(store()).size();
  absl::StatusOr<CommitResult> refused = store().Commit(clash);
  ASSERT_EQ(refused.status().code(), absl::StatusCode::kAborted) << refused.status();
  EXPECT_THAT(refused.status().message(), HasSubstr(key(7)));
  EXPECT_THAT(refused.status().message(), HasSubstr("expected version 0"));
  EXPECT_THAT(refused.status().message(), HasSubstr("actual 1"));
  EXPECT_EQ(ScanAll(store(), "big/", 1000), want);
  EXPECT_EQ(AllPending(store()).size(), pending_before);
  absl::StatusOr<std::optional<VersionedValue>> kept = store().Get(key(7));
  ASSERT_TRUE(kept.ok() && kept->has_value());
  EXPECT_EQ((*kept)->value, "v7");

  // Updates with the exact version, blind puts of existing and new keys, a delete.
  CommitRequest mixed;
  mixed.shard = "b";
  for (int i = 0; i < 300; ++i) mixed.puts.push_back({key(i), absl::StrCat("u", i), 1});
  for (int i = 300; i < 310; ++i) mixed.puts.push_back({key(i), "blind", kAnyVersion});
  mixed.puts.push_back({key(kKeys), "new blind", kAnyVersion});
  mixed.deletes = {{key(449), 1}};
  absl::StatusOr<CommitResult> updated = store().Commit(mixed);
  ASSERT_TRUE(updated.ok()) << updated.status();
  for (size_t i = 0; i < 310; ++i) EXPECT_EQ(updated->versions[i], 2) << key(static_cast<int>(i));
  EXPECT_EQ(updated->versions[310], 1);
  want.back() = key(kKeys);  // 449 deleted, 450 created
  EXPECT_EQ(ScanAll(store(), "big/", 1000), want);
  absl::StatusOr<std::optional<VersionedValue>> got = store().Get(key(5));
  ASSERT_TRUE(got.ok() && got->has_value());
  EXPECT_EQ((*got)->value, "u5");
  EXPECT_EQ((*got)->version, 2);

  // Re-created after the delete: version 1 and back in the scan.
  absl::StatusOr<CommitResult> again = store().Commit(PutReq("b", key(449), "back", 0));
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_THAT(again->versions, ElementsAre(1));
  want.insert(want.end() - 1, key(449));
  EXPECT_EQ(ScanAll(store(), "big/", 1000), want);
}

TEST_P(StoreConformanceTest, ScanTreatsPrefixBytesLiterally) {
  const std::vector<std::string> keys = {
      "p%/1", "p_/1", "pa/1", std::string("z\xff/1"), std::string("z\xff\xff/2"), "{/1", "z/1"};
  for (const std::string& key : keys) {
    ASSERT_TRUE(store().Commit(PutReq(ShardOfKey(key), key, "v", kMustNotExist)).ok()) << key;
  }
  EXPECT_THAT(ScanAll(store(), "p%", 10), ElementsAre("p%/1"));
  EXPECT_THAT(ScanAll(store(), "p_", 10), ElementsAre("p_/1"));
  EXPECT_THAT(ScanAll(store(), std::string("z\xff"), 10),
              ElementsAre(std::string("z\xff/1"), std::string("z\xff\xff/2")));
  EXPECT_THAT(ScanAll(store(), "z", 1),
              ElementsAre("z/1", std::string("z\xff/1"), std::string("z\xff\xff/2")));
}

TEST_P(StoreConformanceTest, ScanRejectsLimitOutOfRange) {
  EXPECT_EQ(store().Scan("item/", "", 0).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(store().Scan("item/", "", 1001).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(store().Scan("item/", "", 1000).ok());
}

TEST_P(StoreConformanceTest, OutboxKeepsEachShardsOrderAndMarkSentRemoves) {
  // Interleave commits of several shards; each shard's events must come back in commit order.
  const std::vector<std::string> shards = {"o-1", "o-2", "o-3", "o-4", "o-5"};
  std::map<std::string, std::vector<std::string>> want;
  for (int round = 0; round < 6; ++round) {
    for (const std::string& shard : shards) {
      CommitRequest req;
      req.shard = shard;
      req.puts = {{absl::StrCat("order/{", shard, "}/r/", round), "x", kMustNotExist}};
      for (int i = 0; i < 2; ++i) {
        const std::string id = absl::StrCat(shard, "#", round, ".", i);
        req.events.push_back(Event(id, shard));
        want[shard].push_back(id);
      }
      ASSERT_TRUE(store().Commit(req).ok());
    }
  }
  std::vector<OutboxRecord> pending = AllPending(store());
  ASSERT_THAT(pending, SizeIs(60));
  for (const std::string& shard : shards) {
    EXPECT_EQ(EventIds(pending, shard), want[shard]) << shard;
  }
  for (const OutboxRecord& r : pending) {
    EXPECT_EQ(r.event.topic, "pdao.test.v1");
    EXPECT_EQ(r.event.payload, absl::StrCat("payload-", r.event.event_id));
    EXPECT_EQ(r.event.key, r.shard);
    EXPECT_FALSE(r.id.empty());
  }

  // A limited read gives at most `limit` records, and each shard's part is a prefix of its order.
  absl::StatusOr<std::vector<OutboxRecord>> some = store().PendingOutbox(7);
  ASSERT_TRUE(some.ok()) << some.status();
  ASSERT_THAT(*some, SizeIs(7));
  for (const std::string& shard : shards) {
    std::vector<std::string> got = EventIds(*some, shard);
    EXPECT_TRUE(std::equal(got.begin(), got.end(), want[shard].begin())) << shard;
  }

  // Mark the limited read sent: those records never come back, the rest keep their order.
  ASSERT_TRUE(store().MarkSent(*some).ok());
  std::set<std::string> sent;
  for (const OutboxRecord& r : *some) sent.insert(r.event.event_id);
  std::vector<OutboxRecord> rest = AllPending(store());
  EXPECT_THAT(rest, SizeIs(53));
  for (const std::string& shard : shards) {
    std::vector<std::string> expect_rest;
    for (const std::string& id : want[shard]) {
      if (!sent.contains(id)) expect_rest.push_back(id);
    }
    EXPECT_EQ(EventIds(rest, shard), expect_rest) << shard;
  }

  // Marking twice and unknown ids are ignored.
  std::vector<OutboxRecord> bogus = *some;
  bogus.push_back(OutboxRecord{"no-such-id", "o-1", {}});
  bogus.push_back(OutboxRecord{"999999", "o-1", {}});
  EXPECT_TRUE(store().MarkSent(bogus).ok());
  EXPECT_THAT(AllPending(store()), SizeIs(53));

  ASSERT_TRUE(store().MarkSent(rest).ok());
  EXPECT_THAT(AllPending(store()), IsEmpty());
  EXPECT_EQ(store().PendingOutbox(0).status().code(), absl::StatusCode::kInvalidArgument);
}

// MarkSent reads only each record's id (the relay passes ids without their events), and marks
// exactly the records named — a scattered set of single records and runs (SqliteStore marks runs
// of consecutive positions with one statement each), unsorted and with a repeat — and no other.
TEST_P(StoreConformanceTest, MarkSentMarksExactlyTheNamedRecordsByIdAlone) {
  std::vector<std::string> want;
  for (int i = 0; i < 20; ++i) {
    CommitRequest req;
    req.shard = "scatter";
    req.puts = {{absl::StrCat("scatter/{scatter}/", i), "x", kMustNotExist}};
    const std::string id = absl::StrCat("s", i);
    req.events.push_back(Event(id, "scatter"));
    want.push_back(id);
    ASSERT_TRUE(store().Commit(req).ok());
  }
  std::vector<OutboxRecord> all = AllPending(store());
  ASSERT_EQ(EventIds(all, "scatter"), want);
  const std::vector<int> mark = {7, 0, 1, 2, 4, 9, 10, 11, 12, 19, 2};  // unsorted, 2 twice
  std::vector<OutboxRecord> ids_only;
  ids_only.reserve(mark.size());
  for (int i : mark) ids_only.push_back(OutboxRecord{all[static_cast<size_t>(i)].id, "", {}});
  ASSERT_TRUE(store().MarkSent(ids_only).ok());
  std::vector<std::string> expect_rest;
  for (int i = 0; i < 20; ++i) {
    if (std::find(mark.begin(), mark.end(), i) == mark.end()) expect_rest.push_back(want[i]);
  }
  EXPECT_EQ(EventIds(AllPending(store()), "scatter"), expect_rest);
}

// A limited read fills its limit from one busy shard (a store that reads a share per partition
// must read the rest where there is more), in the shard's commit order, and returns only pending
// records after a mark.
TEST_P(StoreConformanceTest, LimitedOutboxReadFillsItsLimitFromOneShard) {
  std::vector<std::string> want;
  for (int i = 0; i < 40; ++i) {
    CommitRequest req;
    req.shard = "busy";
    req.puts = {{absl::StrCat("order/{busy}/", i), "x", kMustNotExist}};
    const std::string id = absl::StrCat("busy#", i);
    req.events.push_back(Event(id, "busy"));
    want.push_back(id);
    ASSERT_TRUE(store().Commit(req).ok());
  }
  absl::StatusOr<std::vector<OutboxRecord>> first = store().PendingOutbox(32);
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_EQ(EventIds(*first, "busy"), std::vector<std::string>(want.begin(), want.begin() + 32));
  ASSERT_TRUE(store().MarkSent(*first).ok());
  absl::StatusOr<std::vector<OutboxRecord>> rest = store().PendingOutbox(32);
  ASSERT_TRUE(rest.ok()) << rest.status();
  EXPECT_EQ(EventIds(*rest, "busy"), std::vector<std::string>(want.begin() + 32, want.end()));
}

// Issue 10 (the relay's in-flight window): a read that continues after the records still held
// (the last of each shard) returns every later record once, each shard's in commit order, none
// read before — also when some held records were marked sent meanwhile, and when records are
// committed between the reads.
TEST_P(StoreConformanceTest, OutboxReadContinuesAfterTheRecordsStillHeld) {
  std::map<std::string, std::vector<std::string>> want;  // shard -> event ids in commit order
  int n = 0;
  auto commit = [&](int count) {
    for (int i = 0; i < count; ++i, ++n) {
      const std::string shard = absl::StrCat("h-", n % 5);
      CommitRequest req;
      req.shard = shard;
      req.puts = {{absl::StrCat("item/{", shard, "}/", n), "x", kMustNotExist}};
      req.events.push_back(Event(absl::StrCat(shard, "#", n), shard));
      want[shard].push_back(req.events[0].event_id);
      ASSERT_TRUE(store().Commit(req).ok());
    }
  };
  commit(40);
  std::map<std::string, std::vector<std::string>> got;
  std::map<std::string, std::string> last_held;  // shard -> id of its last record read
  std::set<std::string> seen;
  std::vector<OutboxRecord> last_page;
  auto read = [&](int limit) -> size_t {
    std::vector<std::string> after;
    after.reserve(last_held.size());
    for (const auto& [shard, id] : last_held) after.push_back(id);
    absl::StatusOr<std::vector<OutboxRecord>> page = store().PendingOutboxAfter(limit, after);
    EXPECT_TRUE(page.ok()) << page.status();
    if (!page.ok()) return 0;
    EXPECT_LE(static_cast<int>(page->size()), limit);
    for (const OutboxRecord& r : *page) {
      EXPECT_TRUE(seen.insert(r.id).second) << "read twice: " << r.event.event_id;
      got[r.shard].push_back(r.event.event_id);
      last_held[r.shard] = r.id;
    }
    last_page = *page;
    return page->size();
  };
  ASSERT_EQ(read(12), 12u);
  // Mark the first read's records sent: they still position the next read.
  ASSERT_TRUE(store().MarkSent(last_page).ok());
  ASSERT_EQ(read(12), 12u);
  commit(10);  // committed while the earlier ones are held
  size_t more = 0;
  for (int i = 0; i < 20; ++i) {
    const size_t k = read(7);
    if (k == 0) break;
    more += k;
  }
  EXPECT_EQ(more, 26u);
  EXPECT_EQ(got, want);
  EXPECT_EQ(read(7), 0u);
  // Ids not of this store are ignored; no `after` reads from the start, like PendingOutbox.
  absl::StatusOr<std::vector<OutboxRecord>> from_start =
      store().PendingOutboxAfter(10000, {"no-such-id", "x-y-z"});
  ASSERT_TRUE(from_start.ok()) << from_start.status();
  EXPECT_EQ(from_start->size(), AllPending(store()).size());
  EXPECT_EQ(store().PendingOutboxAfter(0, {}).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST_P(StoreConformanceTest, ConcurrentCommitsWithSameExpectedVersionExactlyOneWins) {
  ASSERT_TRUE(store().Commit(PutReq("c", "item/{c}", "base", kMustNotExist)).ok());
  constexpr int kThreads = 8;
  constexpr int kRounds = 5;
  for (int round = 0; round < kRounds; ++round) {
    absl::Notification go;
    std::vector<absl::Status> results(kThreads);
    std::vector<std::thread> threads;
    threads.reserve(kThreads);
    for (int t = 0; t < kThreads; ++t) {
      threads.emplace_back([&, t] {
        go.WaitForNotification();
        CommitRequest req = PutReq("c", "item/{c}", absl::StrCat("r", round, "t", t), round + 1);
        req.events = {Event(absl::StrCat("c-", round, "-", t), "c")};
        results[t] = store().Commit(req).status();
      });
    }
    go.Notify();
    for (std::thread& th : threads) th.join();
    int wins = 0;
    for (const absl::Status& s : results) {
      if (s.ok()) {
        ++wins;
      } else {
        EXPECT_EQ(s.code(), absl::StatusCode::kAborted) << s;
      }
    }
    EXPECT_EQ(wins, 1) << "round " << round;
    absl::StatusOr<std::optional<VersionedValue>> got = store().Get("item/{c}");
    ASSERT_TRUE(got.ok() && got->has_value());
    EXPECT_EQ((*got)->version, round + 2);
  }
  EXPECT_THAT(AllPending(store()), SizeIs(kRounds));
}

TEST_P(StoreConformanceTest, BinaryValuesRoundTrip) {
  const std::string value("a\0b\xff\x00\r\n%s%b\0", 12);
  const std::string payload("\0\0payload\xfe", 10);
  const std::string result("\0res", 4);
  CommitRequest req = PutReq("b-1", "bin/{b-1}", value, kMustNotExist);
  req.puts.push_back({"bin/{b-1}/empty", "", kMustNotExist});
  req.events = {OutboxEvent{"pdao.test.v1", "b-1", "ev-bin", payload}};
  req.idempotency_key = std::string("idem\0bin", 8);
  req.idempotency_result = result;
  ASSERT_TRUE(store().Commit(req).ok());

  absl::StatusOr<std::optional<VersionedValue>> got = store().Get("bin/{b-1}");
  ASSERT_TRUE(got.ok() && got->has_value());
  EXPECT_EQ((*got)->value, value);
  absl::StatusOr<std::optional<VersionedValue>> empty = store().Get("bin/{b-1}/empty");
  ASSERT_TRUE(empty.ok() && empty->has_value());
  EXPECT_EQ((*empty)->value, "");
  EXPECT_EQ((*empty)->version, 1);
  absl::StatusOr<ScanPage> page = store().Scan("bin/", "", 10);
  ASSERT_TRUE(page.ok());
  ASSERT_THAT(page->entries, SizeIs(2));
  EXPECT_EQ(page->entries[0].value.value, value);

  std::vector<OutboxRecord> pending = AllPending(store());
  ASSERT_THAT(pending, SizeIs(1));
  EXPECT_EQ(pending[0].event.payload, payload);

  absl::StatusOr<CommitResult> replay = store().Commit(req);
  ASSERT_TRUE(replay.ok());
  EXPECT_TRUE(replay->replayed);
  EXPECT_EQ(replay->idempotency_result, result);
}

TEST_P(StoreConformanceTest, MalformedRequestsAreInvalidArgument) {
  auto code = [&](const CommitRequest& req) { return store().Commit(req).status().code(); };
  const auto kInvalid = absl::StatusCode::kInvalidArgument;

  CommitRequest no_shard = PutReq("", "item/{a}", "v", kAnyVersion);
  EXPECT_EQ(code(no_shard), kInvalid);
  EXPECT_EQ(code(PutReq("a", "", "v", kAnyVersion)), kInvalid);
  EXPECT_EQ(code(PutReq("a", "item/{a}", "v", -2)), kInvalid);

  CommitRequest empty_delete;
  empty_delete.shard = "a";
  empty_delete.deletes = {{"", kAnyVersion}};
  EXPECT_EQ(code(empty_delete), kInvalid);

  CommitRequest twice = PutReq("a", "item/{a}", "v", kAnyVersion);
  twice.deletes = {{"item/{a}", kAnyVersion}};
  EXPECT_EQ(code(twice), kInvalid);

  CommitRequest no_topic = PutReq("a", "item/{a}", "v", kAnyVersion);
  no_topic.events = {OutboxEvent{"", "k", "id", "p"}};
  EXPECT_EQ(code(no_topic), kInvalid);

  CommitRequest two_shards = PutReq("a", "item/{a}", "v", kAnyVersion);
  two_shards.puts.push_back({"item/{b}", "v", kAnyVersion});
  absl::StatusOr<CommitResult> spans = store().Commit(two_shards);
  EXPECT_EQ(spans.status().code(), kInvalid);
  EXPECT_THAT(spans.status().message(), HasSubstr("commit spans two shards"));
  CommitRequest untagged_delete;
  untagged_delete.shard = "a";
  untagged_delete.deletes = {{"item/a", kAnyVersion}};
  EXPECT_EQ(code(untagged_delete), kInvalid);

  // None of the refused requests wrote anything.
  absl::StatusOr<std::optional<VersionedValue>> got = store().Get("item/{a}");
  ASSERT_TRUE(got.ok());
  EXPECT_FALSE(got->has_value());
  EXPECT_THAT(AllPending(store()), IsEmpty());
}

TEST_P(StoreConformanceTest, GetIdempotencyResultSeesOnlySuccessfulCommitsOfItsShard) {
  absl::StatusOr<std::optional<std::string>> none = store().GetIdempotencyResult("a", "req-1");
  ASSERT_TRUE(none.ok()) << none.status();
  EXPECT_FALSE(none->has_value());

  CommitRequest req = PutReq("a", "item/{a}", "v", kMustNotExist);
  req.idempotency_key = "req-1";
  req.idempotency_result = std::string("resp\0one", 8);
  ASSERT_TRUE(store().Commit(req).ok());
  absl::StatusOr<std::optional<std::string>> got = store().GetIdempotencyResult("a", "req-1");
  ASSERT_TRUE(got.ok()) << got.status();
  ASSERT_TRUE(got->has_value());
  EXPECT_EQ(**got, std::string("resp\0one", 8));

  // Idempotency keys are scoped by shard: the same key in another shard is a new request.
  absl::StatusOr<std::optional<std::string>> other = store().GetIdempotencyResult("b", "req-1");
  ASSERT_TRUE(other.ok());
  EXPECT_FALSE(other->has_value());
  CommitRequest in_b = PutReq("b", "item/{b}", "v", kMustNotExist);
  in_b.idempotency_key = "req-1";
  in_b.idempotency_result = "resp-b";
  absl::StatusOr<CommitResult> b = store().Commit(in_b);
  ASSERT_TRUE(b.ok()) << b.status();
  EXPECT_FALSE(b->replayed);

  // A failed commit records nothing.
  CommitRequest conflict = PutReq("a", "item/{a}", "v", kMustNotExist);
  conflict.idempotency_key = "req-2";
  conflict.idempotency_result = "never";
  ASSERT_EQ(store().Commit(conflict).status().code(), absl::StatusCode::kAborted);
  absl::StatusOr<std::optional<std::string>> failed = store().GetIdempotencyResult("a", "req-2");
  ASSERT_TRUE(failed.ok());
  EXPECT_FALSE(failed->has_value());

  EXPECT_EQ(store().GetIdempotencyResult("", "req-1").status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(store().GetIdempotencyResult("a", "").status().code(),
            absl::StatusCode::kInvalidArgument);
}

// Issue 10: the outbox relay of the same process is woken by the commit (store.h).
TEST_P(StoreConformanceTest, OutboxListenerIsCalledOncePerDurableCommitWithEvents) {
  std::atomic<int> calls{0};
  int pending_at_call = -1;
  const int64_t handle = store().AddOutboxListener([&] {
    // Called once the commit is durable: its event is already pending.
    if (calls.fetch_add(1) == 0) pending_at_call = static_cast<int>(AllPending(store()).size());
  });
  ASSERT_NE(handle, 0);

  CommitRequest with_event = PutReq("a", "item/{a}", "v", kMustNotExist);
  with_event.events.push_back(Event("e1", "a"));
  with_event.idempotency_key = "req-1";
  ASSERT_TRUE(store().Commit(with_event).ok());
  EXPECT_EQ(calls.load(), 1);
  EXPECT_EQ(pending_at_call, 1);

  // A replay, a conflict and a commit without events wrote no new outbox record: no call.
  absl::StatusOr<CommitResult> replay = store().Commit(with_event);
  ASSERT_TRUE(replay.ok()) << replay.status();
  EXPECT_TRUE(replay->replayed);
  CommitRequest conflict = PutReq("a", "item/{a}", "v", kMustNotExist);
  conflict.events.push_back(Event("e2", "a"));
  ASSERT_EQ(store().Commit(conflict).status().code(), absl::StatusCode::kAborted);
  ASSERT_TRUE(store().Commit(PutReq("a", "other/{a}", "v", kMustNotExist)).ok());
  EXPECT_EQ(calls.load(), 1);

  // After removal, never again.
  store().RemoveOutboxListener(handle);
  CommitRequest later = PutReq("b", "item/{b}", "v", kMustNotExist);
  later.events.push_back(Event("e3", "b"));
  ASSERT_TRUE(store().Commit(later).ok());
  EXPECT_EQ(calls.load(), 1);
}

}  // namespace pdao

#include "common/app/requests.h"

#include <memory>
#include <string>
#include <vector>

#include "common/app/commit_batch.h"
#include "common/app/paging.h"
#include "common/app/proto_time.h"
#include "common/store/sqlite_store.h"
#include "gmock/gmock.h"
#include "google/protobuf/wrappers.pb.h"
#include "gtest/gtest.h"
#include "pdao/events/v1/envelope.pb.h"

namespace pdao {
namespace {

using google::protobuf::StringValue;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::StartsWith;

StringValue Text(const std::string& s) {
  StringValue v;
  v.set_value(s);
  return v;
}

class RequestsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto store = SqliteStore::Open(":memory:");
    ASSERT_TRUE(store.ok()) << store.status();
    store_ = std::move(*store);
  }

  // Creates "thing/{<id>}" holding `text` through BeginCreate + CommitBatch, the way a use case
  // does; returns the response (the first result on a retry).
  StringValue Create(const Principal& caller, const std::string& request_id,
                     const std::string& text) {
    StringValue response;
    auto created =
        BeginCreate(*store_, "svc", "CreateThing", caller, request_id, "thg-", &response);
    EXPECT_TRUE(created.ok()) << created.status();
    if (!created.ok() || !created->has_value()) return response;
    const NewAggregate& agg = **created;
    response = Text(text + "@" + agg.id);
    CommitBatch batch(agg.id, agg.idempotency_key,
                      RequestEventContext("svc", caller, agg.idempotency_key, absl::Now()));
    batch.Put(absl::StrCat("thing/{", agg.id, "}"), response, kMustNotExist);
    pdao::events::v1::Envelope e = batch.NewEvent("svc.Thing", agg.id, 1, "svc.thing.created");
    batch.AddEvent(e, agg.id);
    EXPECT_TRUE(batch.Commit(*store_, &response).ok());
    return response;
  }

  std::unique_ptr<SqliteStore> store_;
  const Principal alice_ = Principal::Org("alice", common::v1::ROLE_DEPARTMENT);
  const Principal bob_ = Principal::Org("bob", common::v1::ROLE_DEPARTMENT);
};

TEST_F(RequestsTest, BeginCreateDerivesTheIdAndAnswersARetryWithTheFirstResult) {
  const StringValue first = Create(alice_, "req-1", "first");
  EXPECT_THAT(first.value(), StartsWith("first@thg-"));
  // The retry carries different content but gets the first result, and writes nothing.
  const StringValue retry = Create(alice_, "req-1", "second");
  EXPECT_EQ(retry.value(), first.value());
  auto pending = store_->PendingOutbox(100);
  ASSERT_TRUE(pending.ok());
  ASSERT_EQ(pending->size(), 1u);
  EXPECT_EQ((*pending)[0].event.topic, "pdao.svc.v1");

  // Another caller with the same request id is another request: another id.
  const StringValue other = Create(bob_, "req-1", "first");
  EXPECT_NE(other.value(), first.value());
}

TEST_F(RequestsTest, BeginCreateWithoutRequestIdIsNotIdempotentAndRefusesBadIds) {
  const StringValue a = Create(alice_, "", "x");
  const StringValue b = Create(alice_, "", "x");
  EXPECT_NE(a.value(), b.value());
  StringValue response;
  auto bad = BeginCreate(*store_, "svc", "CreateThing", alice_, "has space", "thg-", &response);
  EXPECT_EQ(bad.status().code(), absl::StatusCode::kInvalidArgument);
}

TEST_F(RequestsTest, BeginRequestAnswersARetryFromTheNamedShard) {
  StringValue response;
  auto begun = BeginRequest(*store_, "svc", "Touch", alice_, "t-1", "shard-a", &response);
  ASSERT_TRUE(begun.ok()) << begun.status();
  ASSERT_TRUE(begun->has_value());
  EXPECT_EQ(**begun, IdempotencyKey("svc", "Touch", alice_, "t-1"));
  StringValue result = Text("touched");
  CommitBatch batch("shard-a", **begun, RequestEventContext("svc", alice_, **begun, absl::Now()));
  batch.Put("touch/{shard-a}", result, kMustNotExist);
  ASSERT_TRUE(batch.Commit(*store_, &result).ok());

  auto again = BeginRequest(*store_, "svc", "Touch", alice_, "t-1", "shard-a", &response);
  ASSERT_TRUE(again.ok());
  EXPECT_FALSE(again->has_value());
  EXPECT_EQ(response.value(), "touched");
}

TEST_F(RequestsTest, CommitBatchRefusesAStaleVersionAndWritesNothing) {
  StringValue r = Text("v1");
  CommitBatch create("s", "", RequestEventContext("svc", alice_, "", absl::Now()));
  create.Put("k/{s}", r, kMustNotExist);
  ASSERT_TRUE(create.Commit(*store_, &r).ok());
  auto stored = store_->Get("k/{s}");
  ASSERT_TRUE(stored.ok() && stored->has_value());
  const int64_t version = (*stored)->version;

  CommitBatch stale("s", "", RequestEventContext("svc", alice_, "", absl::Now()));
  stale.Put("k/{s}", Text("v2"), version + 1);
  stale.AddEvent(stale.NewEvent("svc.K", "s", 2, "svc.k.changed"), "s");
  absl::Status s = stale.Commit(*store_, &r);
  EXPECT_EQ(s.code(), absl::StatusCode::kAborted);
  EXPECT_THAT(s.message(), HasSubstr("nothing written"));
  auto pending = store_->PendingOutbox(100);
  ASSERT_TRUE(pending.ok());
  EXPECT_TRUE(pending->empty());
}

TEST(RequestEventContextTest, CorrelatesByIdempotencyKeyOrAFreshId) {
  const Principal p = Principal::Service("registry");
  EventContext with = RequestEventContext("registry", p, "key-1", absl::UnixEpoch());
  EXPECT_EQ(with.correlation_id, "key-1");
  EXPECT_EQ(with.producer, "registry");
  EXPECT_EQ(with.actor.ToSpiffeId(), p.ToSpiffeId());
  EventContext a = RequestEventContext("registry", p, "", absl::UnixEpoch());
  EventContext b = RequestEventContext("registry", p, "", absl::UnixEpoch());
  EXPECT_FALSE(a.correlation_id.empty());
  EXPECT_NE(a.correlation_id, b.correlation_id);
}

constexpr char kItems[] = "item/{items}/";

class PagingTest : public RequestsTest {
 protected:
  void SetUp() override {
    RequestsTest::SetUp();
    CommitBatch batch("items", "", RequestEventContext("svc", alice_, "", absl::Now()));
    for (int i = 1; i <= 7; ++i)
      batch.Put(absl::StrCat("item/{items}/", i), Text(absl::StrCat(i)), 0);
    batch.Put("other/{items}/1", Text("x"), 0);
    StringValue ignored;
    ASSERT_TRUE(batch.Commit(*store_, &ignored).ok());
  }

  // Every value a client sees walking the list page by page, and how many pages it took.
  std::vector<std::string> Walk(int page_size, const PageLimits& limits, int* pages) {
    std::vector<std::string> seen;
    std::string token;
    *pages = 0;
    do {
      std::vector<StringValue> out;
      absl::Status s = ScanPaged<StringValue>(
          *store_, kItems, page_size, token,
          [](const std::string&, const StringValue& v) { return v.value() != "4"; }, &out, &token,
          limits);
      EXPECT_TRUE(s.ok()) << s;
      if (!s.ok()) break;
      for (const auto& v : out) seen.push_back(v.value());
      ++*pages;
    } while (!token.empty() && *pages < 100);
    return seen;
  }
};

TEST_F(PagingTest, WalksEveryKeptRecordOnceInKeyOrder) {
  int pages = 0;
  EXPECT_THAT(Walk(2, {}, &pages), ElementsAre("1", "2", "3", "5", "6", "7"));
  EXPECT_GE(pages, 3);
  EXPECT_THAT(Walk(0, {}, &pages), ElementsAre("1", "2", "3", "5", "6", "7"));
  EXPECT_EQ(pages, 1);
}

TEST_F(PagingTest, ABoundedScanHandsBackATokenToContinueFrom) {
  // One store page per call: after item/3 it reads 4 (filtered out) and 5, and stops there with a
  // short page and a token, not an empty token.
  PageLimits limits;
  limits.max_scan_rounds = 1;
  std::vector<StringValue> out;
  std::string next;
  absl::Status s = ScanPaged<StringValue>(
      *store_, kItems, 2, "item/{items}/3",
      [](const std::string&, const StringValue& v) { return v.value() != "4"; }, &out, &next,
      limits);
  ASSERT_TRUE(s.ok()) << s;
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].value(), "5");
  EXPECT_EQ(next, "item/{items}/5");
  int pages = 0;
  EXPECT_THAT(Walk(2, limits, &pages), ElementsAre("1", "2", "3", "5", "6", "7"));
}

TEST_F(PagingTest, RefusesANegativeSizeAndAForeignToken) {
  std::vector<StringValue> out;
  std::string next;
  auto keep = [](const std::string&, const StringValue&) { return true; };
  EXPECT_EQ(ScanPaged<StringValue>(*store_, kItems, -1, "", keep, &out, &next).code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ScanPaged<StringValue>(*store_, kItems, 2, "other/{items}/1", keep, &out, &next).code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(PageSize(0), 100);
  EXPECT_EQ(PageSize(5000), 1000);
  EXPECT_EQ(PageSize(7), 7);
}

TEST_F(PagingTest, ScanWhileStopsWhenAskedAndPassesErrorsOn) {
  std::vector<std::string> seen;
  absl::Status s = ScanWhile<StringValue>(
      *store_, kItems,
      [&](const std::string& key, StringValue&& v, int64_t version) -> absl::StatusOr<bool> {
        EXPECT_GT(version, 0);
        EXPECT_THAT(key, StartsWith("item/"));
        seen.push_back(v.value());
        return v.value() != "3";
      });
  EXPECT_TRUE(s.ok()) << s;
  EXPECT_THAT(seen, ElementsAre("1", "2", "3"));
  s = ScanWhile<StringValue>(
      *store_, kItems, [](const std::string&, StringValue&&, int64_t) -> absl::StatusOr<bool> {
        return absl::InternalError("stop here");
      });
  EXPECT_EQ(s.message(), "stop here");
}

TEST(ProtoTimeTest, RoundTripsToTheNanosecondAndChecksRange) {
  const absl::Time t = absl::FromUnixNanos(1767225600123456789);
  const google::protobuf::Timestamp ts = ToProtoTime(t);
  EXPECT_EQ(ts.seconds(), 1767225600);
  EXPECT_EQ(ts.nanos(), 123456789);
  EXPECT_EQ(FromProtoTime(ts), t);
  EXPECT_EQ(FromProtoTime(google::protobuf::Timestamp()), absl::UnixEpoch());
  EXPECT_TRUE(IsValidProtoTime(ts));
  google::protobuf::Timestamp bad = ts;
  bad.set_nanos(1000000000);
  EXPECT_FALSE(IsValidProtoTime(bad));
  bad = ts;
  bad.set_nanos(-1);
  EXPECT_FALSE(IsValidProtoTime(bad));
  bad.set_nanos(0);
  bad.set_seconds(253402300800);  // 10000-01-01
  EXPECT_FALSE(IsValidProtoTime(bad));
  bad.set_seconds(253402300799);
  EXPECT_TRUE(IsValidProtoTime(bad));
  // Beyond the int64-nanosecond range (year 2262) and before 1970, exact both ways.
  EXPECT_EQ(ToProtoTime(FromProtoTime(bad)).seconds(), 253402300799);
  const absl::Time before_epoch = absl::FromUnixSeconds(-86400) + absl::Milliseconds(250);
  const google::protobuf::Timestamp old = ToProtoTime(before_epoch);
  EXPECT_EQ(old.seconds(), -86400);
  EXPECT_EQ(old.nanos(), 250000000);
  EXPECT_EQ(FromProtoTime(old), before_epoch);
}

}  // namespace
}  // namespace pdao

// Crash tests of pricing's metering (issue 12 "Proof under faults and load", REGULATION.md rule
// 30): the real pdao-pricing on a real redis-server (AOF on, common/testing/redis/redis_server.h:
// the README's production settings) and a real Kafka broker meters compliance's usage_recorded
// events published on pdao.compliance.v1 while
//   1. pdao-pricing is SIGKILLed and restarted at random moments, or
//   2. redis-server is SIGKILLed, down for a random 0-500 ms, and restarted from its AOF on the
//      same port and directory,
// and afterwards, through pricing's gRPC API only, every event was posted exactly once (the
// consumer's and the operator's statements hold one USAGE_CHARGE per event id, with the event's
// amount), the consumer's receivable and the operator's revenue equal the sum, and Reconcile of
// every month is clean with metered revenue = ledger revenue = the sum.
//
// The registry pdao-pricing asks (CheckSellable, GetProduct: rule 10) is a pdao-standalone with
// --dev-clock (its SQLite store and embedded bus; the product's publicity needs the clock moved):
// set up through its public API (tests/e2e/e2e_setup.h); pdao-pricing calls it over mTLS with its
// own service certificate from the standalone's dev CA.
//
// Bounded: PDAO_PRICING_CRASH_EVENTS events (default 2,000), PDAO_PRICING_CRASH_KILLS kills
// (default 5); the long form is PDAO_PRICING_CRASH_EVENTS=10000
// PDAO_PRICING_CRASH_KILLS=20. PDAO_PRICING_CRASH_SEED fixes the random kill moments (default: from
// the clock; printed). Kafka: one broker for the whole binary (global Environment); registered as
// one ctest.
#include <signal.h>

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <cstdlib>
#include <functional>
#include <iostream>
#include <map>
#include <memory>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "common/app/proto_time.h"
#include "common/bus/kafka_bus.h"
#include "common/crypto/dev_ca.h"
#include "common/rpc/channel.h"
#include "common/testing/kafka/kafka_environment.h"
#include "common/testing/redis/redis_server.h"
#include "common/testing/tls_dir.h"
#include "common/testing/usage_recorded_event.h"
#include "gtest/gtest.h"
#include "pdao/dev/v1/dev_clock.grpc.pb.h"
#include "pdao/pricing/v1/pricing.grpc.pb.h"
#include "tests/e2e/e2e_setup.h"
#include "tests/e2e/e2e_util.h"

namespace pdao::e2e {
namespace {

namespace pv1 = ::pdao::pricing::v1;
namespace cv1 = ::pdao::compliance::v1;

constexpr absl::Duration kReadyTimeout = absl::Seconds(30);
constexpr absl::Duration kCallTimeout = absl::Seconds(10);
constexpr absl::Duration kMeterTimeout = absl::Seconds(120);
constexpr char kOperator[] = "demo-operator";         // the dev CA's operator certificate
constexpr char kConsumer[] = "demo-business-entity";  // the dev CA's business_entity certificate
constexpr int64_t kRateFen = 7;                       // per call; the cap is 10
// The publisher's pace: the run spans events / kRate seconds, the kills fall inside it.
constexpr int kEventsPerSecond = 200;

int EnvInt(const char* name, int fallback) {
  const char* v = std::getenv(name);
  int n = 0;
  return v != nullptr && absl::SimpleAtoi(v, &n) && n > 0 ? n : fallback;
}

const pdao::testing::KafkaEnvironment* const kKafka = pdao::testing::KafkaEnvironment::Register();

std::unique_ptr<grpc::ClientContext> Ctx() {
  auto context = std::make_unique<grpc::ClientContext>();
  WithDeadline(*context, kCallTimeout);
  return context;
}

// One use the test published: its units and the month (UTC+8, pricing's) it falls in.
struct Use {
  int64_t units = 0;
  std::string month;
};

// What the ledger holds for the test's events, read through GetStatement.
struct Postings {
  std::map<std::string, int> count;        // event id -> USAGE_CHARGE entries
  std::map<std::string, int64_t> fen;      // event id -> Σ debits of those entries
  std::map<std::string, int64_t> balance;  // account -> balance, summed over the months
  std::map<std::string, int64_t> credits;  // account -> credit total, summed over the months
};

class PricingCrashTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto dir = TempDir::Create("pdao-pricing-crash");
    ASSERT_TRUE(dir.ok()) << dir.status();
    dir_ = std::move(*dir);
    nonce_ = absl::StrCat("c", absl::ToUnixMicros(absl::Now()));
    const char* seed = std::getenv("PDAO_PRICING_CRASH_SEED");
    uint64_t s = 0;
    seed_ = seed != nullptr && absl::SimpleAtoi(seed, &s) ? s : absl::ToUnixNanos(absl::Now());
    rng_.seed(seed_);
    std::cerr << "PDAO_PRICING_CRASH_SEED=" << seed_ << "\n";

    // The registry side: pdao-standalone with a dev clock from a fixed Monday (the registry's
    // working-day calendar covers 2025-2026), its coded product set up through its API.
    auto standalone = StartStandalone(PDAO_STANDALONE_BIN, dir_->path(), 0, [](const auto&) {
      return std::vector<std::string>{"--dev-clock", "--dev-clock-start=2026-03-02T09:00:00+08:00"};
    });
    ASSERT_TRUE(standalone.ok()) << standalone.status();
    standalone_ = std::move(*standalone);
    const RoleChannels as = [this](const std::string& role) { return standalone_.As(role); };
    auto clock = pdao::dev::v1::DevClockService::NewStub(as("implementing_agency"));
    pdao::dev::v1::GetTimeResponse now;
    grpc::Status st = clock->GetTime(Ctx().get(), {}, &now);
    ASSERT_TRUE(st.ok()) << st.error_message();
    std::string resource, agreement;
    st = ActivateTestAgreement(as, kOperator, FromProtoTime(now.now()), &resource, &agreement);
    ASSERT_TRUE(st.ok()) << st.error_message();
    st = CodeTestProduct(as, resource, &product_);
    ASSERT_TRUE(st.ok()) << st.error_message();

    // pdao-pricing's --tls-dir from the standalone's dev CA.
    crypto::DevCaOptions ca_options;
    ca_options.now = absl::Now();
    auto ca = crypto::EnsureDevCa(standalone_.certs_dir, ca_options);
    ASSERT_TRUE(ca.ok()) << ca.status();
    auto tls = pdao::testing::MakeServiceTlsDir(*ca, dir_->path(), "pricing");
    ASSERT_TRUE(tls.ok()) << tls.status();
    tls_dir_ = *tls;

    auto redis = pdao::testing::RedisServer::Start();
    ASSERT_TRUE(redis.ok()) << redis.status();
    redis_ = std::move(*redis);
    // The same ports across restarts, so the stubs keep working.
    auto port = FreeLoopbackPort();
    auto health = FreeLoopbackPort();
    ASSERT_TRUE(port.ok() && health.ok());
    port_ = *port;
    health_ = *health;

    KafkaBusOptions o;
    o.bootstrap_servers = kKafka->broker()->bootstrap();
    auto producer = KafkaBus::Create(o);
    ASSERT_TRUE(producer.ok()) << producer.status();
    producer_ = std::move(*producer);
  }

  void TearDown() override {
    if (pricing_ && HasFailure()) std::cerr << "pricing log tail:\n" << pricing_->LogTail() << "\n";
    if (pricing_) pricing_->Kill();
    producer_.reset();
    redis_.reset();
    if (standalone_.process) standalone_.process->Kill();
  }

  // Starts pdao-pricing on Redis and Kafka and waits until it serves. Static group membership
  // under one instance id: a restarted process gets its partitions back at once.
  void StartPricing() {
    std::vector<std::string> argv = {
        PDAO_PRICING_BIN, "--listen=" + Loopback(port_), "--health-listen=" + Loopback(health_),
        "--tls-dir=" + tls_dir_, "--data-dir=" + dir_->path() + "/pricing", "--drain-timeout=2s",
        absl::StrCat("--redis=", redis_->host(), ":", redis_->port()),
        "--kafka=" + kKafka->broker()->bootstrap(), "--kafka-instance-id=" + nonce_,
        "--kafka-session-timeout=6s", "--registry-target=" + Loopback(standalone_.port),
        // No audit service runs here: the audit gate (rule 34) is not what is tested.
        "--audit-backlog-limit=1h"};
    auto child =
        ChildProcess::Start(argv, absl::StrCat(dir_->path(), "/pricing-", ++starts_, ".log"));
    ASSERT_TRUE(child.ok()) << child.status();
    pricing_ = std::move(*child);
    auto channel = PlaintextChannel(health_);
    bool exited = false;
    const bool ready = PollUntil(
        [&] {
          if (!pricing_->Running()) return exited = true;
          absl::StatusOr<int> h = HealthCheck(channel, "", absl::Milliseconds(500));
          return h.ok() && *h == 1;
        },
        kReadyTimeout);
    ASSERT_FALSE(exited) << "pdao-pricing exited during start:\n" << pricing_->LogTail();
    ASSERT_TRUE(ready) << "pdao-pricing not serving:\n" << pricing_->LogTail();
  }

  std::unique_ptr<pv1::PricingService::Stub> Pricing(const std::string& role) {
    const std::string certs = standalone_.certs_dir;
    auto channel = MakeMtlsChannel(Loopback(port_), certs + "/ca.pem", certs + "/" + role + ".crt",
                                   certs + "/" + role + ".key");
    EXPECT_TRUE(channel.ok()) << channel.status();
    return pv1::PricingService::NewStub(*channel);
  }

  // The agency's cap (10 fen per call) and the operator's price (kRateFen per call), in force from
  // a moment just ahead (a price takes effect from now on; pdao-pricing's clock is the machine's).
  // The uses are at that moment or later.
  void CapAndPrice() {
    pv1::PriceBasis per_call;
    per_call.set_billing_unit(pv1::BILLING_UNIT_PER_CALL);
    per_call.set_unit_kind(cv1::UNIT_KIND_CALL);
    per_call.set_block_units(1);
    const absl::Time from = absl::Now() + absl::Seconds(1);
    price_from_ = from;
    pv1::SetPriceCapRequest cap;
    cap.set_request_id("cap-" + nonce_);
    cap.set_product_id(product_);
    *cap.mutable_basis() = per_call;
    cap.set_max_rate_fen(10);
    *cap.mutable_effective_from() = ToProtoTime(from);
    cap.set_decision_reference("price bureau decision 2026-1");
    pv1::SetPriceCapResponse capr;
    grpc::Status st = Pricing("implementing_agency")->SetPriceCap(Ctx().get(), cap, &capr);
    ASSERT_TRUE(st.ok()) << st.error_message();
    pv1::SetPriceRequest price;
    price.set_request_id("price-" + nonce_);
    price.set_product_id(product_);
    *price.mutable_basis() = per_call;
    price.add_tiers()->set_rate_fen(kRateFen);
    *price.mutable_effective_from() = ToProtoTime(from);
    pv1::SetPriceResponse pr;
    st = Pricing("operator")->SetPrice(Ctx().get(), price, &pr);
    ASSERT_TRUE(st.ok()) << st.error_message();
  }

  // Publishes `n` usage_recorded events as compliance does, at kEventsPerSecond, spread over 16
  // keys (so over every partition); waits until Kafka has each (acks=all). Records each in uses_.
  void PublishUses(int n) {
    std::atomic<int>& delivered = delivered_;
    std::atomic<int>& failed = failed_;
    const absl::Time start = absl::Now();
    for (int i = 0; i < n; ++i) {
      absl::SleepFor(start + absl::Seconds(1) * i / kEventsPerSecond - absl::Now());
      ::pdao::testing::UsageEvent use{.event_id = absl::StrCat(nonce_, "-use-", i),
                                      .product = product_,
                                      .operator_org = kOperator,
                                      .consumer_org = kConsumer,
                                      .units = 1 + i % 5,
                                      .category = cv1::USE_CATEGORY_COMMERCIAL,
                                      .at = std::max(absl::Now(), price_from_)};
      BusMessage m = ::pdao::testing::UsageRecordedMessage(use);
      m.key = absl::StrCat("consumer-", i % 16);
      {
        absl::MutexLock lock(&mu_);
        uses_[use.event_id] =
            Use{.units = use.units,
                .month = absl::FormatTime("%Y-%m", use.at, absl::FixedTimeZone(8 * 3600))};
      }
      absl::Status s =
          producer_->Publish(m, [&](const absl::Status& d) { (d.ok() ? delivered : failed)++; });
      ASSERT_TRUE(s.ok()) << s;
    }
    ASSERT_TRUE(PollUntil([&] { return delivered + failed == n; }, absl::Seconds(60)));
    ASSERT_EQ(failed.load(), 0) << "events Kafka did not take";
  }

  // Runs the publisher while `fault` is injected `kills` times at random moments of the run.
  void PublishWhile(int events, int kills, const std::function<void()>& fault) {
    std::thread publisher([&] { PublishUses(events); });
    const double run_ms = 1000.0 * events / kEventsPerSecond;
    std::uniform_real_distribution<double> gap(0.2 * run_ms / kills, 1.6 * run_ms / kills);
    for (int k = 0; k < kills && !HasFatalFailure(); ++k) {
      absl::SleepFor(absl::Milliseconds(gap(rng_)));  // a random moment, not a wait for a state
      std::cerr << "kill " << k + 1 << " of " << kills << " after " << delivered_.load() << " of "
                << events << " uses were on Kafka\n";
      fault();
    }
    publisher.join();
  }

  void KillAndRestartPricing() {
    ASSERT_TRUE(pricing_->Signal(SIGKILL).ok()) << "pdao-pricing had exited:\n"
                                                << pricing_->LogTail();
    ASSERT_TRUE(pricing_->WaitForExit(absl::Seconds(10)).ok());
    ++faults_;
    ASSERT_NO_FATAL_FAILURE(StartPricing());
  }

  void KillAndRestartRedis() {
    ASSERT_TRUE(redis_->Kill().ok());
    ++faults_;
    // Down for a random 0-500 ms: pricing's commits and reads fail meanwhile.
    absl::SleepFor(absl::Milliseconds(std::uniform_int_distribution<int>(0, 500)(rng_)));
    absl::Status s = redis_->Restart();  // same port and directory: reloads the AOF
    ASSERT_TRUE(s.ok()) << s;
  }

  // The test's postings from the statements of `org` (as `role`) for every month of the run.
  Postings Statements(const std::string& role, const std::string& org) {
    Postings p;
    auto stub = Pricing(role);
    std::set<std::string> months;
    {
      absl::MutexLock lock(&mu_);
      for (const auto& [id, use] : uses_) months.insert(use.month);
    }
    for (const std::string& month : months) {
      pv1::GetStatementRequest req;
      req.set_org(org);
      req.set_month(month);
      req.mutable_page()->set_page_size(1000);
      do {
        pv1::GetStatementResponse resp;
        grpc::Status st = stub->GetStatement(Ctx().get(), req, &resp);
        if (!st.ok()) {
          last_error_ = st.error_message();
          return Postings{};
        }
        for (const pv1::LedgerEntry& e : resp.entries()) {
          if (e.kind() != pv1::ENTRY_KIND_USAGE_CHARGE) continue;
          p.count[e.source_id()]++;
          for (const pv1::Posting& posting : e.postings())
            p.fen[e.source_id()] += posting.debit_fen();
        }
        if (resp.next_page_token().empty()) {
          for (const pv1::AccountBalance& b : resp.balances()) {
            p.balance[b.account()] += b.balance_fen();
            p.credits[b.account()] += b.credit_total_fen();
          }
        }
        req.mutable_page()->set_page_token(resp.next_page_token());
      } while (!req.page().page_token().empty());
    }
    return p;
  }

  // Waits until the consumer's statement shows every event, then checks: each event posted exactly
  // once with its amount, the balances, and a clean reconciliation of every month.
  void ExpectEveryUsePostedExactlyOnce() {
    std::map<std::string, Use> uses;
    {
      absl::MutexLock lock(&mu_);
      uses = uses_;
    }
    Postings consumer;
    const absl::Time start = absl::Now();
    const bool all = PollUntil(
        [&] {
          consumer = Statements("business_entity", kConsumer);
          for (const auto& [id, use] : uses) {
            if (!consumer.count.contains(id)) return false;
          }
          return true;
        },
        kMeterTimeout);
    std::cerr << "metered " << consumer.count.size() << " of " << uses.size() << " uses "
              << absl::FormatDuration(absl::Now() - start) << " after the last was published\n";
    ASSERT_TRUE(all) << "uses never posted (last GetStatement error: " << last_error_ << "):\n"
                     << pricing_->LogTail();
    // Read again now that nothing is being posted: a GetStatement taken while the last uses were
    // posted reads the balances and the entries without one snapshot (services/pricing/README.md
    // "Known limits"), so the poll's own read may list an entry its balance does not count yet.
    consumer = Statements("business_entity", kConsumer);

    const Postings ops = Statements("operator", kOperator);
    std::map<std::string, int64_t> month_fen;
    int64_t total = 0;
    int wrong = 0;
    for (const auto& [id, use] : uses) {
      const int64_t fen = use.units * kRateFen;
      month_fen[use.month] += fen;
      total += fen;
      for (const Postings* p : std::initializer_list<const Postings*>{&consumer, &ops}) {
        auto n = p->count.find(id);
        auto amount = p->fen.find(id);
        const bool once = n != p->count.end() && n->second == 1 && amount != p->fen.end() &&
                          amount->second == fen;
        if (!once && ++wrong <= 10) {
          ADD_FAILURE() << id << " posted " << (n == p->count.end() ? 0 : n->second) << " times, "
                        << (amount == p->fen.end() ? 0 : amount->second) << " fen (expected once, "
                        << fen << " fen)";
        }
      }
    }
    EXPECT_EQ(wrong, 0) << "uses not posted exactly once";
    for (const Postings* p : std::initializer_list<const Postings*>{&consumer, &ops}) {
      for (const auto& [id, n] : p->count) {
        EXPECT_TRUE(uses.contains(id)) << "an entry for an unknown use " << id;
      }
    }
    int64_t receivable = 0, revenue = 0;
    for (const auto& [account, balance] : consumer.balance) {
      if (absl::StrContains(account, "/consumer/")) receivable += balance;
    }
    for (const auto& [account, credits] : ops.credits) {
      if (absl::StrContains(account, "/revenue/")) revenue += credits;
    }
    EXPECT_EQ(receivable, total) << "the consumer's receivable";
    EXPECT_EQ(revenue, total) << "the operator's revenue";

    auto regulator = Pricing("regulator");
    for (const auto& [month, fen] : month_fen) {
      pv1::ReconcileRequest req;
      req.set_month(month);
      pv1::ReconcileResponse rec;
      grpc::Status st = regulator->Reconcile(Ctx().get(), req, &rec);
      ASSERT_TRUE(st.ok()) << st.error_message();
      EXPECT_TRUE(rec.clean()) << rec.DebugString();
      EXPECT_EQ(rec.discrepancies_size(), 0);
      EXPECT_EQ(rec.metered_revenue_fen(), fen) << month;
      EXPECT_EQ(rec.ledger_revenue_fen(), fen) << month;
      std::cerr << "reconciled " << month << ": " << rec.metered_revenue_fen()
                << " fen metered = ledger, " << rec.accounts_checked() << " accounts checked\n";
    }
    std::cerr << uses.size() << " uses, " << total << " fen, " << faults_ << " kills\n";
  }

  std::unique_ptr<TempDir> dir_;
  Standalone standalone_;
  std::unique_ptr<pdao::testing::RedisServer> redis_;
  std::unique_ptr<ChildProcess> pricing_;
  std::unique_ptr<KafkaBus> producer_;
  std::string nonce_, product_, tls_dir_, last_error_;
  int port_ = 0, health_ = 0, starts_ = 0, faults_ = 0;
  uint64_t seed_ = 0;
  absl::Time price_from_ = absl::InfinitePast();
  std::mt19937_64 rng_;
  // Delivery reports (members: a report may arrive after a failed PublishUses returned).
  std::atomic<int> delivered_{0}, failed_{0};
  absl::Mutex mu_;
  std::map<std::string, Use> uses_ ABSL_GUARDED_BY(mu_);
};

TEST_F(PricingCrashTest, EveryUseIsPostedExactlyOnceWhilePricingIsKilledNine) {
  const int events = EnvInt("PDAO_PRICING_CRASH_EVENTS", 2000);
  const int kills = EnvInt("PDAO_PRICING_CRASH_KILLS", 5);
  ASSERT_NO_FATAL_FAILURE(StartPricing());
  ASSERT_NO_FATAL_FAILURE(CapAndPrice());
  ASSERT_NO_FATAL_FAILURE(PublishWhile(events, kills, [&] { KillAndRestartPricing(); }));
  ASSERT_EQ(faults_, kills);
  ASSERT_NO_FATAL_FAILURE(ExpectEveryUsePostedExactlyOnce());
}

TEST_F(PricingCrashTest, EveryUseIsPostedExactlyOnceWhileRedisIsKilledAndRestartedFromItsAof) {
  if (redis_->external()) GTEST_SKIP() << "PDAO_TEST_REDIS: an external Redis cannot be killed";
  const int events = EnvInt("PDAO_PRICING_CRASH_EVENTS", 2000);
  const int kills = EnvInt("PDAO_PRICING_CRASH_KILLS", 5);
  ASSERT_NO_FATAL_FAILURE(StartPricing());
  ASSERT_NO_FATAL_FAILURE(CapAndPrice());
  ASSERT_NO_FATAL_FAILURE(PublishWhile(events, kills, [&] { KillAndRestartRedis(); }));
  ASSERT_EQ(faults_, kills);
  ASSERT_NO_FATAL_FAILURE(ExpectEveryUsePostedExactlyOnce());
  EXPECT_TRUE(pricing_->Running()) << "pdao-pricing died with Redis:\n" << pricing_->LogTail();
}

}  // namespace
}  // namespace pdao::e2e

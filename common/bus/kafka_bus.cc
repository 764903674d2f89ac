#include "common/bus/kafka_bus.h"

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafkacpp.h>

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <thread>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "common/bus/batch_delivery.h"
#include "common/log/log.h"
#include "prometheus/counter.h"
#include "prometheus/family.h"
#include "prometheus/gauge.h"
#include "prometheus/registry.h"

namespace pdao {
namespace {

int ToMillis(absl::Duration d) {
  const int64_t ms = absl::ToInt64Milliseconds(d);
  return static_cast<int>(std::clamp<int64_t>(ms, 0, INT32_MAX));
}

using LogFn = std::function<void(std::string_view, std::string_view)>;

LogFn DefaultLog() {
  return [](std::string_view level, std::string_view message) {
    log::Level l = level == "error"  ? log::Level::kError
                   : level == "warn" ? log::Level::kWarn
                                     : log::Level::kInfo;
    log::Write(l, std::string(message), {{"component", "kafka_bus"}});
  };
}

absl::Status Set(RdKafka::Conf* conf, const std::string& name, const std::string& value) {
  std::string err;
  if (conf->set(name, value, err) != RdKafka::Conf::CONF_OK) {
    return absl::InvalidArgumentError(
        absl::StrCat("kafka property ", name, "=", value, " rejected: ", err));
  }
  return absl::OkStatus();
}

absl::Status SetAll(RdKafka::Conf* conf, const std::map<std::string, std::string>& props) {
  for (const auto& [k, v] : props) {
    if (absl::Status s = Set(conf, k, v); !s.ok()) return s;
  }
  return absl::OkStatus();
}

// Routes librdkafka's log lines and error events to our log function.
class EventLogger : public RdKafka::EventCb {
 public:
  explicit EventLogger(LogFn log) : log_(std::move(log)) {}
  // After Mute, events are dropped (a consumer whose close outlived its subscription).
  void Mute() { muted_.store(true); }
  void event_cb(RdKafka::Event& event) override {
    if (muted_.load()) return;
    switch (event.type()) {
      case RdKafka::Event::EVENT_ERROR:
        log_(event.fatal() ? "error" : "warn",
             absl::StrCat("kafka: ", RdKafka::err2str(event.err()), ": ", event.str()));
        break;
      case RdKafka::Event::EVENT_LOG:
        // "FAIL" lines repeat what the error event above already reports.
        if (event.fac() == "FAIL") break;
        log_(event.severity() <= RdKafka::Event::EVENT_SEVERITY_ERROR ? "error" : "warn",
             absl::StrCat("kafka ", event.fac(), ": ", event.str()));
        break;
      default:
        break;
    }
  }

 protected:
  LogFn log_;
  std::atomic<bool> muted_{false};
};

// How often a subscription checks its lag and progress (stall detection).
constexpr absl::Duration kStallCheckInterval = absl::Milliseconds(500);
// How long a stopping consumer may spend committing its offsets and leaving the group. With the
// broker gone, librdkafka's close() never returns (a pdao-authorization stopped after its broker
// hung in rd_kafka_consumer_close for good); past this bound the consumer is dropped as kill -9
// would drop it: offsets stored since the last auto-commit are delivered again (at-least-once;
// consumers drop duplicates by event id) and the group reassigns after the session timeout.
constexpr absl::Duration kCloseTimeout = absl::Seconds(5);

// One consumer-group member: a KafkaConsumer and the thread that drives it.
class KafkaSubscription final : public Subscription {
 public:
  KafkaSubscription(std::unique_ptr<RdKafka::KafkaConsumer> consumer,
                    std::unique_ptr<EventLogger> events, MessageHandler handler,
                    absl::Duration backoff, LogFn log, std::string group, std::string member,
                    absl::Duration stall_after, prometheus::Registry* metrics,
                    std::unique_ptr<BatchRunner> batch = nullptr)
      : consumer_(std::move(consumer)),
        events_(std::move(events)),
        handler_(std::move(handler)),
        backoff_(backoff),
        log_(std::move(log)),
        group_(std::move(group)),
        member_(std::move(member)),
        stall_after_(stall_after),
        batch_(std::move(batch)),
        last_progress_(absl::Now()) {
    if (metrics != nullptr) {
      const std::map<std::string, std::string> labels = {{"group", group_}, {"member", member_}};
      stalled_family_ = &prometheus::BuildGauge()
                             .Name("pdao_bus_consumer_stalled")
                             .Help(
                                 "1 while a consumer has lag and handled nothing for "
                                 "--kafka-stall-after (common/bus/kafka_bus.h)")
                             .Register(*metrics);
      lag_family_ = &prometheus::BuildGauge()
                         .Name("pdao_bus_consumer_lag")
                         .Help("Messages waiting in the consumer's assigned partitions")
                         .Register(*metrics);
      age_family_ = &prometheus::BuildGauge()
                         .Name("pdao_bus_consumer_last_progress_age_seconds")
                         .Help("Seconds since the consumer last handled a message or was caught up")
                         .Register(*metrics);
      stalled_gauge_ = &stalled_family_->Add(labels);
      lag_gauge_ = &lag_family_->Add(labels);
      age_gauge_ = &age_family_->Add(labels);
    }
    if (batch_) handler_thread_ = std::thread([this] { RunHandler(); });
    thread_ = std::thread([this] { Run(); });
  }

  ~KafkaSubscription() override {
    {
      absl::MutexLock lock(&mu_);
      stop_ = true;
    }
    thread_.join();
    if (handler_thread_.joinable()) {
      {
        absl::MutexLock lock(&handoff_mu_);
        handler_stop_ = true;
      }
      handler_thread_.join();
    }
    if (stalled_gauge_ != nullptr) {
      stalled_family_->Remove(stalled_gauge_);
      lag_family_->Remove(lag_gauge_);
      age_family_->Remove(age_gauge_);
    }
  }

  // KafkaBus::AbandonForTest: the thread ends without close().
  void Abandon() { abandon_.store(true); }

 private:
  bool Stopping() {
    absl::MutexLock lock(&mu_);
    return stop_;
  }

  // Waits `d` or until the subscription is destroyed. Returns true when stopping.
  bool WaitOrStop(absl::Duration d) {
    absl::MutexLock lock(&mu_);
    auto stopped = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return stop_; };
    mu_.AwaitWithTimeout(absl::Condition(&stopped), d);
    return stop_;
  }

  void Run() {
    absl::Time next_check = absl::Now() + kStallCheckInterval;
    while (!Stopping()) {
      if (abandon_.load()) return;  // as kill -9 would: no commit, no LeaveGroup
      if (absl::Now() >= next_check) {
        CheckProgress();
        next_check = absl::Now() + kStallCheckInterval;
      }
      if (batch_) {
        BatchRound();
        continue;
      }
      std::unique_ptr<RdKafka::Message> msg(consumer_->consume(100));
      if (!msg) continue;
      switch (msg->err()) {
        case RdKafka::ERR_NO_ERROR:
          Handle(*msg);
          break;
        case RdKafka::ERR__TIMED_OUT:
        case RdKafka::ERR__PARTITION_EOF:
          break;
        default:
          log_("warn", absl::StrCat("kafka consumer (group ", group_, "): ", msg->errstr()));
          break;
      }
    }
    if (abandon_.load()) return;
    // The batch with the handler is finished and its offsets stored before the commit.
    if (in_flight_) ApplyOutcome(WaitHandled().outcome);
    // Commits the stored (acknowledged) offsets and leaves the group (a dynamic member), so the
    // partitions move to the other members at once; bounded by kCloseTimeout.
    Close();
  }

  // consumer_->close() blocks until it has committed and left the group, and without a broker it
  // never returns. It runs on a thread of its own that owns the consumer and its event callback;
  // past kCloseTimeout the subscription stops waiting (the callback is muted: the logger it would
  // call may be gone) and the thread frees both whenever close() returns, or never, as the
  // process ends.
  void Close() {
    struct Closing {
      std::unique_ptr<EventLogger> events;  // declared first: outlives the consumer
      std::unique_ptr<RdKafka::KafkaConsumer> consumer;
      absl::Notification done;
    };
    auto closing = std::make_shared<Closing>();
    closing->events = std::move(events_);
    closing->consumer = std::move(consumer_);
    std::thread([closing] {
      closing->consumer->close();
      closing->done.Notify();
    }).detach();
    if (!closing->done.WaitForNotificationWithTimeout(kCloseTimeout)) {
      closing->events->Mute();
      log_("warn", absl::StrCat("kafka consumer (group ", group_, "): not closed after ",
                                absl::FormatDuration(kCloseTimeout),
                                " (broker unreachable?); left without leaving the group, offsets "
                                "stored since the last commit are delivered again"));
    }
  }

  // Lag of the assigned partitions: the high watermark last seen by the fetcher minus the
  // position (no broker round trip). A partition without a position yet counts from its low
  // watermark. -1 when there is no assignment.
  int64_t Lag() {
    std::vector<RdKafka::TopicPartition*> parts;
    if (consumer_->assignment(parts) != RdKafka::ERR_NO_ERROR || parts.empty()) {
      RdKafka::TopicPartition::destroy(parts);
      return -1;
    }
    (void)consumer_->position(parts);
    int64_t lag = 0;
    for (RdKafka::TopicPartition* tp : parts) {
      int64_t low = -1;
      int64_t high = -1;
      if (consumer_->get_watermark_offsets(tp->topic(), tp->partition(), &low, &high) !=
              RdKafka::ERR_NO_ERROR ||
          high < 0) {
        continue;
      }
      const int64_t position = tp->offset() >= 0 ? tp->offset() : std::max<int64_t>(low, 0);
      lag += std::max<int64_t>(0, high - position);
    }
    RdKafka::TopicPartition::destroy(parts);
    return lag;
  }

  // Stalled: lag and nothing handled for stall_after_. Logs the change both ways; sets gauges.
  void CheckProgress() {
    const int64_t lag = Lag();
    const absl::Time now = absl::Now();
    if (lag <= 0) last_progress_ = now;  // caught up (or nothing assigned): not stalled
    const absl::Duration age = now - last_progress_;
    const bool stalled = lag > 0 && age >= stall_after_;
    if (stalled && !stalled_) {
      log_("warn", absl::StrCat("kafka consumer group ", group_, " member ", member_,
                                " stalled: no message handled for ", absl::FormatDuration(age),
                                " while ", lag, " messages wait (lag)"));
    } else if (!stalled && stalled_) {
      log_("info", absl::StrCat("kafka consumer group ", group_, " member ", member_,
                                " resumed after ", absl::FormatDuration(age), ", lag ", lag));
    }
    stalled_ = stalled;
    if (stalled_gauge_ != nullptr) {
      stalled_gauge_->Set(stalled ? 1 : 0);
      lag_gauge_->Set(static_cast<double>(std::max<int64_t>(lag, 0)));
      age_gauge_->Set(absl::ToDoubleSeconds(age));
    }
  }

  void Handle(RdKafka::Message& msg) {
    const std::string topic = msg.topic_name();
    const int32_t partition = msg.partition();
    const int64_t offset = msg.offset();
    const auto tp_key = std::make_pair(topic, partition);

    // A partition rewound after a handler error: anything past the failed offset that was already
    // fetched is dropped (never handled, never stored) until the failed message comes back.
    if (auto it = rewind_.find(tp_key); it != rewind_.end()) {
      if (offset > it->second) {
        Seek(topic, partition, it->second);
        return;
      }
      if (offset == it->second) rewind_.erase(it);
    }

    BusMessage m;
    m.topic = topic;
    if (msg.key() != nullptr) m.key = *msg.key();
    if (msg.payload() != nullptr) {
      m.payload.assign(static_cast<const char*>(msg.payload()), msg.len());
    }
    absl::Status status = handler_(m);
    if (status.ok()) {
      last_progress_ = absl::Now();
      std::unique_ptr<RdKafka::TopicPartition> next(
          RdKafka::TopicPartition::create(topic, partition, offset + 1));
      std::vector<RdKafka::TopicPartition*> offsets = {next.get()};
      RdKafka::ErrorCode err = consumer_->offsets_store(offsets);
      if (err != RdKafka::ERR_NO_ERROR) {
        // Typically the partition was revoked meanwhile: the new owner gets the message again.
        log_("warn", absl::StrCat("kafka offsets_store ", topic, "[", partition, "]@", offset + 1,
                                  ": ", RdKafka::err2str(err)));
      }
      return;
    }
    log_("warn", absl::StrCat("handler of group ", group_, " failed on ", topic, "[", partition,
                              "]@", offset, ", redelivering: ", status.ToString()));
    rewind_[tp_key] = offset;
    Seek(topic, partition, offset);
    WaitOrStop(backoff_);
  }

  void Seek(const std::string& topic, int32_t partition, int64_t offset) {
    std::unique_ptr<RdKafka::TopicPartition> tp(
        RdKafka::TopicPartition::create(topic, partition, offset));
    RdKafka::ErrorCode err = consumer_->seek(*tp, 5000);
    if (err != RdKafka::ERR_NO_ERROR) {
      // Not assigned any more (rebalance): the offset was not stored, so the next owner starts at
      // this message. Still assigned: the next later message triggers another seek.
      log_("warn", absl::StrCat("kafka seek ", topic, "[", partition, "]@", offset, ": ",
                                RdKafka::err2str(err)));
    }
  }

  // --- Batch consumption (issue 10) ---

  // A batch subscription fetches ahead (issue 10): this thread fetches batch k+1 while the
  // handler thread handles batch k (with one thread, the handler's pipeline drained while the
  // next batch was fetched and copied: a quarter of the audit ingest's time). Offsets, seeks and
  // rewinds stay on this thread, as librdkafka wants. Batch k+1 goes to the handler only after
  // batch k's outcome is applied, without its messages of a partition that batch k stopped
  // (they come again from the rewind), so each partition's order and at-least-once hold as
  // before. Two vectors of messages take turns, so their strings' buffers are reused.
  struct Handled {
    BatchOutcome outcome;
    std::vector<FetchedMessage> messages;  // the batch's vector, back for reuse
    size_t count = 0;
  };

  // One round: fetch the next batch; take the previous one's outcome; hand the next one over.
  void BatchRound() {
    size_t n = Fetch(spare_);
    std::vector<FetchedMessage> returned;  // the handled batch's vector
    if (in_flight_) {
      Handled handled = WaitHandled();
      in_flight_ = false;
      returned.swap(handled.messages);
      const bool stopped = !handled.outcome.retry.empty();
      if (stopped) n = DropStopped(handled.outcome.retry, spare_, n);
      ApplyOutcome(handled.outcome);
      if (stopped && WaitOrStop(backoff_)) n = 0;  // stopping: not handed over, not stored
    }
    if (n > 0) {
      absl::MutexLock lock(&handoff_mu_);
      job_.messages.swap(spare_);  // the handler left job_'s vector empty
      job_.count = n;
      has_job_ = true;
      in_flight_ = true;
      handler_done_.store(false, std::memory_order_release);
    }
    if (returned.capacity() > spare_.capacity()) spare_.swap(returned);
  }

  // Up to max_messages (and max_bytes) into `into` (reusing its elements), waiting up to linger
  // after the first (nothing within 100 ms: none, back to Run's checks), and beyond the linger for
  // as long as the handler is still busy with the batch before (issue 10: waiting then delays
  // nothing, and a fuller batch costs the handler one pipeline drain for more messages; with the
  // audit's 1 ms linger, batches closed at about 4,400 messages while the handler took 12 ms on
  // each). Returns how many.
  size_t Fetch(std::vector<FetchedMessage>& into) {
    const BatchOptions& o = batch_->options();
    const auto max = static_cast<size_t>(o.max_messages);
    size_t n = 0;
    size_t bytes = 0;
    absl::Time deadline = absl::InfiniteFuture();
    while (n < max && bytes < o.max_bytes) {
      int timeout_ms = 100;
      if (n > 0) {  // one clock read a message, not two (clock reads were 2 % of the ingest CPU)
        const absl::Time now = absl::Now();
        if (now >= deadline && !HandlerBusy()) break;
        timeout_ms = now < deadline ? ToMillis(deadline - now) : kBusyPollMs;
      }
      std::unique_ptr<RdKafka::Message> msg(consumer_->consume(timeout_ms));
      if (msg && msg->err() == RdKafka::ERR_NO_ERROR) {
        if (Admit(*msg)) {
          // Sized once (an idle round allocates nothing); grown, it would move every message.
          if (into.capacity() < max) into.reserve(max);
          FetchedMessage& f = n < into.size() ? into[n] : into.emplace_back();
          const rd_kafka_message_t* c = msg->c_ptr();
          if (c->len <= kKeptPayloadCapacity) Shrink(f);
          f.message.topic.assign(rd_kafka_topic_name(c->rkt));
          f.message.key.assign(static_cast<const char*>(c->key),
                               c->key != nullptr ? c->key_len : 0);
          f.message.payload.assign(static_cast<const char*>(c->payload),
                                   c->payload != nullptr ? c->len : 0);
          f.partition = c->partition;
          f.offset = c->offset;
          bytes += c->len;
          if (++n == 1) deadline = absl::Now() + o.linger;
        }
      } else if (msg && msg->err() != RdKafka::ERR__TIMED_OUT &&
                 msg->err() != RdKafka::ERR__PARTITION_EOF) {
        log_("warn", absl::StrCat("kafka consumer (group ", group_, "): ", msg->errstr()));
      }
      if (n == 0) return 0;
    }
    for (size_t i = n; i < into.size(); ++i) Shrink(into[i]);
    return n;
  }

  // True while the handler thread has a batch and has not answered it yet.
  bool HandlerBusy() const { return in_flight_ && !handler_done_.load(std::memory_order_acquire); }
  // How long a fetch past its linger waits for a message while the handler is busy: the handler
  // may finish meanwhile, so this is at most the delay added to the next handoff.
  static constexpr int kBusyPollMs = 1;

  // A reused message keeps its payload's buffer only up to kKeptPayloadCapacity: the two vectors
  // then hold at most their batch (max_bytes plus one message) and 4 KiB a message beyond it,
  // whatever sizes earlier batches had.
  static constexpr size_t kKeptPayloadCapacity = 4096;
  static void Shrink(FetchedMessage& f) {
    if (f.message.payload.capacity() > kKeptPayloadCapacity) std::string().swap(f.message.payload);
  }

  // Moves the messages of `batch[0, n)` that a stopped partition will deliver again (at or after
  // its retry offset) behind the others; returns how many others.
  static size_t DropStopped(const std::map<TopicPartition, int64_t>& retry,
                            std::vector<FetchedMessage>& batch, size_t n) {
    size_t kept = 0;
    for (size_t i = 0; i < n; ++i) {
      auto it = retry.find(TopicPartition(batch[i].message.topic, batch[i].partition));
      if (it != retry.end() && batch[i].offset >= it->second) continue;
      if (kept != i) std::swap(batch[kept], batch[i]);
      ++kept;
    }
    return kept;
  }

  Handled WaitHandled() {
    absl::MutexLock lock(&handoff_mu_);
    handoff_mu_.Await(absl::Condition(&has_handled_));
    has_handled_ = false;
    return std::move(handled_);
  }

  // Acknowledged offsets are stored, stopped partitions rewound.
  void ApplyOutcome(const BatchOutcome& outcome) {
    if (!outcome.acknowledged.empty()) last_progress_ = absl::Now();
    for (const auto& [tp, next] : outcome.acknowledged) {
      std::unique_ptr<RdKafka::TopicPartition> p(
          RdKafka::TopicPartition::create(tp.first, tp.second, next));
      std::vector<RdKafka::TopicPartition*> offsets = {p.get()};
      RdKafka::ErrorCode err = consumer_->offsets_store(offsets);
      if (err != RdKafka::ERR_NO_ERROR) {
        // Typically the partition was revoked meanwhile: the new owner gets the messages again.
        log_("warn", absl::StrCat("kafka offsets_store ", tp.first, "[", tp.second, "]@", next,
                                  ": ", RdKafka::err2str(err)));
      }
    }
    for (const auto& [tp, offset] : outcome.retry) {
      rewind_[tp] = offset;
      Seek(tp.first, tp.second, offset);
    }
  }

  // The handler thread: one batch at a time, by the runner's rules.
  void RunHandler() {
    while (true) {
      Handled h;
      {
        absl::MutexLock lock(&handoff_mu_);
        auto ready = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(handoff_mu_) {
          return has_job_ || handler_stop_;
        };
        handoff_mu_.Await(absl::Condition(&ready));
        if (!has_job_) return;
        has_job_ = false;
        h.messages.swap(job_.messages);
        h.count = job_.count;
      }
      h.outcome = batch_->Handle(absl::MakeSpan(h.messages.data(), h.count));
      absl::MutexLock lock(&handoff_mu_);
      handled_ = std::move(h);
      has_handled_ = true;
      handler_done_.store(true, std::memory_order_release);
    }
  }

  // False for a message fetched past a partition's rewind point (dropped until the rewound
  // message comes back), as in Handle.
  bool Admit(RdKafka::Message& msg) {
    if (rewind_.empty()) return true;  // the usual case: no lookup, no topic name copied
    auto it = rewind_.find(std::make_pair(msg.topic_name(), msg.partition()));
    if (it == rewind_.end()) return true;
    if (msg.offset() > it->second) {
      Seek(msg.topic_name(), msg.partition(), it->second);
      return false;
    }
    if (msg.offset() == it->second) rewind_.erase(it);
    return true;
  }

  std::unique_ptr<RdKafka::KafkaConsumer> consumer_;
  std::unique_ptr<EventLogger> events_;  // referenced by consumer_'s conf; outlives it
  MessageHandler handler_;
  const absl::Duration backoff_;
  LogFn log_;
  const std::string group_;
  const std::string member_;
  const absl::Duration stall_after_;
  std::unique_ptr<BatchRunner> batch_;  // batch subscription: its rules; null otherwise
  // Batch subscription: the handler thread and what passes between it and this one.
  std::thread handler_thread_;
  absl::Mutex handoff_mu_;
  Handled job_ ABSL_GUARDED_BY(handoff_mu_);  // the batch to handle (messages, count)
  bool has_job_ ABSL_GUARDED_BY(handoff_mu_) = false;
  Handled handled_ ABSL_GUARDED_BY(handoff_mu_);  // the handled batch and its outcome
  bool has_handled_ ABSL_GUARDED_BY(handoff_mu_) = false;
  bool handler_stop_ ABSL_GUARDED_BY(handoff_mu_) = false;
  bool in_flight_ = false;  // consumer thread only: a batch is with the handler
  // False from a batch's handoff until the handler thread has answered it (read by Fetch without
  // taking handoff_mu_ for each message).
  std::atomic<bool> handler_done_{true};
  std::vector<FetchedMessage> spare_;  // consumer thread only: the next batch's vector
  // (topic, partition) -> offset of a message whose handler failed and that must come next.
  std::map<std::pair<std::string, int32_t>, int64_t> rewind_;  // consumer thread only
  absl::Time last_progress_;                                   // consumer thread only
  bool stalled_ = false;                                       // consumer thread only
  std::atomic<bool> abandon_{false};
  prometheus::Family<prometheus::Gauge>* stalled_family_ = nullptr;
  prometheus::Family<prometheus::Gauge>* lag_family_ = nullptr;
  prometheus::Family<prometheus::Gauge>* age_family_ = nullptr;
  prometheus::Gauge* stalled_gauge_ = nullptr;
  prometheus::Gauge* lag_gauge_ = nullptr;
  prometheus::Gauge* age_gauge_ = nullptr;

  absl::Mutex mu_;
  bool stop_ ABSL_GUARDED_BY(mu_) = false;
  std::thread thread_;
};

}  // namespace

// Callbacks handed to every producer of the bus.
class KafkaBus::Impl : public RdKafka::DeliveryReportCb, public EventLogger {
 public:
  Impl(KafkaBus* bus, LogFn log) : EventLogger(std::move(log)), bus_(bus) {}

  void dr_cb(RdKafka::Message& message) override {
    std::unique_ptr<DeliveryCallback> cb(static_cast<DeliveryCallback*>(message.msg_opaque()));
    absl::Status status = absl::OkStatus();
    if (message.err() != RdKafka::ERR_NO_ERROR) {
      status = absl::UnavailableError(
          absl::StrCat("kafka delivery to ", message.topic_name(), " failed: ", message.errstr()));
    }
    if (cb && *cb) (*cb)(status);
    bus_->outstanding_.fetch_sub(1);
  }

  void event_cb(RdKafka::Event& event) override {
    if (event.type() == RdKafka::Event::EVENT_ERROR && event.fatal()) fatal_.store(true);
    EventLogger::event_cb(event);
  }

  std::atomic<bool> fatal_{false};

 private:
  KafkaBus* const bus_;
};

KafkaBus::KafkaBus(KafkaBusOptions options) : options_(std::move(options)) {
  impl_ = std::make_unique<Impl>(this, options_.log ? options_.log : DefaultLog());
}

void KafkaBus::Log(std::string_view level, std::string_view message) const {
  if (options_.log) {
    options_.log(level, message);
  } else {
    DefaultLog()(level, message);
  }
}

absl::StatusOr<std::unique_ptr<KafkaBus>> KafkaBus::Create(KafkaBusOptions options) {
  if (options.bootstrap_servers.empty()) {
    return absl::InvalidArgumentError("KafkaBusOptions.bootstrap_servers is required");
  }
  if (options.producer_linger < absl::ZeroDuration() ||
      options.producer_linger > kMaxProducerLinger) {
    return absl::InvalidArgumentError(
        absl::StrCat("KafkaBusOptions.producer_linger must be between 0 and ",
                     absl::FormatDuration(kMaxProducerLinger)));
  }
  std::unique_ptr<KafkaBus> bus(new KafkaBus(std::move(options)));
  {
    absl::MutexLock lock(&bus->producer_mu_);
    if (absl::Status s = bus->BuildProducerLocked(); !s.ok()) return s;
  }
  bus->poll_thread_ = std::thread([b = bus.get()] { b->PollLoop(); });
  return bus;
}

absl::Status KafkaBus::BuildProducerLocked() {
  std::unique_ptr<RdKafka::Conf> conf(RdKafka::Conf::create(RdKafka::Conf::CONF_GLOBAL));
  std::string err;
  if (conf->set("dr_cb", static_cast<RdKafka::DeliveryReportCb*>(impl_.get()), err) !=
          RdKafka::Conf::CONF_OK ||
      conf->set("event_cb", static_cast<RdKafka::EventCb*>(impl_.get()), err) !=
          RdKafka::Conf::CONF_OK) {
    return absl::InternalError(absl::StrCat("kafka producer callbacks: ", err));
  }
  const std::map<std::string, std::string> ours = {
      {"bootstrap.servers", options_.bootstrap_servers},
      {"client.id", options_.client_id},
      {"enable.idempotence", "true"},
      {"acks", "all"},
      {"message.timeout.ms", absl::StrCat(ToMillis(options_.message_timeout))},
      {"linger.ms", absl::StrCat(absl::ToDoubleMilliseconds(options_.producer_linger))},
      {"topic.metadata.refresh.interval.ms",
       absl::StrCat(ToMillis(options_.metadata_refresh_interval))},
  };
  for (const auto* props : {&ours, &options_.extra_config, &options_.producer_config}) {
    if (absl::Status s = SetAll(conf.get(), *props); !s.ok()) return s;
  }
  std::unique_ptr<RdKafka::Producer> producer(RdKafka::Producer::create(conf.get(), err));
  if (!producer) {
    return absl::InvalidArgumentError(absl::StrCat("kafka producer: ", err));
  }
  producer_ = std::move(producer);
  ++generation_;
  impl_->fatal_.store(false);
  return absl::OkStatus();
}

void KafkaBus::PollLoop() {
  absl::Time close_deadline = absl::InfiniteFuture();
  while (true) {
    if (closing_.load()) {
      // The destructor purged what is left; serve those reports, bounded, then end.
      if (close_deadline == absl::InfiniteFuture()) close_deadline = absl::Now() + absl::Seconds(5);
      if (outstanding_.load() <= 0 || absl::Now() > close_deadline) return;
    }
    uint64_t generation = 0;
    {
      absl::ReaderMutexLock lock(&producer_mu_);
      producer_->poll(50);
      generation = generation_;
    }
    if (impl_->fatal_.load() && !closing_.load()) RebuildProducer(generation);
  }
}

void KafkaBus::RebuildProducer(uint64_t generation) {
  std::unique_ptr<RdKafka::Producer> old;
  {
    absl::MutexLock lock(&producer_mu_);
    if (generation != generation_ || !producer_) return;  // someone else rebuilt it
    std::string reason;
    RdKafka::ErrorCode code = producer_->fatal_error(reason);
    Log("error", absl::StrCat("kafka producer fatal error (", RdKafka::err2str(code), ": ", reason,
                              "); building a new producer"));
    old = std::move(producer_);
    if (absl::Status s = BuildProducerLocked(); !s.ok()) {
      // The same properties worked before; keep the old one so the bus stays usable.
      Log("error", absl::StrCat("rebuilding the kafka producer failed: ", s.ToString()));
      producer_ = std::move(old);
      return;
    }
    rebuilds_.fetch_add(1);
  }
  // Outside the lock (callbacks may call Publish): fail what the old producer still holds.
  old->purge(RdKafka::Producer::PURGE_QUEUE | RdKafka::Producer::PURGE_INFLIGHT);
  old->flush(5000);
}

absl::Status KafkaBus::Publish(const BusMessage& message, DeliveryCallback on_delivery) {
  if (message.topic.empty()) {
    return absl::InvalidArgumentError("bus message has no topic (EventBus::Publish)");
  }
  if (closing_.load()) {
    return absl::FailedPreconditionError("kafka bus is shutting down");
  }
  if (options_.create_topics) {
    bool first = false;
    {
      absl::MutexLock lock(&topics_mu_);
      first = ensured_topics_.insert(message.topic).second;
    }
    // Once per topic and bus; on failure the producer's auto-creation (broker defaults) applies.
    if (first) EnsureConfiguredTopics({message.topic}, "publish");
  }
  auto* opaque = new DeliveryCallback(std::move(on_delivery));
  const absl::Time deadline = absl::Now() + options_.queue_full_timeout;
  outstanding_.fetch_add(1);
  while (true) {
    RdKafka::ErrorCode err;
    uint64_t generation = 0;
    {
      absl::ReaderMutexLock lock(&producer_mu_);
      generation = generation_;
      err = producer_->produce(
          message.topic, RdKafka::Topic::PARTITION_UA, RdKafka::Producer::RK_MSG_COPY,
          const_cast<char*>(message.payload.data()), message.payload.size(),
          message.key.empty() ? nullptr : message.key.data(), message.key.size(), 0, opaque);
      if (err == RdKafka::ERR_NO_ERROR) return absl::OkStatus();
      if (err == RdKafka::ERR__QUEUE_FULL && absl::Now() < deadline) {
        producer_->poll(100);
        continue;
      }
    }
    if (err == RdKafka::ERR__FATAL && !closing_.load()) {
      RebuildProducer(generation);
      continue;
    }
    outstanding_.fetch_sub(1);
    delete opaque;
    switch (err) {
      case RdKafka::ERR_MSG_SIZE_TOO_LARGE:
        return absl::InvalidArgumentError(absl::StrCat(
            "kafka message too large for ", message.topic, ": ", message.payload.size(), " bytes"));
      case RdKafka::ERR__QUEUE_FULL:
        return absl::ResourceExhaustedError(
            "kafka producer queue stayed full (is the broker reachable?)");
      default:
        return absl::UnavailableError(
            absl::StrCat("kafka produce to ", message.topic, ": ", RdKafka::err2str(err)));
    }
  }
}

absl::Status KafkaBus::InjectFatalErrorForTest() {
  absl::ReaderMutexLock lock(&producer_mu_);
  rd_kafka_resp_err_t err = rd_kafka_test_fatal_error(
      producer_->c_ptr(), RD_KAFKA_RESP_ERR_OUT_OF_ORDER_SEQUENCE_NUMBER, "injected by a test");
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    return absl::FailedPreconditionError(
        absl::StrCat("rd_kafka_test_fatal_error: ", rd_kafka_err2str(err)));
  }
  return absl::OkStatus();
}

absl::Status KafkaBus::Flush(absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  while (outstanding_.load() > 0) {
    if (absl::Now() >= deadline) {
      return absl::DeadlineExceededError(
          absl::StrCat(outstanding_.load(), " kafka messages still without a delivery report"));
    }
    absl::SleepFor(absl::Milliseconds(5));  // the poll thread serves the reports
  }
  return absl::OkStatus();
}

KafkaBus::~KafkaBus() {
  if (poll_thread_.joinable()) {
    if (absl::Status s = Flush(options_.close_flush_timeout); !s.ok()) {
      Log("warn", absl::StrCat("kafka bus closing: ", s.message(), "; failing them"));
    }
    closing_.store(true);
    {
      absl::ReaderMutexLock lock(&producer_mu_);
      producer_->purge(RdKafka::Producer::PURGE_QUEUE | RdKafka::Producer::PURGE_INFLIGHT);
    }
    // Purged messages get their (error) reports from the poll thread, which then ends.
    poll_thread_.join();
  }
  absl::MutexLock lock(&producer_mu_);
  if (producer_) {
    producer_->flush(1000);  // serves any report that came after the poll thread ended
    producer_.reset();
  }
}

absl::StatusOr<std::unique_ptr<Subscription>> KafkaBus::Subscribe(
    const std::string& group, const std::vector<std::string>& topics, MessageHandler handler) {
  if (!handler) return absl::InvalidArgumentError("subscription needs a handler");
  return SubscribeWith(group, topics, std::move(handler), nullptr);
}

absl::StatusOr<std::unique_ptr<Subscription>> KafkaBus::SubscribeWith(
    const std::string& group, const std::vector<std::string>& topics, MessageHandler handler,
    std::unique_ptr<BatchRunner> batch) {
  if (group.empty()) return absl::InvalidArgumentError("subscription needs a consumer group");
  if (topics.empty()) return absl::InvalidArgumentError("subscription needs at least one topic");
  for (const auto& t : topics) {
    if (t.empty()) return absl::InvalidArgumentError("subscription topic name is empty");
  }
  if (closing_.load()) return absl::FailedPreconditionError("kafka bus is shutting down");

  if (options_.create_topics) EnsureConfiguredTopics(topics, absl::StrCat("group ", group));
  std::string member;
  {
    absl::MutexLock lock(&topics_mu_);
    const int n = ++members_[group];
    member = options_.instance_id.empty() ? absl::StrCat(n) : options_.instance_id;
    if (n > 1 && !options_.instance_id.empty()) absl::StrAppend(&member, "-", n);
  }

  LogFn log = options_.log ? options_.log : DefaultLog();
  auto events = std::make_unique<EventLogger>(log);
  std::unique_ptr<RdKafka::Conf> conf(RdKafka::Conf::create(RdKafka::Conf::CONF_GLOBAL));
  std::string err;
  if (conf->set("event_cb", static_cast<RdKafka::EventCb*>(events.get()), err) !=
      RdKafka::Conf::CONF_OK) {
    return absl::InternalError(absl::StrCat("kafka consumer callbacks: ", err));
  }
  const std::map<std::string, std::string> ours = {
      {"bootstrap.servers", options_.bootstrap_servers},
      {"client.id", options_.client_id},
      {"group.id", group},
      {"enable.auto.commit", "true"},
      {"enable.auto.offset.store", "false"},
      {"auto.offset.reset", "earliest"},
      {"allow.auto.create.topics", "true"},
      {"enable.partition.eof", "false"},
      {"session.timeout.ms", absl::StrCat(ToMillis(options_.session_timeout))},
      {"heartbeat.interval.ms", absl::StrCat(ToMillis(options_.heartbeat_interval))},
      {"topic.metadata.refresh.interval.ms",
       absl::StrCat(ToMillis(options_.metadata_refresh_interval))},
      // The prefetch (issue 10). librdkafka stops fetching a partition once its local queue
      // holds queued.min.messages (default 100,000) and then waits a fixed 1 s before fetching it
      // again (2.0.x has no fetch.queue.backoff.ms). A consumer slower than the fetcher but
      // faster than 100,000 messages/s (the audit log's ingest) therefore drained the queue and
      // then starved for the rest of each second: bench_audit_ingest spent 59 % of its time
      // waiting for a batch's first message. Counting messages (librdkafka's maximum) no longer
      // stops the prefetch; its memory stays bounded by bytes, --kafka-prefetch-kbytes (64 MiB by
      // default, librdkafka's own default; docs/benchmarks.md "Audit ingest from Kafka").
      {"queued.min.messages", "10000000"},
      {"queued.max.messages.kbytes", absl::StrCat(options_.prefetch_kbytes)},
  };
  if (!options_.instance_id.empty()) {
    if (absl::Status s = Set(conf.get(), "group.instance.id", member); !s.ok()) return s;
  }
  for (const auto* props : {&ours, &options_.extra_config, &options_.consumer_config}) {
    if (absl::Status s = SetAll(conf.get(), *props); !s.ok()) return s;
  }
  std::unique_ptr<RdKafka::KafkaConsumer> consumer(RdKafka::KafkaConsumer::create(conf.get(), err));
  if (!consumer) return absl::InvalidArgumentError(absl::StrCat("kafka consumer: ", err));
  RdKafka::ErrorCode code = consumer->subscribe(topics);
  if (code != RdKafka::ERR_NO_ERROR) {
    consumer->close();
    return absl::InvalidArgumentError(absl::StrCat(
        "kafka subscribe to ", absl::StrJoin(topics, ","), ": ", RdKafka::err2str(code)));
  }
  return std::unique_ptr<Subscription>(new KafkaSubscription(
      std::move(consumer), std::move(events), std::move(handler), options_.redelivery_backoff,
      std::move(log), group, member, options_.stall_after, options_.metrics, std::move(batch)));
}

void KafkaBus::AbandonForTest(std::unique_ptr<Subscription> subscription) {
  if (auto* kafka = dynamic_cast<KafkaSubscription*>(subscription.get())) kafka->Abandon();
  subscription.reset();
}

void KafkaBus::EnsureConfiguredTopics(const std::vector<std::string>& topics,
                                      const std::string& why) {
  absl::Status s = EnsureTopics(topics, options_.topic_partitions, options_.topic_create_timeout,
                                options_.topic_replication_factor);
  if (!s.ok()) {
    Log("warn", absl::StrCat("kafka topics ", absl::StrJoin(topics, ","), " (", why,
                             ") not created: ", s.ToString(),
                             "; the broker's auto-creation applies if it is on"));
  }
}

absl::Status KafkaBus::EnsureTopics(const std::vector<std::string>& topics, int partitions,
                                    absl::Duration timeout, int replication_factor) {
  if (topics.empty()) return absl::OkStatus();
  if (partitions < 1 || partitions > kMaxPartitions) {
    return absl::InvalidArgumentError(
        absl::StrCat("topic partitions must be 1..", kMaxPartitions, ", not ", partitions));
  }
  if (replication_factor != -1 &&
      (replication_factor < 1 || replication_factor > kMaxReplicationFactor)) {
    return absl::InvalidArgumentError(absl::StrCat("topic replication factor must be -1 or 1..",
                                                   kMaxReplicationFactor, ", not ",
                                                   replication_factor));
  }
  absl::ReaderMutexLock lock(&producer_mu_);
  rd_kafka_t* rk = producer_->c_ptr();
  char errstr[512];
  std::vector<rd_kafka_NewTopic_t*> new_topics;
  auto free_topics = [&new_topics] {
    for (auto* t : new_topics) rd_kafka_NewTopic_destroy(t);
  };
  for (const auto& name : topics) {
    rd_kafka_NewTopic_t* t =
        rd_kafka_NewTopic_new(name.c_str(), partitions, replication_factor, errstr, sizeof(errstr));
    if (t == nullptr) {
      free_topics();
      return absl::InvalidArgumentError(absl::StrCat("topic ", name, ": ", errstr));
    }
    new_topics.push_back(t);
  }
  rd_kafka_AdminOptions_t* admin = rd_kafka_AdminOptions_new(rk, RD_KAFKA_ADMIN_OP_CREATETOPICS);
  rd_kafka_AdminOptions_set_request_timeout(admin, ToMillis(timeout), errstr, sizeof(errstr));
  rd_kafka_AdminOptions_set_operation_timeout(admin, ToMillis(timeout), errstr, sizeof(errstr));
  rd_kafka_queue_t* queue = rd_kafka_queue_new(rk);
  rd_kafka_CreateTopics(rk, new_topics.data(), new_topics.size(), admin, queue);
  // The request timeout bounds the answer; the extra second covers local queuing.
  rd_kafka_event_t* event = rd_kafka_queue_poll(queue, ToMillis(timeout + absl::Seconds(1)));
  absl::Status result = absl::OkStatus();
  if (event == nullptr) {
    result = absl::DeadlineExceededError("kafka CreateTopics: no answer from the broker");
  } else if (rd_kafka_event_error(event) != RD_KAFKA_RESP_ERR_NO_ERROR) {
    result = absl::UnavailableError(
        absl::StrCat("kafka CreateTopics: ", rd_kafka_event_error_string(event)));
  } else {
    const rd_kafka_CreateTopics_result_t* res = rd_kafka_event_CreateTopics_result(event);
    size_t n = 0;
    const rd_kafka_topic_result_t** results = rd_kafka_CreateTopics_result_topics(res, &n);
    for (size_t i = 0; i < n && result.ok(); ++i) {
      rd_kafka_resp_err_t e = rd_kafka_topic_result_error(results[i]);
      if (e == RD_KAFKA_RESP_ERR_NO_ERROR || e == RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS) continue;
      const char* msg = rd_kafka_topic_result_error_string(results[i]);
      result = absl::UnavailableError(
          absl::StrCat("kafka CreateTopics ", rd_kafka_topic_result_name(results[i]), ": ",
                       rd_kafka_err2str(e), msg ? " " : "", msg ? msg : ""));
    }
  }
  if (event != nullptr) rd_kafka_event_destroy(event);
  rd_kafka_queue_destroy(queue);
  rd_kafka_AdminOptions_destroy(admin);
  free_topics();
  return result;
}

// --- Consumer lag (EventBus::Lag) ---

namespace {
constexpr absl::Duration kLagRequestTimeout = absl::Seconds(5);
}  // namespace

struct KafkaBus::LagReader {
  std::unique_ptr<EventLogger> events;
  std::unique_ptr<RdKafka::KafkaConsumer> consumer;
  // partition -> (offset, timestamp of the message at that offset), per topic
  std::map<std::pair<std::string, int32_t>, std::pair<int64_t, absl::Time>> stamps;
  ~LagReader() {
    if (consumer) consumer->close();
  }
};

absl::StatusOr<ConsumerLag> KafkaBus::Lag(const std::string& group, const std::string& topic) {
  if (group.empty() || topic.empty()) {
    return absl::InvalidArgumentError("Lag needs a consumer group and a topic");
  }
  if (closing_.load()) return absl::UnavailableError("kafka bus is shutting down");
  const int timeout_ms = ToMillis(kLagRequestTimeout);
  absl::MutexLock lock(&lag_mu_);
  std::shared_ptr<LagReader>& reader = lag_readers_[group];
  if (reader == nullptr) {
    auto fresh = std::make_shared<LagReader>();
    fresh->events = std::make_unique<EventLogger>(options_.log ? options_.log : DefaultLog());
    std::unique_ptr<RdKafka::Conf> conf(RdKafka::Conf::create(RdKafka::Conf::CONF_GLOBAL));
    std::string err;
    if (conf->set("event_cb", static_cast<RdKafka::EventCb*>(fresh->events.get()), err) !=
        RdKafka::Conf::CONF_OK) {
      return absl::InternalError(absl::StrCat("kafka lag reader callbacks: ", err));
    }
    // The operator's properties first (security settings), then ours, which must win: this handle
    // must never store or commit an offset of `group`.
    const std::map<std::string, std::string> ours = {
        {"bootstrap.servers", options_.bootstrap_servers},
        {"client.id", absl::StrCat(options_.client_id, "-lag")},
        {"group.id", group},
        {"enable.auto.commit", "false"},
        {"enable.auto.offset.store", "false"},
        {"auto.offset.reset", "earliest"},
        {"allow.auto.create.topics", "false"},
        {"enable.partition.eof", "false"},
    };
    for (const auto* props : {&options_.extra_config, &options_.consumer_config, &ours}) {
      if (absl::Status s = SetAll(conf.get(), *props); !s.ok()) return s;
    }
    fresh->consumer.reset(RdKafka::KafkaConsumer::create(conf.get(), err));
    if (!fresh->consumer) {
      return absl::InvalidArgumentError(absl::StrCat("kafka lag reader: ", err));
    }
    reader = std::move(fresh);
  }
  RdKafka::KafkaConsumer& consumer = *reader->consumer;

  // Partitions of the topic.
  std::string err;
  std::unique_ptr<RdKafka::Topic> handle(RdKafka::Topic::create(&consumer, topic, nullptr, err));
  if (!handle) return absl::InternalError(absl::StrCat("kafka topic handle ", topic, ": ", err));
  RdKafka::Metadata* raw_metadata = nullptr;
  RdKafka::ErrorCode code = consumer.metadata(false, handle.get(), &raw_metadata, timeout_ms);
  std::unique_ptr<RdKafka::Metadata> metadata(raw_metadata);
  if (code == RdKafka::ERR__UNKNOWN_TOPIC || code == RdKafka::ERR_UNKNOWN_TOPIC_OR_PART) {
    return ConsumerLag{};
  }
  if (code != RdKafka::ERR_NO_ERROR) {
    return absl::UnavailableError(
        absl::StrCat("kafka metadata of ", topic, ": ", RdKafka::err2str(code)));
  }
  std::vector<int32_t> partitions;
  for (const RdKafka::TopicMetadata* t : *metadata->topics()) {
    if (t->topic() != topic) continue;
    if (t->err() == RdKafka::ERR_UNKNOWN_TOPIC_OR_PART) return ConsumerLag{};
    if (t->err() != RdKafka::ERR_NO_ERROR) {
      return absl::UnavailableError(
          absl::StrCat("kafka metadata of ", topic, ": ", RdKafka::err2str(t->err())));
    }
    for (const RdKafka::PartitionMetadata* p : *t->partitions()) partitions.push_back(p->id());
  }

  // The group's committed offsets.
  std::vector<RdKafka::TopicPartition*> committed;
  committed.reserve(partitions.size());
  for (int32_t p : partitions) committed.push_back(RdKafka::TopicPartition::create(topic, p));
  auto free_committed = [&committed] { RdKafka::TopicPartition::destroy(committed); };
  code = consumer.committed(committed, timeout_ms);
  if (code != RdKafka::ERR_NO_ERROR) {
    free_committed();
    return absl::UnavailableError(absl::StrCat("kafka committed offsets of group ", group, " on ",
                                               topic, ": ", RdKafka::err2str(code)));
  }

  // Watermarks; the partitions with lag and where their oldest unacknowledged message is.
  ConsumerLag lag;
  std::vector<RdKafka::TopicPartition*> to_fetch;
  for (RdKafka::TopicPartition* tp : committed) {
    int64_t low = 0, high = 0;
    code = consumer.query_watermark_offsets(topic, tp->partition(), &low, &high, timeout_ms);
    if (code != RdKafka::ERR_NO_ERROR) {
      free_committed();
      RdKafka::TopicPartition::destroy(to_fetch);
      return absl::UnavailableError(absl::StrCat("kafka watermarks of ", topic, "/",
                                                 tp->partition(), ": ", RdKafka::err2str(code)));
    }
    const int64_t position = tp->offset() < 0 ? low : std::max(tp->offset(), low);
    if (position >= high) continue;
    lag.messages += high - position;
    auto cached = reader->stamps.find({topic, tp->partition()});
    if (cached != reader->stamps.end() && cached->second.first == position) {
      lag.oldest = std::min(lag.oldest, cached->second.second);
      continue;
    }
    to_fetch.push_back(RdKafka::TopicPartition::create(topic, tp->partition(), position));
  }
  free_committed();
  if (to_fetch.empty()) return lag;

  // The timestamps of the first unacknowledged messages: assign at those offsets, read one message
  // per partition, unassign (offsets are never stored: enable.auto.offset.store=false, no commit).
  code = consumer.assign(to_fetch);
  if (code != RdKafka::ERR_NO_ERROR) {
    RdKafka::TopicPartition::destroy(to_fetch);
    return absl::UnavailableError(absl::StrCat("kafka assign for lag: ", RdKafka::err2str(code)));
  }
  std::map<int32_t, int64_t> wanted;  // partition -> offset
  for (RdKafka::TopicPartition* tp : to_fetch) wanted[tp->partition()] = tp->offset();
  RdKafka::TopicPartition::destroy(to_fetch);
  const absl::Time deadline = absl::Now() + kLagRequestTimeout;
  absl::Status result = absl::OkStatus();
  while (!wanted.empty()) {
    const absl::Duration left = deadline - absl::Now();
    if (left <= absl::ZeroDuration()) {
      result = absl::UnavailableError(
          absl::StrCat("kafka: no message read from ", topic, " at the committed offset of group ",
                       group, " within ", absl::FormatDuration(kLagRequestTimeout)));
      break;
    }
    std::unique_ptr<RdKafka::Message> m(consumer.consume(std::max(1, ToMillis(left))));
    if (m->err() == RdKafka::ERR__TIMED_OUT) continue;
    if (m->err() != RdKafka::ERR_NO_ERROR) {
      result = absl::UnavailableError(
          absl::StrCat("kafka read for lag of ", topic, ": ", RdKafka::err2str(m->err())));
      break;
    }
    auto it = wanted.find(m->partition());
    if (it == wanted.end() || m->topic_name() != topic || m->offset() < it->second) continue;
    const RdKafka::MessageTimestamp ts = m->timestamp();
    // Without a timestamp (a pre-0.10 message format) the message counts as appended now.
    const absl::Time at = ts.type == RdKafka::MessageTimestamp::MSG_TIMESTAMP_NOT_AVAILABLE
                              ? absl::Now()
                              : absl::FromUnixMillis(ts.timestamp);
    reader->stamps[{topic, m->partition()}] = {it->second, at};
    lag.oldest = std::min(lag.oldest, at);
    wanted.erase(it);
  }
  consumer.unassign();
  if (!result.ok()) return result;
  return lag;
}

// --- Batch consumption (issue 10) ---

absl::StatusOr<std::unique_ptr<Subscription>> KafkaBus::SubscribeBatch(
    const std::string& group, const std::vector<std::string>& topics, BatchOptions options,
    BatchHandler handler) {
  if (!handler) return absl::InvalidArgumentError("subscription needs a handler");
  if (absl::Status s = ValidateBatchOptions(options); !s.ok()) return s;
  prometheus::Family<prometheus::Counter>* dead_letters = nullptr;
  if (options_.metrics != nullptr) {
    dead_letters = &prometheus::BuildCounter()
                        .Name("pdao_bus_dead_lettered_total")
                        .Help(
                            "Messages a batch subscription gave up on and published to "
                            "<topic>.dlq (common/bus/event_bus.h)")
                        .Register(*options_.metrics);
  }
  auto runner = std::make_unique<BatchRunner>(
      group, options, std::move(handler),
      [this](const BusMessage& m) -> absl::Status {
        auto outcome = std::make_shared<std::pair<absl::Notification, absl::Status>>();
        absl::Status s = Publish(m, [outcome](const absl::Status& delivered) {
          outcome->second = delivered;
          outcome->first.Notify();
        });
        if (!s.ok()) return s;
        if (!outcome->first.WaitForNotificationWithTimeout(options_.dead_letter_timeout)) {
          return absl::DeadlineExceededError(
              absl::StrCat("dead letter to ", m.topic, " not acknowledged by the broker within ",
                           absl::FormatDuration(options_.dead_letter_timeout)));
        }
        return outcome->second;
      },
      options_.log ? options_.log : DefaultLog(),
      [this, dead_letters, group](const std::string& topic) {
        dead_lettered_.fetch_add(1);
        if (dead_letters != nullptr) {
          dead_letters->Add({{"group", group}, {"topic", topic}}).Increment();
        }
      });
  return SubscribeWith(group, topics, MessageHandler(), std::move(runner));
}

}  // namespace pdao

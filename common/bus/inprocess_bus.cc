#include "common/bus/inprocess_bus.h"

#include <algorithm>
#include <deque>
#include <map>
#include <thread>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"

namespace pdao {
namespace {

uint64_t Fnv1a(const std::string& s) {
  uint64_t h = 1469598103934665603ULL;
  for (unsigned char c : s) {
    h ^= c;
    h *= 1099511628211ULL;
  }
  return h;
}

// One subscription's identity and thread. Whether it is still live is kept in State::subs.
struct Sub {
  uint64_t id = 0;
  std::string group;
  std::vector<std::string> topics;
  MessageHandler handler;

  absl::Mutex join_mu;
  std::thread thread ABSL_GUARDED_BY(join_mu);

  // Waits for the delivery thread to end. From the thread itself (a handler destroying its own
  // subscription) the thread is detached instead, since it cannot join itself.
  void Join() {
    absl::MutexLock lock(&join_mu);
    if (!thread.joinable()) return;
    if (thread.get_id() == std::this_thread::get_id()) {
      thread.detach();
    } else {
      thread.join();
    }
  }
};

// A group's position in one partition.
struct GroupPartition {
  int64_t committed = 0;  // offset of the next message to deliver
  bool busy = false;      // a handler is running on this partition's message
  absl::Time retry_after = absl::InfinitePast();
};

}  // namespace

struct InProcessBus::State {
  explicit State(InProcessBusOptions o) : options(o) {}

  const InProcessBusOptions options;

  mutable absl::Mutex mu;
  absl::CondVar changed;  // any change a delivery thread or Flush may wait for
  bool closed ABSL_GUARDED_BY(mu) = false;
  // topic -> partitions -> messages
  std::map<std::string, std::vector<std::vector<BusMessage>>> topics ABSL_GUARDED_BY(mu);
  // group -> topic -> partition positions
  std::map<std::string, std::map<std::string, std::vector<GroupPartition>>> groups
      ABSL_GUARDED_BY(mu);
  // group -> live subscriptions in join order
  std::map<std::string, std::vector<std::shared_ptr<Sub>>> members ABSL_GUARDED_BY(mu);
  // live subscriptions by id
  std::map<uint64_t, std::shared_ptr<Sub>> subs ABSL_GUARDED_BY(mu);
  uint64_t next_sub_id ABSL_GUARDED_BY(mu) = 1;

  // Delivery reports waiting for the report thread, and how many are queued or running.
  std::deque<DeliveryCallback> reports ABSL_GUARDED_BY(mu);
  int64_t reports_outstanding ABSL_GUARDED_BY(mu) = 0;
  bool reports_stopped ABSL_GUARDED_BY(mu) = false;
  std::thread report_thread;  // started in the constructor, joined in Close()
  absl::Mutex close_mu;       // serializes Close()

  std::vector<std::vector<BusMessage>>& TopicLocked(const std::string& topic)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) {
    auto it = topics.find(topic);
    if (it == topics.end()) {
      it = topics.emplace(topic, std::vector<std::vector<BusMessage>>(options.partitions)).first;
    }
    return it->second;
  }

  std::vector<GroupPartition>& PositionsLocked(const std::string& group, const std::string& topic)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) {
    auto& by_topic = groups[group];
    auto it = by_topic.find(topic);
    if (it == by_topic.end()) {
      it = by_topic.emplace(topic, std::vector<GroupPartition>(options.partitions)).first;
    }
    return it->second;
  }

  void ReportLoop() {
    absl::MutexLock lock(&mu);
    while (true) {
      mu.Await(absl::Condition(
          +[](State* s) ABSL_EXCLUSIVE_LOCKS_REQUIRED(s->mu) {
            return !s->reports.empty() || s->reports_stopped;
          },
          this));
      if (reports.empty()) return;  // stopped and drained
      DeliveryCallback cb = std::move(reports.front());
      reports.pop_front();
      mu.Unlock();
      if (cb) cb(absl::OkStatus());
      mu.Lock();
      --reports_outstanding;
      changed.SignalAll();
    }
  }

  // The delivery thread of subscription `sub`.
  void DeliveryLoop(std::shared_ptr<Sub> sub) {
    size_t cursor = 0;  // rotates the starting point so no partition starves the others
    absl::MutexLock lock(&mu);
    while (!closed && subs.count(sub->id) > 0) {
      const absl::Time now = absl::Now();
      absl::Time wake = absl::InfiniteFuture();
      // Collect the (topic, partition) pairs this subscription owns right now.
      std::vector<std::pair<const std::string*, int>> owned;
      const auto& group_members = members[sub->group];
      for (const std::string& topic : sub->topics) {
        std::vector<uint64_t> eligible;
        for (const auto& m : group_members) {
          if (std::find(m->topics.begin(), m->topics.end(), topic) != m->topics.end()) {
            eligible.push_back(m->id);
          }
        }
        auto pos = std::find(eligible.begin(), eligible.end(), sub->id);
        if (pos == eligible.end()) continue;
        const int index = static_cast<int>(pos - eligible.begin());
        const int n = static_cast<int>(eligible.size());
        for (int p = 0; p < options.partitions; ++p) {
          if (p % n == index) owned.emplace_back(&topic, p);
        }
      }
      bool delivered = false;
      for (size_t k = 0; k < owned.size() && !delivered; ++k) {
        const auto& [topic, partition] = owned[(cursor + k) % owned.size()];
        auto& log = TopicLocked(*topic)[partition];
        GroupPartition& gp = PositionsLocked(sub->group, *topic)[partition];
        if (gp.busy || gp.committed >= static_cast<int64_t>(log.size())) continue;
        if (gp.retry_after > now) {
          wake = std::min(wake, gp.retry_after);
          continue;
        }
        const int64_t offset = gp.committed;
        BusMessage message = log[offset];
        gp.busy = true;
        mu.Unlock();
        absl::Status status = sub->handler(message);
        mu.Lock();
        GroupPartition& after = PositionsLocked(sub->group, *topic)[partition];
        after.busy = false;
        if (status.ok()) {
          if (after.committed == offset) after.committed = offset + 1;
          after.retry_after = absl::InfinitePast();
        } else {
          after.retry_after = absl::Now() + options.redelivery_backoff;
        }
        changed.SignalAll();
        cursor = (cursor + k + 1) % std::max<size_t>(owned.size(), 1);
        delivered = true;
      }
      if (delivered) continue;
      changed.WaitWithDeadline(&mu, wake);
    }
  }

  void Unsubscribe(const std::shared_ptr<Sub>& sub) {
    {
      absl::MutexLock lock(&mu);
      subs.erase(sub->id);
      auto& group_members = members[sub->group];
      group_members.erase(std::remove(group_members.begin(), group_members.end(), sub),
                          group_members.end());
      changed.SignalAll();
    }
    sub->Join();
  }
};

namespace {

class InProcessSubscription final : public Subscription {
 public:
  InProcessSubscription(std::shared_ptr<InProcessBus::State> state, std::shared_ptr<Sub> sub)
      : state_(std::move(state)), sub_(std::move(sub)) {}
  ~InProcessSubscription() override { state_->Unsubscribe(sub_); }

 private:
  std::shared_ptr<InProcessBus::State> state_;
  std::shared_ptr<Sub> sub_;
};

}  // namespace

InProcessBus::InProcessBus(InProcessBusOptions options)
    : partitions_(std::max(1, options.partitions)) {
  options.partitions = partitions_;
  state_ = std::make_shared<State>(options);
  state_->report_thread = std::thread([s = state_.get()] { s->ReportLoop(); });
}

InProcessBus::~InProcessBus() { Close(); }

void InProcessBus::Close() {
  absl::MutexLock close_lock(&state_->close_mu);
  std::vector<std::shared_ptr<Sub>> subs;
  {
    absl::MutexLock lock(&state_->mu);
    state_->closed = true;
    for (auto& [id, sub] : state_->subs) subs.push_back(sub);
    state_->reports_stopped = true;
    state_->changed.SignalAll();
  }
  for (auto& sub : subs) sub->Join();
  if (state_->report_thread.joinable()) state_->report_thread.join();
}

int InProcessBus::PartitionOf(const std::string& key) const {
  return static_cast<int>(Fnv1a(key) % static_cast<uint64_t>(partitions_));
}

absl::Status InProcessBus::Publish(const BusMessage& message, DeliveryCallback on_delivery) {
  if (message.topic.empty()) {
    return absl::InvalidArgumentError("bus message has no topic (EventBus::Publish)");
  }
  const int partition = PartitionOf(message.key);
  absl::MutexLock lock(&state_->mu);
  if (state_->closed) {
    return absl::FailedPreconditionError("in-process bus is closed");
  }
  state_->TopicLocked(message.topic)[partition].push_back(message);
  state_->reports.push_back(std::move(on_delivery));
  ++state_->reports_outstanding;
  state_->changed.SignalAll();
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<Subscription>> InProcessBus::Subscribe(
    const std::string& group, const std::vector<std::string>& topics, MessageHandler handler) {
  if (group.empty()) {
    return absl::InvalidArgumentError("subscription needs a consumer group");
  }
  if (topics.empty()) {
    return absl::InvalidArgumentError("subscription needs at least one topic");
  }
  for (const auto& t : topics) {
    if (t.empty()) return absl::InvalidArgumentError("subscription topic name is empty");
  }
  if (!handler) {
    return absl::InvalidArgumentError("subscription needs a handler");
  }
  auto sub = std::make_shared<Sub>();
  sub->group = group;
  sub->topics = topics;
  std::sort(sub->topics.begin(), sub->topics.end());
  sub->topics.erase(std::unique(sub->topics.begin(), sub->topics.end()), sub->topics.end());
  sub->handler = std::move(handler);
  {
    absl::MutexLock lock(&state_->mu);
    if (state_->closed) {
      return absl::FailedPreconditionError("in-process bus is closed");
    }
    sub->id = state_->next_sub_id++;
    for (const auto& t : sub->topics) {
      state_->TopicLocked(t);
      state_->PositionsLocked(group, t);
    }
    state_->subs[sub->id] = sub;
    state_->members[group].push_back(sub);
    absl::MutexLock join_lock(&sub->join_mu);
    sub->thread = std::thread([s = state_, sub] { s->DeliveryLoop(sub); });
    state_->changed.SignalAll();
  }
  return std::unique_ptr<Subscription>(new InProcessSubscription(state_, sub));
}

absl::Status InProcessBus::Flush(absl::Duration timeout) {
  absl::MutexLock lock(&state_->mu);
  const absl::Time deadline = absl::Now() + timeout;
  while (state_->reports_outstanding > 0) {
    if (state_->changed.WaitWithDeadline(&state_->mu, deadline) &&
        state_->reports_outstanding > 0) {
      return absl::DeadlineExceededError(
          absl::StrCat(state_->reports_outstanding, " delivery reports still pending"));
    }
  }
  return absl::OkStatus();
}

int64_t InProcessBus::Unacknowledged(const std::string& group, const std::string& topic) const {
  absl::MutexLock lock(&state_->mu);
  auto t = state_->topics.find(topic);
  if (t == state_->topics.end()) return 0;
  int64_t total = 0;
  const std::vector<GroupPartition>* positions = nullptr;
  auto g = state_->groups.find(group);
  if (g != state_->groups.end()) {
    auto p = g->second.find(topic);
    if (p != g->second.end()) positions = &p->second;
  }
  for (size_t i = 0; i < t->second.size(); ++i) {
    const int64_t committed = positions ? (*positions)[i].committed : 0;
    total += static_cast<int64_t>(t->second[i].size()) - committed;
  }
  return total;
}

}  // namespace pdao

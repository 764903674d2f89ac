#include "common/bus/inprocess_bus.h"

#include <fcntl.h>
#include <sqlite3.h>
#include <sys/file.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <deque>
#include <filesystem>
#include <map>
#include <set>
#include <thread>
#include <tuple>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "common/bus/batch_delivery.h"
#include "common/log/log.h"

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
  // SubscribeBatch: the batch rules (batch_delivery.h); null for a per-message subscription.
  std::unique_ptr<BatchRunner> batch;

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

// The messages of one partition that are held: offsets [base, base + messages.size()).
struct PartitionLog {
  int64_t base = 0;
  std::vector<BusMessage> messages;
  // Append time of each message, parallel to `messages` (Lag).
  std::vector<absl::Time> appended;
  // Offset the writer gives the next message (>= end(); greater while a batch is being written).
  int64_t next = 0;
  int64_t end() const { return base + static_cast<int64_t>(messages.size()); }
};

// A message accepted by Publish, waiting for the writer.
struct Queued {
  BusMessage message;
  int partition = 0;
  int64_t offset = -1;  // given by the writer
  DeliveryCallback on_delivery;
};

using OffsetKey = std::tuple<std::string, std::string, int>;  // group, topic, partition

std::string SqliteError(sqlite3* db, int rc, const std::string& what) {
  std::string msg = absl::StrCat("bus file: ", what, ": ", sqlite3_errstr(rc));
  if (db != nullptr) absl::StrAppend(&msg, " (", sqlite3_errmsg(db), ")");
  return msg;
}

// A prepared statement, finalized on destruction.
class Stmt {
 public:
  Stmt(sqlite3* db, const char* sql) : db_(db) {
    rc_ = sqlite3_prepare_v2(db, sql, -1, &stmt_, nullptr);
  }
  ~Stmt() { sqlite3_finalize(stmt_); }
  Stmt(const Stmt&) = delete;
  Stmt& operator=(const Stmt&) = delete;
  absl::Status Prepared(const std::string& what) const {
    if (rc_ == SQLITE_OK) return absl::OkStatus();
    return absl::InternalError(SqliteError(db_, rc_, what));
  }
  void BindBlob(int i, const std::string& s) {
    sqlite3_bind_blob(stmt_, i, s.empty() ? "" : s.data(), static_cast<int>(s.size()),
                      SQLITE_TRANSIENT);
  }
  void BindText(int i, const std::string& s) {
    sqlite3_bind_text(stmt_, i, s.data(), static_cast<int>(s.size()), SQLITE_TRANSIENT);
  }
  void BindInt(int i, int64_t v) { sqlite3_bind_int64(stmt_, i, v); }
  int Step() { return sqlite3_step(stmt_); }
  // Steps a statement that returns no rows, then resets it for the next bindings.
  absl::Status Run(const std::string& what) {
    const int rc = sqlite3_step(stmt_);
    sqlite3_reset(stmt_);
    sqlite3_clear_bindings(stmt_);
    if (rc == SQLITE_DONE) return absl::OkStatus();
    return absl::InternalError(SqliteError(db_, rc, what));
  }
  void Reset() {
    sqlite3_reset(stmt_);
    sqlite3_clear_bindings(stmt_);
  }
  std::string ColumnBlob(int i) {
    const void* p = sqlite3_column_blob(stmt_, i);
    const int n = sqlite3_column_bytes(stmt_, i);
    return p == nullptr ? std::string() : std::string(static_cast<const char*>(p), n);
  }
  int64_t ColumnInt(int i) { return sqlite3_column_int64(stmt_, i); }
  bool ColumnNull(int i) { return sqlite3_column_type(stmt_, i) == SQLITE_NULL; }

 private:
  sqlite3* db_;
  sqlite3_stmt* stmt_ = nullptr;
  int rc_ = SQLITE_OK;
};

absl::Status Exec(sqlite3* db, const char* sql) {
  char* err = nullptr;
  const int rc = sqlite3_exec(db, sql, nullptr, nullptr, &err);
  if (rc == SQLITE_OK) return absl::OkStatus();
  std::string msg = SqliteError(db, rc, sql);
  sqlite3_free(err);
  return absl::InternalError(msg);
}

constexpr char kSchema[] = R"sql(
CREATE TABLE IF NOT EXISTS bus_meta (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS bus_messages (
  topic TEXT NOT NULL, part INTEGER NOT NULL, off INTEGER NOT NULL,
  key BLOB NOT NULL, payload BLOB NOT NULL, appended_unix_ns INTEGER NOT NULL,
  PRIMARY KEY (topic, part, off)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS bus_offsets (
  grp TEXT NOT NULL, topic TEXT NOT NULL, part INTEGER NOT NULL, committed INTEGER NOT NULL,
  PRIMARY KEY (grp, topic, part)) WITHOUT ROWID;
)sql";

}  // namespace

struct InProcessBus::State {
  State(InProcessBusOptions o, sqlite3* file)
      : options(o), clock(o.clock != nullptr ? o.clock : &system_clock), db(file) {}
  ~State() { CloseFile(); }

  // Finalizes the statements and closes the file (after the writer has ended).
  void CloseFile() {
    insert_message.reset();
    upsert_offset.reset();
    if (db != nullptr) sqlite3_close(db);
    db = nullptr;
    if (lock_fd >= 0) close(lock_fd);
    lock_fd = -1;
  }

  int lock_fd = -1;  // DIR/bus.lock, held (flock) while the bus is open

  const InProcessBusOptions options;
  SystemClock system_clock;
  const Clock* const clock;

  // The bus file (nullptr: memory only). Used by Open, then by the writer thread only, and closed
  // by Close after the writer has ended.
  sqlite3* db = nullptr;
  std::unique_ptr<Stmt> insert_message;
  std::unique_ptr<Stmt> upsert_offset;

  mutable absl::Mutex mu;
  absl::CondVar changed;  // any change a delivery thread, the writer or Flush may wait for
  bool closed ABSL_GUARDED_BY(mu) = false;
  // topic -> partitions
  std::map<std::string, std::vector<PartitionLog>> topics ABSL_GUARDED_BY(mu);
  // group -> topic -> partition positions
  std::map<std::string, std::map<std::string, std::vector<GroupPartition>>> groups
      ABSL_GUARDED_BY(mu);
  // group -> live subscriptions in join order
  std::map<std::string, std::vector<std::shared_ptr<Sub>>> members ABSL_GUARDED_BY(mu);
  // live subscriptions by id
  std::map<uint64_t, std::shared_ptr<Sub>> subs ABSL_GUARDED_BY(mu);
  uint64_t next_sub_id ABSL_GUARDED_BY(mu) = 1;

  // Messages accepted by Publish and not yet appended; accepted Publishes whose callback has not
  // yet run.
  std::deque<Queued> queue ABSL_GUARDED_BY(mu);
  int64_t reports_outstanding ABSL_GUARDED_BY(mu) = 0;
  bool writer_stopped ABSL_GUARDED_BY(mu) = false;
  // Durable bus: committed offsets changed since they were last written, and when to write them.
  std::set<OffsetKey> dirty_offsets ABSL_GUARDED_BY(mu);
  absl::Time offsets_due ABSL_GUARDED_BY(mu) = absl::InfiniteFuture();
  std::thread writer_thread;  // started by the bus's constructor, joined in Close()
  absl::Mutex close_mu;       // serializes Close()

  std::vector<PartitionLog>& TopicLocked(const std::string& topic)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) {
    auto it = topics.find(topic);
    if (it == topics.end()) {
      it = topics.emplace(topic, std::vector<PartitionLog>(options.partitions)).first;
    }
    return it->second;
  }

  // The group's positions in `topic`; a new group starts at the earliest message held, and (on a
  // durable bus) is written to the file right away so it is remembered.
  std::vector<GroupPartition>& PositionsLocked(const std::string& group, const std::string& topic)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) {
    auto& by_topic = groups[group];
    auto it = by_topic.find(topic);
    if (it == by_topic.end()) {
      std::vector<PartitionLog>& logs = TopicLocked(topic);
      std::vector<GroupPartition> positions(options.partitions);
      for (int p = 0; p < options.partitions; ++p) {
        positions[p].committed = logs[p].base;
        MarkDirtyLocked(group, topic, p, /*now=*/true);
      }
      it = by_topic.emplace(topic, std::move(positions)).first;
    }
    return it->second;
  }

  void MarkDirtyLocked(const std::string& group, const std::string& topic, int partition, bool now)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) {
    if (db == nullptr) return;
    dirty_offsets.emplace(group, topic, partition);
    const absl::Time due = now ? absl::Now() : absl::Now() + options.offset_commit_interval;
    offsets_due = std::min(offsets_due, due);
    changed.SignalAll();
  }

  // Appends `batch` and writes `offsets` in one transaction (fsynced at COMMIT).
  absl::Status Write(const std::vector<Queued>& batch,
                     const std::vector<std::pair<OffsetKey, int64_t>>& offsets) {
    if (absl::Status s = Exec(db, "BEGIN IMMEDIATE"); !s.ok()) return s;
    absl::Status status = absl::OkStatus();
    const int64_t appended = absl::ToUnixNanos(clock->Now());
    for (const Queued& q : batch) {
      insert_message->BindText(1, q.message.topic);
      insert_message->BindInt(2, q.partition);
      insert_message->BindInt(3, q.offset);
      insert_message->BindBlob(4, q.message.key);
      insert_message->BindBlob(5, q.message.payload);
      insert_message->BindInt(6, appended);
      status = insert_message->Run("append message");
      if (!status.ok()) break;
    }
    for (size_t i = 0; status.ok() && i < offsets.size(); ++i) {
      const auto& [key, committed] = offsets[i];
      upsert_offset->BindText(1, std::get<0>(key));
      upsert_offset->BindText(2, std::get<1>(key));
      upsert_offset->BindInt(3, std::get<2>(key));
      upsert_offset->BindInt(4, committed);
      status = upsert_offset->Run("store offset");
    }
    if (status.ok()) status = Exec(db, "COMMIT");
    if (!status.ok()) Exec(db, "ROLLBACK").IgnoreError();
    return status;
  }

  // The writer thread: appends queued messages in batches, makes them visible, runs their
  // callbacks; writes committed offsets when due. Ends once stopped and drained.
  void WriterLoop() {
    absl::MutexLock lock(&mu);
    while (true) {
      while (queue.empty() && !writer_stopped &&
             (dirty_offsets.empty() || absl::Now() < offsets_due)) {
        changed.WaitWithDeadline(&mu, dirty_offsets.empty() ? absl::InfiniteFuture() : offsets_due);
      }
      std::vector<Queued> batch;
      while (!queue.empty() && static_cast<int>(batch.size()) < std::max(1, options.max_batch)) {
        batch.push_back(std::move(queue.front()));
        queue.pop_front();
        Queued& q = batch.back();
        q.offset = TopicLocked(q.message.topic)[q.partition].next++;
      }
      std::vector<std::pair<OffsetKey, int64_t>> offsets;
      if (!dirty_offsets.empty() && (writer_stopped || absl::Now() >= offsets_due)) {
        for (const OffsetKey& key : dirty_offsets) {
          const auto& [group, topic, partition] = key;
          offsets.emplace_back(key, groups[group][topic][partition].committed);
        }
        dirty_offsets.clear();
        offsets_due = absl::InfiniteFuture();
      }
      if (batch.empty() && offsets.empty()) {
        if (writer_stopped && queue.empty()) return;
        continue;
      }
      absl::Status status = absl::OkStatus();
      if (db != nullptr) {
        mu.Unlock();
        status = Write(batch, offsets);
        mu.Lock();
      }
      if (status.ok()) {
        const absl::Time appended_at = clock->Now();
        for (Queued& q : batch) {
          PartitionLog& log = TopicLocked(q.message.topic)[q.partition];
          log.messages.push_back(std::move(q.message));
          log.appended.push_back(appended_at);
        }
      } else {
        for (const Queued& q : batch) {
          PartitionLog& log = TopicLocked(q.message.topic)[q.partition];
          log.next = log.end();
        }
        for (const auto& [key, committed] : offsets) {
          MarkDirtyLocked(std::get<0>(key), std::get<1>(key), std::get<2>(key), false);
        }
      }
      changed.SignalAll();
      mu.Unlock();
      const absl::Status outcome =
          status.ok() ? absl::OkStatus()
                      : absl::UnavailableError(absl::StrCat(
                            "in-process bus could not store the message durably; publish it "
                            "again: ",
                            status.message()));
      for (Queued& q : batch) {
        if (q.on_delivery) q.on_delivery(outcome);
      }
      mu.Lock();
      reports_outstanding -= static_cast<int64_t>(batch.size());
      changed.SignalAll();
    }
  }

  // The (topic, partition) pairs subscription `sub` owns right now.
  std::vector<std::pair<const std::string*, int>> OwnedLocked(const Sub& sub)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) {
    std::vector<std::pair<const std::string*, int>> owned;
    const auto& group_members = members[sub.group];
    for (const std::string& topic : sub.topics) {
      std::vector<uint64_t> eligible;
      for (const auto& m : group_members) {
        if (std::find(m->topics.begin(), m->topics.end(), topic) != m->topics.end()) {
          eligible.push_back(m->id);
        }
      }
      auto pos = std::find(eligible.begin(), eligible.end(), sub.id);
      if (pos == eligible.end()) continue;
      const int index = static_cast<int>(pos - eligible.begin());
      const int n = static_cast<int>(eligible.size());
      for (int p = 0; p < options.partitions; ++p) {
        if (p % n == index) owned.emplace_back(&topic, p);
      }
    }
    return owned;
  }

  // The delivery thread of subscription `sub`.
  void DeliveryLoop(std::shared_ptr<Sub> sub) {
    size_t cursor = 0;  // rotates the starting point so no partition starves the others
    absl::MutexLock lock(&mu);
    while (!closed && subs.count(sub->id) > 0) {
      const absl::Time now = absl::Now();
      absl::Time wake = absl::InfiniteFuture();
      const std::vector<std::pair<const std::string*, int>> owned = OwnedLocked(*sub);
      bool delivered = false;
      for (size_t k = 0; k < owned.size() && !delivered; ++k) {
        const auto& [topic, partition] = owned[(cursor + k) % owned.size()];
        const PartitionLog& log = TopicLocked(*topic)[partition];
        GroupPartition& gp = PositionsLocked(sub->group, *topic)[partition];
        gp.committed = std::max(gp.committed, log.base);
        if (gp.busy || gp.committed >= log.end()) continue;
        if (gp.retry_after > now) {
          wake = std::min(wake, gp.retry_after);
          continue;
        }
        const int64_t offset = gp.committed;
        BusMessage message = log.messages[offset - log.base];
        gp.busy = true;
        mu.Unlock();
        absl::Status status = sub->handler(message);
        mu.Lock();
        GroupPartition& after = PositionsLocked(sub->group, *topic)[partition];
        after.busy = false;
        if (status.ok()) {
          if (after.committed == offset) {
            after.committed = offset + 1;
            MarkDirtyLocked(sub->group, *topic, partition, /*now=*/false);
          }
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

  // --- Batch consumption (issue 10) ---

  // Dead letters published (all subscriptions).
  std::atomic<int64_t> dead_lettered{0};

  // Publishes a dead letter like InProcessBus::Publish and waits for its outcome (OK once
  // appended, durably on a durable bus).
  absl::Status PublishAndWait(const BusMessage& message) {
    auto outcome = std::make_shared<std::pair<absl::Notification, absl::Status>>();
    {
      absl::MutexLock lock(&mu);
      if (closed) return absl::FailedPreconditionError("in-process bus is closed");
      const int partition =
          static_cast<int>(Fnv1a(message.key) % static_cast<uint64_t>(options.partitions));
      TopicLocked(message.topic);
      queue.push_back({message, partition, -1, [outcome](const absl::Status& s) {
                         outcome->second = s;
                         outcome->first.Notify();
                       }});
      ++reports_outstanding;
      changed.SignalAll();
    }
    outcome->first.WaitForNotification();  // the writer reports every queued message
    return outcome->second;
  }

  // The delivery thread of a batch subscription: collects up to max_messages from the partitions
  // it owns (waiting up to `linger` for more once one is there), hands them to the runner, then
  // commits what it acknowledged and backs off the partitions it stopped.
  void BatchDeliveryLoop(std::shared_ptr<Sub> sub) {
    const BatchOptions& batch_options = sub->batch->options();
    const size_t max = static_cast<size_t>(batch_options.max_messages);
    size_t cursor = 0;  // rotates the starting partition so none starves the others
    absl::Time linger_until = absl::InfiniteFuture();
    absl::MutexLock lock(&mu);
    while (!closed && subs.count(sub->id) > 0) {
      const absl::Time now = absl::Now();
      absl::Time wake = absl::InfiniteFuture();
      const std::vector<std::pair<const std::string*, int>> owned = OwnedLocked(*sub);
      std::vector<std::pair<const std::string*, int>> ready;
      size_t available = 0;
      for (size_t k = 0; k < owned.size(); ++k) {
        const auto& [topic, partition] = owned[(cursor + k) % owned.size()];
        const PartitionLog& log = TopicLocked(*topic)[partition];
        GroupPartition& gp = PositionsLocked(sub->group, *topic)[partition];
        gp.committed = std::max(gp.committed, log.base);
        if (gp.busy || gp.committed >= log.end()) continue;
        if (gp.retry_after > now) {
          wake = std::min(wake, gp.retry_after);
          continue;
        }
        ready.emplace_back(topic, partition);
        available += static_cast<size_t>(log.end() - gp.committed);
      }
      if (available == 0) {
        linger_until = absl::InfiniteFuture();
        changed.WaitWithDeadline(&mu, wake);
        continue;
      }
      if (available < max && batch_options.linger > absl::ZeroDuration()) {
        if (linger_until == absl::InfiniteFuture()) linger_until = now + batch_options.linger;
        if (now < linger_until) {
          changed.WaitWithDeadline(&mu, std::min(linger_until, wake));
          continue;
        }
      }
      linger_until = absl::InfiniteFuture();
      std::vector<FetchedMessage> batch;
      size_t bytes = 0;  // of the batch's payloads
      std::vector<std::pair<const std::string*, int>> taken;
      for (const auto& [topic, partition] : ready) {
        if (batch.size() >= max || bytes >= batch_options.max_bytes) break;
        const PartitionLog& log = TopicLocked(*topic)[partition];
        GroupPartition& gp = PositionsLocked(sub->group, *topic)[partition];
        for (int64_t off = gp.committed;
             off < log.end() && batch.size() < max && bytes < batch_options.max_bytes; ++off) {
          batch.push_back({log.messages[off - log.base], partition, off});
          bytes += batch.back().message.payload.size();
        }
        gp.busy = true;
        taken.emplace_back(topic, partition);
      }
      cursor = (cursor + 1) % std::max<size_t>(owned.size(), 1);
      mu.Unlock();
      const BatchOutcome outcome = sub->batch->Handle(absl::MakeSpan(batch));
      mu.Lock();
      const absl::Time after_now = absl::Now();
      for (const auto& [topic, partition] : taken) {
        GroupPartition& gp = PositionsLocked(sub->group, *topic)[partition];
        gp.busy = false;
        const TopicPartition tp(*topic, partition);
        if (auto a = outcome.acknowledged.find(tp);
            a != outcome.acknowledged.end() && a->second > gp.committed) {
          gp.committed = a->second;
          MarkDirtyLocked(sub->group, *topic, partition, /*now=*/false);
        }
        gp.retry_after = outcome.retry.count(tp) > 0 ? after_now + options.redelivery_backoff
                                                     : absl::InfinitePast();
      }
      changed.SignalAll();
    }
  }

  // Open(): retention, then everything the file holds into memory.
  absl::Status LoadLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) {
    const int64_t cutoff = absl::ToUnixNanos(clock->Now() - options.retention);
    {
      struct Span {
        std::string topic;
        int part;
        int64_t max_off;
      };
      std::vector<Span> spans;
      Stmt list(db, "SELECT topic, part, MAX(off) FROM bus_messages GROUP BY topic, part");
      if (absl::Status s = list.Prepared("list partitions"); !s.ok()) return s;
      int rc;
      while ((rc = list.Step()) == SQLITE_ROW) {
        spans.push_back(
            {list.ColumnBlob(0), static_cast<int>(list.ColumnInt(1)), list.ColumnInt(2)});
      }
      if (rc != SQLITE_DONE) return absl::InternalError(SqliteError(db, rc, "list partitions"));
      Stmt acked(db, "SELECT MIN(committed) FROM bus_offsets WHERE topic = ?1 AND part = ?2");
      Stmt young(db,
                 "SELECT MIN(off) FROM bus_messages WHERE topic = ?1 AND part = ?2 AND "
                 "appended_unix_ns >= ?3");
      Stmt drop(db, "DELETE FROM bus_messages WHERE topic = ?1 AND part = ?2 AND off < ?3");
      for (Stmt* s : {&acked, &young, &drop}) {
        if (absl::Status st = s->Prepared("retention"); !st.ok()) return st;
      }
      for (const Span& span : spans) {
        acked.BindText(1, span.topic);
        acked.BindInt(2, span.part);
        int64_t limit = span.max_off;  // the latest message stays
        bool any_group = false;
        if (acked.Step() == SQLITE_ROW && !acked.ColumnNull(0)) {
          any_group = true;
          limit = std::min(limit, acked.ColumnInt(0));
        }
        acked.Reset();
        if (!any_group) continue;  // nobody has read it yet: kept
        young.BindText(1, span.topic);
        young.BindInt(2, span.part);
        young.BindInt(3, cutoff);
        if (young.Step() == SQLITE_ROW && !young.ColumnNull(0)) {
          limit = std::min(limit, young.ColumnInt(0));
        }
        young.Reset();
        drop.BindText(1, span.topic);
        drop.BindInt(2, span.part);
        drop.BindInt(3, limit);
        if (absl::Status s = drop.Run("retention"); !s.ok()) return s;
      }
    }
    {
      Stmt all(db,
               "SELECT topic, part, off, key, payload, appended_unix_ns FROM bus_messages ORDER BY "
               "topic, part, off");
      if (absl::Status s = all.Prepared("load messages"); !s.ok()) return s;
      int rc;
      while ((rc = all.Step()) == SQLITE_ROW) {
        const std::string topic = all.ColumnBlob(0);
        const int64_t part = all.ColumnInt(1);
        const int64_t off = all.ColumnInt(2);
        if (part < 0 || part >= options.partitions) {
          return absl::DataLossError(absl::StrCat("bus file: message in partition ", part, " of ",
                                                  topic, ", but the bus has ", options.partitions,
                                                  " partitions"));
        }
        PartitionLog& log = TopicLocked(topic)[part];
        if (log.messages.empty()) log.base = off;
        if (off != log.end()) {
          return absl::DataLossError(absl::StrCat("bus file: offsets of ", topic, "/", part,
                                                  " skip from ", log.end(), " to ", off));
        }
        log.messages.push_back({topic, all.ColumnBlob(3), all.ColumnBlob(4)});
        log.appended.push_back(absl::FromUnixNanos(all.ColumnInt(5)));
      }
      if (rc != SQLITE_DONE) return absl::InternalError(SqliteError(db, rc, "load messages"));
    }
    for (auto& [topic, logs] : topics) {
      for (PartitionLog& log : logs) log.next = log.end();
    }
    {
      Stmt all(db, "SELECT grp, topic, part, committed FROM bus_offsets");
      if (absl::Status s = all.Prepared("load offsets"); !s.ok()) return s;
      int rc;
      while ((rc = all.Step()) == SQLITE_ROW) {
        const std::string group = all.ColumnBlob(0), topic = all.ColumnBlob(1);
        const int64_t part = all.ColumnInt(2);
        if (part < 0 || part >= options.partitions) continue;
        const PartitionLog& log = TopicLocked(topic)[part];
        auto& positions = groups[group][topic];
        if (positions.empty()) {
          positions.resize(options.partitions);
          for (int p = 0; p < options.partitions; ++p) {
            positions[p].committed = TopicLocked(topic)[p].base;
          }
        }
        positions[part].committed = std::clamp(all.ColumnInt(3), log.base, log.end());
      }
      if (rc != SQLITE_DONE) return absl::InternalError(SqliteError(db, rc, "load offsets"));
    }
    return absl::OkStatus();
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

// Registers `sub` (group, topics and handler set) and starts its delivery thread.
absl::StatusOr<std::unique_ptr<Subscription>> StartSubscription(
    const std::shared_ptr<InProcessBus::State>& state, std::shared_ptr<Sub> sub) {
  {
    absl::MutexLock lock(&state->mu);
    if (state->closed) {
      return absl::FailedPreconditionError("in-process bus is closed");
    }
    sub->id = state->next_sub_id++;
    for (const auto& t : sub->topics) {
      state->TopicLocked(t);
      state->PositionsLocked(sub->group, t);
    }
    state->subs[sub->id] = sub;
    state->members[sub->group].push_back(sub);
    absl::MutexLock join_lock(&sub->join_mu);
    sub->thread = std::thread([s = state, sub] {
      if (sub->batch) {
        s->BatchDeliveryLoop(sub);
      } else {
        s->DeliveryLoop(sub);
      }
    });
    state->changed.SignalAll();
  }
  return std::unique_ptr<Subscription>(new InProcessSubscription(state, sub));
}

InProcessBusOptions Normalized(InProcessBusOptions options) {
  options.partitions = std::max(1, options.partitions);
  return options;
}

}  // namespace

InProcessBus::InProcessBus(InProcessBusOptions options)
    : InProcessBus(std::make_shared<State>(Normalized(options), nullptr)) {}

InProcessBus::InProcessBus(std::shared_ptr<State> state)
    : partitions_(state->options.partitions), state_(std::move(state)) {
  state_->writer_thread = std::thread([s = state_.get()] { s->WriterLoop(); });
}

absl::StatusOr<std::unique_ptr<InProcessBus>> InProcessBus::Open(const std::string& dir,
                                                                 InProcessBusOptions options) {
  options = Normalized(options);
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) {
    return absl::InternalError(
        absl::StrCat("cannot create the bus directory ", dir, ": ", ec.message()));
  }
  // One process per bus directory: a second one would keep its own view of the same file.
  const int lock_fd = open((dir + "/bus.lock").c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (lock_fd < 0) {
    return absl::InternalError(absl::StrCat("cannot open ", dir, "/bus.lock"));
  }
  if (flock(lock_fd, LOCK_EX | LOCK_NB) != 0) {
    close(lock_fd);
    return absl::FailedPreconditionError(absl::StrCat(
        "bus directory ", dir, " is in use by another process (one process per --data-dir)"));
  }
  const std::string path = dir + "/bus.db";
  sqlite3* db = nullptr;
  const int rc =
      sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, nullptr);
  if (rc != SQLITE_OK) {
    std::string msg = SqliteError(db, rc, "open " + path);
    sqlite3_close(db);
    close(lock_fd);
    return absl::InternalError(msg);
  }
  // Owns `db` and the lock from here on (released by ~State when Open fails below, by Close
  // otherwise).
  auto state = std::make_shared<State>(options, db);
  state->lock_fd = lock_fd;
  sqlite3_busy_timeout(db, 5000);
  {
    Stmt wal(db, "PRAGMA journal_mode=WAL");
    if (absl::Status s = wal.Prepared("journal mode"); !s.ok()) return s;
    if (wal.Step() != SQLITE_ROW || wal.ColumnBlob(0) != "wal") {
      return absl::InternalError(absl::StrCat("bus file ", path, ": cannot use WAL journal mode"));
    }
  }
  if (absl::Status s = Exec(db, "PRAGMA synchronous=FULL"); !s.ok()) return s;
  if (absl::Status s = Exec(db, kSchema); !s.ok()) {
    return absl::DataLossError(absl::StrCat(path, " is not a bus file: ", s.message()));
  }
  int partitions = options.partitions;
  {
    Stmt get(db, "SELECT value FROM bus_meta WHERE name = 'partitions'");
    if (absl::Status s = get.Prepared("read partitions"); !s.ok()) return s;
    if (get.Step() == SQLITE_ROW) {
      partitions = static_cast<int>(get.ColumnInt(0));
      if (partitions < 1) {
        return absl::DataLossError(absl::StrCat(path, ": stored partition count ", partitions));
      }
    } else {
      Stmt put(db, "INSERT INTO bus_meta(name, value) VALUES ('partitions', ?1)");
      if (absl::Status s = put.Prepared("store partitions"); !s.ok()) return s;
      put.BindInt(1, partitions);
      if (absl::Status s = put.Run("store partitions"); !s.ok()) return s;
    }
  }
  if (partitions != options.partitions) {
    options.partitions = partitions;  // a key keeps its partition across restarts
    auto adopted = std::make_shared<State>(options, db);
    adopted->lock_fd = lock_fd;
    state->db = nullptr;
    state->lock_fd = -1;
    state = std::move(adopted);
  }
  {
    absl::MutexLock lock(&state->mu);
    if (absl::Status s = state->LoadLocked(); !s.ok()) return s;
  }
  state->insert_message = std::make_unique<Stmt>(
      db,
      "INSERT INTO bus_messages(topic, part, off, key, payload, appended_unix_ns) "
      "VALUES (?1, ?2, ?3, ?4, ?5, ?6)");
  state->upsert_offset = std::make_unique<Stmt>(
      db,
      "INSERT INTO bus_offsets(grp, topic, part, committed) VALUES (?1, ?2, ?3, ?4) "
      "ON CONFLICT(grp, topic, part) DO UPDATE SET committed = excluded.committed");
  if (absl::Status s = state->insert_message->Prepared("prepare append"); !s.ok()) return s;
  if (absl::Status s = state->upsert_offset->Prepared("prepare offsets"); !s.ok()) return s;
  return std::unique_ptr<InProcessBus>(new InProcessBus(std::move(state)));
}

InProcessBus::~InProcessBus() { Close(); }

void InProcessBus::Close() {
  absl::MutexLock close_lock(&state_->close_mu);
  std::vector<std::shared_ptr<Sub>> subs;
  {
    absl::MutexLock lock(&state_->mu);
    state_->closed = true;
    for (auto& [id, sub] : state_->subs) subs.push_back(sub);
    state_->changed.SignalAll();
  }
  for (auto& sub : subs) sub->Join();
  {
    absl::MutexLock lock(&state_->mu);
    state_->writer_stopped = true;
    state_->changed.SignalAll();
  }
  if (state_->writer_thread.joinable()) state_->writer_thread.join();
  state_->CloseFile();
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
  state_->TopicLocked(message.topic);
  state_->queue.push_back({message, partition, -1, std::move(on_delivery)});
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
  return StartSubscription(state_, std::move(sub));
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
    const PartitionLog& log = t->second[i];
    const int64_t committed = positions ? std::max((*positions)[i].committed, log.base) : log.base;
    total += log.end() - committed;
  }
  return total;
}

// --- Consumer lag (EventBus::Lag) ---

absl::StatusOr<ConsumerLag> InProcessBus::Lag(const std::string& group, const std::string& topic) {
  if (group.empty() || topic.empty()) {
    return absl::InvalidArgumentError("Lag needs a consumer group and a topic");
  }
  absl::MutexLock lock(&state_->mu);
  ConsumerLag lag;
  auto t = state_->topics.find(topic);
  if (t == state_->topics.end()) return lag;
  const std::vector<GroupPartition>* positions = nullptr;
  auto g = state_->groups.find(group);
  if (g != state_->groups.end()) {
    auto p = g->second.find(topic);
    if (p != g->second.end()) positions = &p->second;
  }
  for (size_t i = 0; i < t->second.size(); ++i) {
    const PartitionLog& log = t->second[i];
    const int64_t committed =
        positions != nullptr ? std::max((*positions)[i].committed, log.base) : log.base;
    if (committed >= log.end()) continue;
    lag.messages += log.end() - committed;
    lag.oldest = std::min(lag.oldest, log.appended[committed - log.base]);
  }
  return lag;
}

// --- Batch consumption (issue 10) ---

absl::StatusOr<std::unique_ptr<Subscription>> InProcessBus::SubscribeBatch(
    const std::string& group, const std::vector<std::string>& topics, BatchOptions options,
    BatchHandler handler) {
  if (group.empty()) return absl::InvalidArgumentError("subscription needs a consumer group");
  if (topics.empty()) return absl::InvalidArgumentError("subscription needs at least one topic");
  for (const auto& t : topics) {
    if (t.empty()) return absl::InvalidArgumentError("subscription topic name is empty");
  }
  if (!handler) return absl::InvalidArgumentError("subscription needs a handler");
  if (absl::Status s = ValidateBatchOptions(options); !s.ok()) return s;
  auto sub = std::make_shared<Sub>();
  sub->group = group;
  sub->topics = topics;
  std::sort(sub->topics.begin(), sub->topics.end());
  sub->topics.erase(std::unique(sub->topics.begin(), sub->topics.end()), sub->topics.end());
  // The runner's dead-letter publisher and hook reach the state through a weak pointer: the
  // subscription's thread holds the state alive while it runs.
  std::weak_ptr<State> weak = state_;
  sub->batch = std::make_unique<BatchRunner>(
      group, options, std::move(handler),
      [weak](const BusMessage& m) {
        std::shared_ptr<State> s = weak.lock();
        if (!s) return absl::FailedPreconditionError("in-process bus is closed");
        return s->PublishAndWait(m);
      },
      [](std::string_view level, std::string_view message) {
        log::Write(level == "error"  ? log::Level::kError
                   : level == "warn" ? log::Level::kWarn
                                     : log::Level::kInfo,
                   std::string(message), {{"component", "inprocess_bus"}});
      },
      [weak](const std::string&) {
        if (std::shared_ptr<State> s = weak.lock()) s->dead_lettered.fetch_add(1);
      });
  return StartSubscription(state_, std::move(sub));
}

int64_t InProcessBus::dead_lettered() const { return state_->dead_lettered.load(); }

}  // namespace pdao

#include "common/store/redis_store.h"

#include <hiredis/hiredis.h>

#include <algorithm>
#include <cstdint>
#include <deque>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"
#include "common/store/commit_validation.h"
#include "common/store/shard.h"

namespace pdao {
namespace {

// See redis_store.h for the key layout and the steps. Reads all come before the first write.
constexpr const char* kCommitScript = R"lua(
-- KEYS[1] idempotency key, KEYS[2] index, KEYS[3] outbox, KEYS[4..] data keys (puts, then deletes)
-- ARGV[1] '1' when an idempotency key is set, ARGV[2] its result, ARGV[3] its ttl in ms,
-- ARGV[4] #puts, ARGV[5] #deletes, ARGV[6] #events, ARGV[7] shard, then
-- per put: key, value, expected; per delete: key, expected; per event: topic, key, event_id, payload
local has_idem = ARGV[1] == '1'
if has_idem then
  local prev = redis.call('GET', KEYS[1])
  if prev then return {'replay', prev} end
end
local np, nd, ne = tonumber(ARGV[4]), tonumber(ARGV[5]), tonumber(ARGV[6])
local function current(k)
  local v = redis.call('HGET', k, 'v')
  if v then return tonumber(v) end
  return 0
end
-- Multi-key commands take at most kChunk keys per call (Lua's C stack bounds unpack).
local kChunk = 200
local exps = {}
local a = 8
-- Creates (expected version 0) are checked together: one EXISTS per kChunk keys; only when one
-- exists is it looked for, to name it.
local creates = {}
for i = 1, np do
  local exp = tonumber(ARGV[a + 2])
  exps[i] = exp
  if exp == 0 then
    creates[#creates + 1] = i
  elseif exp ~= -1 then
    local cur = current(KEYS[3 + i])
    if cur ~= exp then return {'conflict', ARGV[a], tostring(exp), tostring(cur)} end
  end
  a = a + 3
end
for c = 1, #creates, kChunk do
  local keys = {}
  for x = c, math.min(c + kChunk - 1, #creates) do keys[#keys + 1] = KEYS[3 + creates[x]] end
  if redis.call('EXISTS', unpack(keys)) > 0 then
    for x = c, math.min(c + kChunk - 1, #creates) do
      local i = creates[x]
      local cur = current(KEYS[3 + i])
      if cur ~= 0 then return {'conflict', ARGV[5 + 3 * i], '0', tostring(cur)} end
    end
  end
end
for j = 1, nd do
  local exp = tonumber(ARGV[a + 1])
  if exp ~= -1 then
    local cur = current(KEYS[3 + np + j])
    if cur ~= exp then return {'conflict', ARGV[a], tostring(exp), tostring(cur)} end
  end
  a = a + 2
end
local out = {'ok'}
-- Keys this commit creates, for the index: ZADD takes kChunk of them per call.
local added = {}
a = 8
for i = 1, np do
  local k = KEYS[3 + i]
  local ver
  if exps[i] == -1 then
    ver = redis.call('HINCRBY', k, 'v', 1)
    redis.call('HSET', k, 'd', ARGV[a + 1])
  else
    -- checked above: the current version is exps[i], so the new one is exps[i] + 1
    ver = exps[i] + 1
    redis.call('HSET', k, 'v', ver == 1 and '1' or ver, 'd', ARGV[a + 1])
  end
  -- an existing key is in the index already (every put adds it, every delete removes it)
  if ver == 1 then
    added[#added + 1] = '0'  -- a string: Redis 7.0 formats a Lua number argument with snprintf
    added[#added + 1] = ARGV[a]
  end
  out[#out + 1] = ver
  a = a + 3
end
for c = 1, #added, 2 * kChunk do
  redis.call('ZADD', KEYS[2], unpack(added, c, math.min(c + 2 * kChunk - 1, #added)))
end
for j = 1, nd do
  redis.call('DEL', KEYS[3 + np + j])
  redis.call('ZREM', KEYS[2], ARGV[a])
  a = a + 2
end
for e = 1, ne do
  redis.call('XADD', KEYS[3], '*', 's', ARGV[7], 't', ARGV[a], 'k', ARGV[a + 1], 'i', ARGV[a + 2],
             'p', ARGV[a + 3])
  a = a + 4
end
if has_idem then redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3]) end
return out
)lua";

struct ReplyDeleter {
  void operator()(redisReply* r) const {
    if (r != nullptr) freeReplyObject(r);
  }
};
using Reply = std::unique_ptr<redisReply, ReplyDeleter>;

std::string Str(const redisReply* r) { return std::string(r->str, r->len); }

bool IsString(const redisReply* r) {
  return r != nullptr && (r->type == REDIS_REPLY_STRING || r->type == REDIS_REPLY_STATUS);
}

// An error reply as a Status: states of the server that pass (loading, failover, cluster trouble)
// are UNAVAILABLE; a full server is RESOURCE_EXHAUSTED; anything else is a bug (INTERNAL).
absl::Status ErrorReply(const redisReply* r, absl::string_view what) {
  const std::string msg = Str(r);
  const std::string text = absl::StrCat("redis ", what, ": ", msg);
  for (const char* transient : {"LOADING", "BUSY", "READONLY", "MASTERDOWN", "TRYAGAIN",
                                "CLUSTERDOWN", "MOVED", "ASK", "NOAUTH", "WRONGPASS"}) {
    if (absl::StartsWith(msg, transient)) return absl::UnavailableError(text);
  }
  if (absl::StartsWith(msg, "OOM")) return absl::ResourceExhaustedError(text);
  return absl::InternalError(text);
}

absl::Status UnexpectedReply(absl::string_view what) {
  return absl::InternalError(absl::StrCat("redis ", what, ": unexpected reply shape"));
}

// The stream id inside an OutboxRecord id "<slot>-<ms>-<seq>" of this store.
std::string StreamIdOf(const std::string& record_id) {
  const size_t dash = record_id.find('-');
  return dash == std::string::npos ? record_id : record_id.substr(dash + 1);
}

// "<ms>-<seq>" with decimal digits only, so XDEL never sees a malformed id.
bool IsStreamId(absl::string_view id) {
  std::vector<absl::string_view> parts = absl::StrSplit(id, '-');
  if (parts.size() != 2) return false;
  for (absl::string_view p : parts) {
    if (p.empty() || !std::all_of(p.begin(), p.end(), absl::ascii_isdigit)) return false;
  }
  return true;
}

// A data key: its slot's tag, ":k:", the key (redis_store.h "Key layout").
std::string DataKeyIn(absl::string_view tag, absl::string_view key) {
  return absl::StrCat(tag, ":k:", key);
}

}  // namespace

// A connection borrowed from the pool for one call; returned (or closed when broken) on scope exit.
class RedisStore::Conn {
 public:
  Conn(RedisStore* store, redisContext* ctx) : store_(store), ctx_(ctx) {}
  ~Conn() { store_->Release(ctx_, !broken_); }
  Conn(const Conn&) = delete;
  Conn& operator=(const Conn&) = delete;

  bool broken() const { return broken_; }

  // Sends one command; each argument is passed with its length (binary-safe). A missing reply
  // breaks the connection and fails UNAVAILABLE. Error replies are returned as replies.
  absl::StatusOr<Reply> Run(absl::Span<const absl::string_view> args) {
    std::vector<const char*> argv;
    std::vector<size_t> lens;
    Split(args, &argv, &lens);
    void* raw = redisCommandArgv(ctx_, static_cast<int>(argv.size()), argv.data(), lens.data());
    if (raw == nullptr) return Broken(args.empty() ? "" : args[0]);
    return Reply(static_cast<redisReply*>(raw));
  }

  // Sends all commands, then reads all replies (one round trip).
  absl::StatusOr<std::vector<Reply>> Pipeline(const std::vector<std::vector<std::string>>& cmds) {
    for (const std::vector<std::string>& args : cmds) {
      std::vector<const char*> argv;
      std::vector<size_t> lens;
      Split(absl::MakeConstSpan(args), &argv, &lens);
      if (redisAppendCommandArgv(ctx_, static_cast<int>(argv.size()), argv.data(), lens.data()) !=
          REDIS_OK) {
        return Broken("pipeline");
      }
    }
    std::vector<Reply> replies;
    for (size_t i = 0; i < cmds.size(); ++i) {
      void* raw = nullptr;
      if (redisGetReply(ctx_, &raw) != REDIS_OK || raw == nullptr) return Broken("pipeline");
      replies.emplace_back(static_cast<redisReply*>(raw));
    }
    return replies;
  }

 private:
  template <typename S>
  static void Split(absl::Span<const S> args, std::vector<const char*>* argv,
                    std::vector<size_t>* lens) {
    argv->reserve(args.size());
    lens->reserve(args.size());
    for (const S& a : args) {
      argv->push_back(a.data());
      lens->push_back(a.size());
    }
  }

  absl::Status Broken(absl::string_view what) {
    broken_ = true;
    return absl::UnavailableError(
        absl::StrCat("redis ", store_->options_.host, ":", store_->options_.port, " ", what,
                     ": no reply (", ctx_->errstr[0] != '\0' ? ctx_->errstr : "connection lost",
                     "); the connection is closed, the outcome of a write is unknown"));
  }

  RedisStore* const store_;
  redisContext* const ctx_;
  bool broken_ = false;
};

template <typename Fn>
auto RedisStore::WithConnection(bool retry_stale, Fn fn) -> decltype(fn(std::declval<Conn&>())) {
  for (int attempt = 0;; ++attempt) {
    bool reused = false;
    absl::StatusOr<redisContext*> ctx = Acquire(&reused);
    if (!ctx.ok()) return ctx.status();
    Conn conn(this, *ctx);
    auto result = fn(conn);
    // A pooled connection may have died while idle (Redis restarted): a read may try once more.
    if (conn.broken() && reused && retry_stale && attempt == 0) continue;
    return result;
  }
}

absl::StatusOr<std::unique_ptr<RedisStore>> RedisStore::Connect(RedisStoreOptions options) {
  if (options.num_shards < 1 || options.num_shards > 16384) {
    return absl::InvalidArgumentError(
        absl::StrCat("redis num_shards ", options.num_shards, " outside 1..16384"));
  }
  if (options.pool_size < 1) return absl::InvalidArgumentError("redis pool_size must be >= 1");
  if (options.key_namespace.empty() ||
      options.key_namespace.find_first_of("{}") != std::string::npos) {
    return absl::InvalidArgumentError(
        "redis key_namespace must be non-empty and free of '{' '}' (it forms the hash tag)");
  }
  if (options.port < 1 || options.port > 65535) {
    return absl::InvalidArgumentError(absl::StrCat("redis port ", options.port, " out of range"));
  }
  if (options.idempotency_ttl <= absl::ZeroDuration() ||
      options.connect_timeout <= absl::ZeroDuration() ||
      options.command_timeout <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError("redis timeouts and idempotency_ttl must be positive");
  }
  std::unique_ptr<RedisStore> store(new RedisStore(std::move(options)));
  absl::StatusOr<std::string> sha =
      store->WithConnection(false, [](Conn& conn) -> absl::StatusOr<std::string> {
        absl::StatusOr<Reply> reply = conn.Run({"SCRIPT", "LOAD", kCommitScript});
        if (!reply.ok()) return reply.status();
        if ((*reply)->type == REDIS_REPLY_ERROR) return ErrorReply(reply->get(), "SCRIPT LOAD");
        if (!IsString(reply->get())) return UnexpectedReply("SCRIPT LOAD");
        return Str(reply->get());
      });
  if (!sha.ok()) return sha.status();
  store->script_sha_ = *std::move(sha);
  return store;
}

RedisStore::RedisStore(RedisStoreOptions options) : options_(std::move(options)) {}

RedisStore::~RedisStore() {
  absl::MutexLock lock(&mu_);
  for (redisContext* ctx : idle_) redisFree(ctx);
  idle_.clear();
}

absl::StatusOr<redisContext*> RedisStore::Dial() {
  const std::string where = absl::StrCat(options_.host, ":", options_.port);
  redisContext* ctx = redisConnectWithTimeout(options_.host.c_str(), options_.port,
                                              absl::ToTimeval(options_.connect_timeout));
  if (ctx == nullptr) return absl::UnavailableError("redis: cannot allocate a connection");
  if (ctx->err != 0) {
    absl::Status status =
        absl::UnavailableError(absl::StrCat("redis connect to ", where, ": ", ctx->errstr));
    redisFree(ctx);
    return status;
  }
  if (redisSetTimeout(ctx, absl::ToTimeval(options_.command_timeout)) != REDIS_OK) {
    redisFree(ctx);
    return absl::UnavailableError(absl::StrCat("redis ", where, ": cannot set command timeout"));
  }
  redisEnableKeepAlive(ctx);
  if (!options_.password.empty()) {
    std::vector<const char*> argv = {"AUTH"};
    std::vector<size_t> lens = {4};
    if (!options_.username.empty()) {
      argv.push_back(options_.username.data());
      lens.push_back(options_.username.size());
    }
    argv.push_back(options_.password.data());
    lens.push_back(options_.password.size());
    Reply reply(static_cast<redisReply*>(
        redisCommandArgv(ctx, static_cast<int>(argv.size()), argv.data(), lens.data())));
    if (reply == nullptr || reply->type == REDIS_REPLY_ERROR) {
      std::string why = reply == nullptr ? std::string(ctx->errstr) : Str(reply.get());
      redisFree(ctx);
      return absl::UnavailableError(absl::StrCat("redis AUTH at ", where, " refused: ", why));
    }
  }
  return ctx;
}

bool RedisStore::CanAcquire() const { return !idle_.empty() || open_ < options_.pool_size; }

absl::StatusOr<redisContext*> RedisStore::Acquire(bool* reused) {
  {
    absl::MutexLock lock(&mu_);
    mu_.Await(absl::Condition(this, &RedisStore::CanAcquire));
    if (!idle_.empty()) {
      redisContext* ctx = idle_.back();
      idle_.pop_back();
      *reused = true;
      return ctx;
    }
    ++open_;
  }
  *reused = false;
  absl::StatusOr<redisContext*> ctx = Dial();
  if (!ctx.ok()) {
    absl::MutexLock lock(&mu_);
    --open_;
  }
  return ctx;
}

void RedisStore::Release(redisContext* ctx, bool healthy) {
  std::vector<redisContext*> to_free;
  {
    absl::MutexLock lock(&mu_);
    if (healthy) {
      idle_.push_back(ctx);
      return;
    }
    // One dead connection usually means the server went away: the idle ones are dead too.
    to_free.swap(idle_);
    to_free.push_back(ctx);
    open_ -= static_cast<int>(to_free.size());
  }
  for (redisContext* c : to_free) redisFree(c);
}

std::string RedisStore::Tag(int slot) const {
  return absl::StrCat("{", options_.key_namespace, ":", slot, "}");
}

int RedisStore::SlotOf(const std::string& shard) const {
  return ShardSlot(shard, options_.num_shards);
}

std::string RedisStore::DataKey(const std::string& key) const {
  return DataKeyIn(Tag(SlotOf(ShardOfKey(key))), key);
}

std::string RedisStore::IdempotencyKey(const std::string& shard, const std::string& key) const {
  return absl::StrCat(Tag(SlotOf(shard)), ":idem:", shard.size(), ":", shard, ":", key);
}

absl::StatusOr<std::optional<VersionedValue>> RedisStore::Get(const std::string& key) {
  const std::string data_key = DataKey(key);
  return WithConnection(true, [&](Conn& conn) -> absl::StatusOr<std::optional<VersionedValue>> {
    absl::StatusOr<Reply> reply = conn.Run({"HMGET", data_key, "v", "d"});
    if (!reply.ok()) return reply.status();
    const redisReply* r = reply->get();
    if (r->type == REDIS_REPLY_ERROR) return ErrorReply(r, "HMGET");
    if (r->type != REDIS_REPLY_ARRAY || r->elements != 2) return UnexpectedReply("HMGET");
    if (r->element[0]->type == REDIS_REPLY_NIL) return std::nullopt;
    int64_t version = 0;
    if (!IsString(r->element[0]) || !absl::SimpleAtoi(Str(r->element[0]), &version)) {
      return UnexpectedReply("HMGET version");
    }
    VersionedValue value;
    value.version = version;
    if (IsString(r->element[1])) value.value = Str(r->element[1]);
    return value;
  });
}

absl::StatusOr<ScanPage> RedisStore::Scan(const std::string& prefix, const std::string& start_after,
                                          int limit) {
  if (auto s = ValidateScanLimit(limit); !s.ok()) return s;
  std::vector<int> slots;
  std::string shard;
  if (ShardOfPrefix(prefix, &shard)) {
    slots.push_back(SlotOf(shard));  // every key with this prefix carries this tag
  } else {
    for (int s = 0; s < options_.num_shards; ++s) slots.push_back(s);
  }
  std::string min;
  if (!start_after.empty() && start_after >= prefix) {
    min = absl::StrCat("(", start_after);
  } else {
    min = prefix.empty() ? "-" : absl::StrCat("[", prefix);
  }
  const std::optional<std::string> end = PrefixSuccessor(prefix);
  const std::string max = end.has_value() ? absl::StrCat("(", *end) : "+";
  const std::string count = absl::StrCat(limit + 1);

  return WithConnection(true, [&](Conn& conn) -> absl::StatusOr<ScanPage> {
    std::vector<std::vector<std::string>> ranges;
    ranges.reserve(slots.size());
    for (int s : slots) {
      ranges.push_back(
          {"ZRANGEBYLEX", absl::StrCat(Tag(s), ":idx"), min, max, "LIMIT", "0", count});
    }
    absl::StatusOr<std::vector<Reply>> replies = conn.Pipeline(ranges);
    if (!replies.ok()) return replies.status();
    std::vector<std::string> keys;
    for (const Reply& r : *replies) {
      if (r->type == REDIS_REPLY_ERROR) return ErrorReply(r.get(), "ZRANGEBYLEX");
      if (r->type != REDIS_REPLY_ARRAY) return UnexpectedReply("ZRANGEBYLEX");
      for (size_t i = 0; i < r->elements; ++i) keys.push_back(Str(r->element[i]));
    }
    std::sort(keys.begin(), keys.end());
    ScanPage page;
    const bool more = static_cast<int>(keys.size()) > limit;
    if (more) keys.resize(limit);
    if (more) page.next_start_after = keys.back();
    if (keys.empty()) return page;

    std::vector<std::vector<std::string>> reads;
    reads.reserve(keys.size());
    for (const std::string& key : keys) reads.push_back({"HMGET", DataKey(key), "v", "d"});
    absl::StatusOr<std::vector<Reply>> values = conn.Pipeline(reads);
    if (!values.ok()) return values.status();
    for (size_t i = 0; i < keys.size(); ++i) {
      const redisReply* r = (*values)[i].get();
      if (r->type == REDIS_REPLY_ERROR) return ErrorReply(r, "HMGET");
      if (r->type != REDIS_REPLY_ARRAY || r->elements != 2) return UnexpectedReply("HMGET");
      if (r->element[0]->type == REDIS_REPLY_NIL) continue;  // deleted since the index read
      int64_t version = 0;
      if (!IsString(r->element[0]) || !absl::SimpleAtoi(Str(r->element[0]), &version)) {
        return UnexpectedReply("HMGET version");
      }
      ScanEntry entry;
      entry.key = keys[i];
      entry.value.version = version;
      if (IsString(r->element[1])) entry.value.value = Str(r->element[1]);
      page.entries.push_back(std::move(entry));
    }
    return page;
  });
}

absl::StatusOr<CommitResult> RedisStore::Commit(const CommitRequest& request) {
  if (auto s = ValidateCommitRequest(request); !s.ok()) return s;
  const std::string tag = Tag(SlotOf(request.shard));
  const bool has_idem = !request.idempotency_key.empty();

  // The arguments point into the request and into `owned` (a deque: its strings never move), so
  // no value or payload is copied before hiredis formats the command. Every key of the request is
  // in its shard (validated above), so each data key is made from the commit's one tag.
  std::deque<std::string> owned;
  auto own = [&owned](std::string s) -> absl::string_view {
    return owned.emplace_back(std::move(s));
  };
  std::vector<absl::string_view> args;
  args.reserve(10 + 4 * (request.puts.size() + request.deletes.size() + request.events.size()));
  args.push_back("EVALSHA");
  args.push_back(script_sha_);
  args.push_back(own(absl::StrCat(3 + request.puts.size() + request.deletes.size())));
  // An unset idempotency key still names a key of the slot (never read or written).
  args.push_back(
      own(has_idem ? IdempotencyKey(request.shard, request.idempotency_key) : tag + ":idem"));
  args.push_back(own(tag + ":idx"));
  args.push_back(own(tag + ":outbox"));
  for (const Put& put : request.puts) args.push_back(own(DataKeyIn(tag, put.key)));
  for (const Delete& del : request.deletes) args.push_back(own(DataKeyIn(tag, del.key)));
  args.push_back(has_idem ? "1" : "0");
  args.push_back(request.idempotency_result);
  args.push_back(own(absl::StrCat(absl::ToInt64Milliseconds(options_.idempotency_ttl))));
  args.push_back(own(absl::StrCat(request.puts.size())));
  args.push_back(own(absl::StrCat(request.deletes.size())));
  args.push_back(own(absl::StrCat(request.events.size())));
  args.push_back(request.shard);
  for (const Put& put : request.puts) {
    args.push_back(put.key);
    args.push_back(put.value);
    args.push_back(own(absl::StrCat(put.expected_version)));
  }
  for (const Delete& del : request.deletes) {
    args.push_back(del.key);
    args.push_back(own(absl::StrCat(del.expected_version)));
  }
  for (const OutboxEvent& event : request.events) {
    args.push_back(event.topic);
    args.push_back(event.key);
    args.push_back(event.event_id);
    args.push_back(event.payload);
  }

  absl::StatusOr<CommitResult> committed =
      WithConnection(false, [&](Conn& conn) -> absl::StatusOr<CommitResult> {
        absl::StatusOr<Reply> reply = conn.Run(args);
        if (!reply.ok()) return reply.status();
        if ((*reply)->type == REDIS_REPLY_ERROR &&
            absl::StartsWith(Str(reply->get()), "NOSCRIPT")) {
          // The server lost its script cache (restart): EVAL sends the script and caches it again.
          args[0] = "EVAL";
          args[1] = kCommitScript;
          reply = conn.Run(args);
          if (!reply.ok()) return reply.status();
        }
        const redisReply* r = reply->get();
        if (r->type == REDIS_REPLY_ERROR) return ErrorReply(r, "commit script");
        if (r->type != REDIS_REPLY_ARRAY || r->elements < 1 || !IsString(r->element[0])) {
          return UnexpectedReply("commit script");
        }
        const std::string outcome = Str(r->element[0]);
        CommitResult result;
        if (outcome == "replay" && r->elements == 2 && IsString(r->element[1])) {
          result.replayed = true;
          result.idempotency_result = Str(r->element[1]);
          return result;
        }
        if (outcome == "conflict" && r->elements == 4) {
          int64_t expected = 0;
          int64_t actual = 0;
          if (!absl::SimpleAtoi(Str(r->element[2]), &expected) ||
              !absl::SimpleAtoi(Str(r->element[3]), &actual)) {
            return UnexpectedReply("commit script conflict");
          }
          return VersionConflict(Str(r->element[1]), expected, actual);
        }
        if (outcome != "ok" || r->elements != 1 + request.puts.size()) {
          return UnexpectedReply("commit script");
        }
        for (size_t i = 1; i < r->elements; ++i) {
          if (r->element[i]->type != REDIS_REPLY_INTEGER) return UnexpectedReply("commit versions");
          result.versions.push_back(r->element[i]->integer);
        }
        result.idempotency_result = request.idempotency_result;
        return result;
      });
  // A relay in this process wakes on the commit; one in another process polls (store.h).
  if (committed.ok() && !committed->replayed && !request.events.empty()) {
    outbox_listeners_.Notify();
  }
  return committed;
}

int64_t RedisStore::AddOutboxListener(std::function<void()> listener) {
  return outbox_listeners_.Add(std::move(listener));
}

void RedisStore::RemoveOutboxListener(int64_t handle) { outbox_listeners_.Remove(handle); }

absl::StatusOr<std::optional<std::string>> RedisStore::GetIdempotencyResult(
    const std::string& shard, const std::string& idempotency_key) {
  if (auto s = ValidateIdempotencyLookup(shard, idempotency_key); !s.ok()) return s;
  const std::string key = IdempotencyKey(shard, idempotency_key);
  return WithConnection(true, [&](Conn& conn) -> absl::StatusOr<std::optional<std::string>> {
    absl::StatusOr<Reply> reply = conn.Run({"GET", key});
    if (!reply.ok()) return reply.status();
    const redisReply* r = reply->get();
    if (r->type == REDIS_REPLY_ERROR) return ErrorReply(r, "GET");
    if (r->type == REDIS_REPLY_NIL) return std::nullopt;
    if (!IsString(r)) return UnexpectedReply("GET");
    return Str(r);
  });
}

absl::StatusOr<std::vector<OutboxRecord>> RedisStore::PendingOutbox(int limit) {
  return PendingOutboxAfter(limit, {});
}

// One stream per slot: each slot's read continues after the largest stream id of that slot in
// `after`.
absl::StatusOr<std::vector<OutboxRecord>> RedisStore::PendingOutboxAfter(
    int limit, const std::vector<std::string>& after) {
  if (auto s = ValidateOutboxLimit(limit); !s.ok()) return s;
  const size_t slots = static_cast<size_t>(options_.num_shards);
  std::vector<std::optional<std::pair<uint64_t, uint64_t>>> after_of(slots);
  for (const std::string& id : after) {
    const size_t dash = id.find('-');
    int slot = -1;
    if (dash == std::string::npos || !absl::SimpleAtoi(id.substr(0, dash), &slot) || slot < 0 ||
        slot >= options_.num_shards) {
      continue;  // not an id of this store: ignored
    }
    const std::string stream_id = id.substr(dash + 1);
    if (!IsStreamId(stream_id)) continue;
    const size_t sep = stream_id.find('-');
    std::pair<uint64_t, uint64_t> position{0, 0};
    if (!absl::SimpleAtoi(stream_id.substr(0, sep), &position.first) ||
        !absl::SimpleAtoi(stream_id.substr(sep + 1), &position.second)) {
      continue;
    }
    std::optional<std::pair<uint64_t, uint64_t>>& current = after_of[static_cast<size_t>(slot)];
    if (!current.has_value() || *current < position) current = position;
  }
  return WithConnection(true, [&](Conn& conn) -> absl::StatusOr<std::vector<OutboxRecord>> {
    std::vector<std::vector<OutboxRecord>> per_slot(slots);
    // Appends up to `count` records of each slot in `which` to per_slot, reading after the last
    // one already there. One pipelined round trip.
    auto read = [&](const std::vector<size_t>& which, int count) -> absl::Status {
      std::vector<std::vector<std::string>> reads;
      reads.reserve(which.size());
      for (size_t s : which) {
        std::string start = "-";
        if (!per_slot[s].empty()) {
          start = absl::StrCat("(", StreamIdOf(per_slot[s].back().id));
        } else if (after_of[s].has_value()) {
          start = absl::StrCat("(", after_of[s]->first, "-", after_of[s]->second);
        }
        reads.push_back({"XRANGE", absl::StrCat(Tag(static_cast<int>(s)), ":outbox"), start, "+",
                         "COUNT", absl::StrCat(count)});
      }
      absl::StatusOr<std::vector<Reply>> replies = conn.Pipeline(reads);
      if (!replies.ok()) return replies.status();
      for (size_t k = 0; k < replies->size(); ++k) {
        const size_t s = which[k];
        const redisReply* r = (*replies)[k].get();
        if (r->type == REDIS_REPLY_ERROR) return ErrorReply(r, "XRANGE");
        if (r->type != REDIS_REPLY_ARRAY) return UnexpectedReply("XRANGE");
        for (size_t i = 0; i < r->elements; ++i) {
          const redisReply* entry = r->element[i];
          if (entry->type != REDIS_REPLY_ARRAY || entry->elements != 2 ||
              !IsString(entry->element[0]) || entry->element[1]->type != REDIS_REPLY_ARRAY) {
            return UnexpectedReply("XRANGE entry");
          }
          OutboxRecord record;
          record.id = absl::StrCat(s, "-", Str(entry->element[0]));
          const redisReply* fields = entry->element[1];
          for (size_t f = 0; f + 1 < fields->elements; f += 2) {
            const std::string name = Str(fields->element[f]);
            std::string value = Str(fields->element[f + 1]);
            if (name == "s") {
              record.shard = std::move(value);
            } else if (name == "t") {
              record.event.topic = std::move(value);
            } else if (name == "k") {
              record.event.key = std::move(value);
            } else if (name == "i") {
              record.event.event_id = std::move(value);
            } else if (name == "p") {
              record.event.payload = std::move(value);
            }
          }
          per_slot[s].push_back(std::move(record));
        }
      }
      return absl::OkStatus();
    };
    // Pass 1: an even share of `limit` from every slot. Pass 2, only when that left room and some
    // slot filled its share (it may hold more): the rest from those slots. At most two round trips
    // and about `limit` + (full slots x rest) records read, instead of `limit` from every slot.
    std::vector<size_t> all(slots);
    for (size_t s = 0; s < slots; ++s) all[s] = s;
    const int share = static_cast<int>((static_cast<size_t>(limit) + slots - 1) / slots);
    if (absl::Status st = read(all, share); !st.ok()) return st;
    size_t total = 0;
    std::vector<size_t> full;
    for (size_t s = 0; s < slots; ++s) {
      total += per_slot[s].size();
      if (static_cast<int>(per_slot[s].size()) == share) full.push_back(s);
    }
    if (total < static_cast<size_t>(limit) && !full.empty()) {
      if (absl::Status st = read(full, limit - static_cast<int>(total)); !st.ok()) return st;
    }
    // Round robin over the slots: no slot starves the others, each keeps its order.
    std::vector<OutboxRecord> records;
    for (size_t round = 0; static_cast<int>(records.size()) < limit; ++round) {
      bool any = false;
      for (std::vector<OutboxRecord>& slot : per_slot) {
        if (round < slot.size() && static_cast<int>(records.size()) < limit) {
          records.push_back(std::move(slot[round]));
          any = true;
        }
      }
      if (!any) break;
    }
    return records;
  });
}

absl::Status RedisStore::MarkSent(const std::vector<OutboxRecord>& records) {
  std::vector<std::vector<std::string>> deletes(options_.num_shards);
  for (const OutboxRecord& record : records) {
    const size_t dash = record.id.find('-');
    int slot = -1;
    if (dash == std::string::npos || !absl::SimpleAtoi(record.id.substr(0, dash), &slot) ||
        slot < 0 || slot >= options_.num_shards) {
      continue;  // not an id of this store: ignored
    }
    const std::string stream_id = record.id.substr(dash + 1);
    if (!IsStreamId(stream_id)) continue;
    if (deletes[slot].empty()) deletes[slot] = {"XDEL", absl::StrCat(Tag(slot), ":outbox")};
    deletes[slot].push_back(stream_id);
  }
  std::vector<std::vector<std::string>> cmds;
  for (std::vector<std::string>& d : deletes) {
    if (!d.empty()) cmds.push_back(std::move(d));
  }
  if (cmds.empty()) return absl::OkStatus();
  // XDEL is idempotent, so a retry on a fresh connection is safe.
  return WithConnection(true, [&](Conn& conn) -> absl::Status {
    absl::StatusOr<std::vector<Reply>> replies = conn.Pipeline(cmds);
    if (!replies.ok()) return replies.status();
    for (const Reply& r : *replies) {
      if (r->type == REDIS_REPLY_ERROR) return ErrorReply(r.get(), "XDEL");
    }
    return absl::OkStatus();
  });
}

}  // namespace pdao

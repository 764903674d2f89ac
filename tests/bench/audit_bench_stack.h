// Shared by the audit benchmarks over Kafka (audit_ingest_bench.cc, outbox_kafka_bench.cc): the
// audit service's log with its read models as AuditModule wires them (and, through
// sample_envelope.h, an envelope the size of a registry event). Benchmarks only.
#pragma once

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "common/clock/clock.h"
#include "common/store/sqlite_store.h"
#include "pdao/events/v1/envelope.pb.h"
#include "prometheus/registry.h"
#include "services/audit/alert_monitor.h"
#include "services/audit/audit_core.h"
#include "services/audit/audit_index.h"
#include "services/audit/audit_log.h"
#include "tests/bench/sample_envelope.h"

namespace pdao::audit {

[[noreturn]] inline void Die(const std::string& what, const absl::Status& s) {
  std::fprintf(stderr, "%s: %s\n", what.c_str(), s.ToString().c_str());
  std::exit(1);
}

// The audit service's read models on a log in `dir`, as AuditModule wires them.
struct AuditStack {
  SystemClock clock;
  std::unique_ptr<tlog::CheckpointSigner> signer;
  std::unique_ptr<SqliteStore> store;
  prometheus::Registry metrics;
  std::unique_ptr<AlertMonitor> alerts;
  std::unique_ptr<AuditIndex> index;
  std::unique_ptr<AuditLog> log;
  std::unique_ptr<AuditCore> core;

  // `extra` observers (e.g. a benchmark's probe) are told about every entry after the module's;
  // not owned, must outlive the stack.
  explicit AuditStack(const std::string& dir, std::vector<EntryObserver*> extra = {}) {
    std::filesystem::create_directories(dir);
    absl::StatusOr<tlog::CheckpointSigner> s = tlog::CheckpointSigner::Generate();
    if (!s.ok()) Die("key", s.status());
    signer = std::make_unique<tlog::CheckpointSigner>(std::move(*s));
    absl::StatusOr<std::unique_ptr<SqliteStore>> st = SqliteStore::Open(dir + "/audit.db");
    if (!st.ok()) Die("store", st.status());
    store = std::move(*st);
    absl::StatusOr<std::unique_ptr<AlertMonitor>> a =
        AlertMonitor::Create(MonitorOptions(), *store, metrics);
    if (!a.ok()) Die("alerts", a.status());
    alerts = std::move(*a);
    index = std::make_unique<AuditIndex>();
    AuditLogOptions o;
    o.dir = dir + "/log";
    o.observers = {index.get(), alerts.get()};
    o.observers.insert(o.observers.end(), extra.begin(), extra.end());
    absl::StatusOr<std::unique_ptr<AuditLog>> l = AuditLog::Open(o, clock, *signer);
    if (!l.ok()) Die("log", l.status());
    log = std::move(*l);
    core = std::make_unique<AuditCore>(*log, *index, *alerts, *signer);
  }
  ~AuditStack() { log->Stop(); }
};

}  // namespace pdao::audit

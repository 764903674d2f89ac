#include "tools/pdaoctl/audit/reconcile.h"

#include <grpcpp/client_context.h>
#include <sqlite3.h>

#include <filesystem>
#include <set>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/rpc/channel.h"
#include "pdao/events/v1/envelope.pb.h"

namespace pdao::pdaoctl::audit {

using pdao::audit::v1::QueryRequest;
using pdao::audit::v1::QueryResponse;

absl::StatusOr<std::vector<CommittedEvent>> ReadCommittedEvents(const std::string& path) {
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) {
    return absl::NotFoundError(absl::StrCat("no store file ", path));
  }
  sqlite3* db = nullptr;
  int rc = sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr);
  std::vector<CommittedEvent> events;
  sqlite3_stmt* stmt = nullptr;
  if (rc == SQLITE_OK) {
    sqlite3_busy_timeout(db, 5000);
    rc = sqlite3_prepare_v2(db, "SELECT event_id, topic, sent FROM outbox ORDER BY seq", -1, &stmt,
                            nullptr);
  }
  if (rc == SQLITE_OK) {
    while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
      CommittedEvent e;
      e.event_id = reinterpret_cast<const char*>(sqlite3_column_text(stmt, 0));
      e.topic = reinterpret_cast<const char*>(sqlite3_column_text(stmt, 1));
      e.sent = sqlite3_column_int(stmt, 2) != 0;
      events.push_back(std::move(e));
    }
    if (rc == SQLITE_DONE) rc = SQLITE_OK;
  }
  std::string error = rc == SQLITE_OK ? "" : sqlite3_errmsg(db);
  sqlite3_finalize(stmt);
  sqlite3_close(db);
  if (rc != SQLITE_OK) {
    return absl::InternalError(
        absl::StrCat(path, " is not a readable PDAO store (outbox table): ", error));
  }
  return events;
}

absl::StatusOr<ReconcileReport> Reconcile(pdao::audit::v1::AuditService::StubInterface& stub,
                                          const std::vector<CommittedEvent>& committed,
                                          const ReconcileOptions& options) {
  ReconcileReport report;
  report.committed = committed.size();
  std::set<std::string> logged;
  uint64_t next_index = 0;  // Query's page token is the index to continue from
  const absl::Time give_up = absl::Now() + options.settle;
  while (true) {
    // Read every page from next_index on.
    QueryRequest req;
    req.set_action(options.action_prefix);
    req.set_page_size(1000);
    req.set_page_token(absl::StrCat(next_index));
    while (true) {
      QueryResponse resp;
      grpc::ClientContext context;
      WithDeadline(context, options.timeout);
      grpc::Status s = stub.Query(&context, req, &resp);
      if (!s.ok()) {
        return absl::Status(static_cast<absl::StatusCode>(s.error_code()),
                            absl::StrCat("audit Query: ", s.error_message()));
      }
      for (const auto& entry : resp.entries()) {
        pdao::events::v1::Envelope envelope;
        if (envelope.ParseFromString(entry.envelope())) logged.insert(envelope.event_id());
        ++report.entries_read;
        next_index = std::max<uint64_t>(next_index, entry.index() + 1);
      }
      if (resp.next_page_token().empty()) break;
      uint64_t token = 0;
      if (!absl::SimpleAtoi(resp.next_page_token(), &token)) {
        return absl::InternalError("audit Query returned a page token that is not an index");
      }
      next_index = std::max(next_index, token);
      req.set_page_token(resp.next_page_token());
    }
    report.missing.clear();
    for (const CommittedEvent& e : committed) {
      if (logged.count(e.event_id) == 0) report.missing.push_back(e);
    }
    if (report.missing.empty() || absl::Now() >= give_up) return report;
    absl::SleepFor(absl::Milliseconds(500));  // entries still on their way: read the new ones
  }
}

}  // namespace pdao::pdaoctl::audit

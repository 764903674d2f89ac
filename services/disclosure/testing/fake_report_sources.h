// Fakes of what the reports core reads from other services, for the disclosure service's tests:
// a FakeLedgerReader (figures per operator and year; zeros for an operator without books, as
// pricing answers), a FakeAgreementReader (a settable list of agreements), both with call
// counters and a switch that fails every call, and a FakeSnapshotSource holding published
// snapshots in memory. The real readers are exercised in tests/integration/disclosure/.
#pragma once

#include <atomic>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "services/disclosure/ledger_reader.h"
#include "services/disclosure/snapshots.h"

namespace pdao::disclosure::testing {

class FakeLedgerReader final : public LedgerReader {
 public:
  void Set(const std::string& op, int year, LedgerFigures figures) {
    absl::MutexLock lock(&mu_);
    figures_[{op, year}] = figures;
  }
  // Every call fails with `status` until reset with OkStatus().
  void FailWith(absl::Status status) {
    absl::MutexLock lock(&mu_);
    fail_ = std::move(status);
  }
  int calls() const { return calls_.load(); }

  // LedgerReader
  absl::StatusOr<LedgerFigures> YearFigures(const std::string& op, int year) override {
    ++calls_;
    absl::MutexLock lock(&mu_);
    if (!fail_.ok()) return fail_;
    auto it = figures_.find({op, year});
    return it == figures_.end() ? LedgerFigures{} : it->second;
  }

 private:
  std::atomic<int> calls_{0};
  absl::Mutex mu_;
  std::map<std::pair<std::string, int>, LedgerFigures> figures_ ABSL_GUARDED_BY(mu_);
  absl::Status fail_ ABSL_GUARDED_BY(mu_);
};

class FakeAgreementReader final : public AgreementReader {
 public:
  void Add(pdao::authorization::v1::Agreement agreement) {
    absl::MutexLock lock(&mu_);
    agreements_.push_back(std::move(agreement));
  }
  void FailWith(absl::Status status) {
    absl::MutexLock lock(&mu_);
    fail_ = std::move(status);
  }
  int calls() const { return calls_.load(); }

  // AgreementReader
  absl::StatusOr<std::vector<pdao::authorization::v1::Agreement>> ListAgreements() override {
    ++calls_;
    absl::MutexLock lock(&mu_);
    if (!fail_.ok()) return fail_;
    return agreements_;
  }

 private:
  std::atomic<int> calls_{0};
  absl::Mutex mu_;
  std::vector<pdao::authorization::v1::Agreement> agreements_ ABSL_GUARDED_BY(mu_);
  absl::Status fail_ ABSL_GUARDED_BY(mu_);
};

class FakeSnapshotSource final : public SnapshotSource {
 public:
  void Add(PublishedSnapshot snapshot) {
    absl::MutexLock lock(&mu_);
    const int64_t seq = snapshot.snapshot.sequence();
    snapshots_[seq] = std::make_shared<const PublishedSnapshot>(std::move(snapshot));
  }

  // SnapshotSource
  absl::StatusOr<std::shared_ptr<const PublishedSnapshot>> Latest() const override {
    absl::MutexLock lock(&mu_);
    if (snapshots_.empty()) return absl::NotFoundError("no snapshot published yet");
    return snapshots_.rbegin()->second;
  }
  absl::StatusOr<std::shared_ptr<const PublishedSnapshot>> Get(int64_t sequence) const override {
    absl::MutexLock lock(&mu_);
    auto it = snapshots_.find(sequence);
    if (it == snapshots_.end()) return absl::NotFoundError(absl::StrCat("no snapshot ", sequence));
    return it->second;
  }

 private:
  mutable absl::Mutex mu_;
  std::map<int64_t, std::shared_ptr<const PublishedSnapshot>> snapshots_ ABSL_GUARDED_BY(mu_);
};

}  // namespace pdao::disclosure::testing

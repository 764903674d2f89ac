// ScriptedBus: an EventBus for unit tests of code that publishes (the outbox relay). The test
// decides whether Publish accepts a message and when and how each delivery report arrives.
// Header-only; tests only.
#pragma once

#include <functional>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "common/bus/event_bus.h"

namespace pdao::testing {

class ScriptedBus final : public EventBus {
 public:
  // Decides Publish's return value (default: accept everything).
  void SetAccept(std::function<absl::Status(const BusMessage&)> accept) {
    absl::MutexLock lock(&mu_);
    accept_ = std::move(accept);
  }
  // When set, reports are sent at once from Publish's caller thread with this outcome; when unset,
  // they are held until Release().
  void SetAutoReport(std::function<absl::Status(const BusMessage&)> outcome) {
    absl::MutexLock lock(&mu_);
    auto_report_ = std::move(outcome);
  }
  // Sends the held reports of the messages `which` selects (all when null) with
  // `outcome(message)`; the others stay held.
  void Release(const std::function<absl::Status(const BusMessage&)>& outcome,
               const std::function<bool(const BusMessage&)>& which = nullptr) {
    std::vector<std::pair<BusMessage, DeliveryCallback>> released;
    {
      absl::MutexLock lock(&mu_);
      std::vector<std::pair<BusMessage, DeliveryCallback>> kept;
      for (auto& entry : held_) {
        (!which || which(entry.first) ? released : kept).push_back(std::move(entry));
      }
      held_.swap(kept);
    }
    for (auto& [m, cb] : released) {
      if (cb) cb(outcome(m));
    }
  }
  // Every message Publish accepted, in order.
  std::vector<BusMessage> published() const {
    absl::MutexLock lock(&mu_);
    return published_;
  }
  size_t held() const {
    absl::MutexLock lock(&mu_);
    return held_.size();
  }

  // EventBus
  absl::Status Publish(const BusMessage& message, DeliveryCallback on_delivery) override {
    std::function<absl::Status(const BusMessage&)> outcome;
    {
      absl::MutexLock lock(&mu_);
      if (accept_) {
        if (absl::Status s = accept_(message); !s.ok()) return s;
      }
      published_.push_back(message);
      if (!auto_report_) {
        held_.emplace_back(message, std::move(on_delivery));
        return absl::OkStatus();
      }
      outcome = auto_report_;
    }
    if (on_delivery) on_delivery(outcome(message));
    return absl::OkStatus();
  }
  absl::StatusOr<std::unique_ptr<Subscription>> Subscribe(const std::string&,
                                                          const std::vector<std::string>&,
                                                          MessageHandler) override {
    return absl::UnimplementedError("ScriptedBus only publishes");
  }
  absl::StatusOr<std::unique_ptr<Subscription>> SubscribeBatch(const std::string&,
                                                               const std::vector<std::string>&,
                                                               BatchOptions,
                                                               BatchHandler) override {
    return absl::UnimplementedError("ScriptedBus only publishes");
  }
  absl::Status Flush(absl::Duration) override { return absl::OkStatus(); }
  // A publish-only bus has no consumer groups: the gate over it reads "cannot tell", which the
  // gate treats as a growing lag (AuditGateTest.ALagThatCannotBeReadCountsAsGrowing).
  absl::StatusOr<ConsumerLag> Lag(const std::string& group, const std::string& topic) override {
    return absl::UnimplementedError(
        absl::StrCat("ScriptedBus only publishes: no lag of group ", group, " on ", topic));
  }

 private:
  mutable absl::Mutex mu_;
  std::function<absl::Status(const BusMessage&)> accept_ ABSL_GUARDED_BY(mu_);
  std::function<absl::Status(const BusMessage&)> auto_report_ ABSL_GUARDED_BY(mu_);
  std::vector<std::pair<BusMessage, DeliveryCallback>> held_ ABSL_GUARDED_BY(mu_);
  std::vector<BusMessage> published_ ABSL_GUARDED_BY(mu_);
};

}  // namespace pdao::testing

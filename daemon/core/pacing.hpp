#pragma once

#include <chrono>
#include <optional>

#include "core/api_error.hpp"
#include "core/duration.hpp"

namespace mmsmon {

using SteadyTime = std::chrono::steady_clock::time_point;

/// A client-side request budget (api.rate_limit): `burst` requests at once, refilled at
/// `per_second`.
struct RequestBudget {
  double per_second = 10;
  double burst = 10;
  friend bool operator==(const RequestBudget&, const RequestBudget&) = default;
};

/// Paces every request to the API together. When the API throttles (or says no quota
/// remains), it pauses all requests until `TimeLeft` has passed and spreads the following
/// ones out, doubling the gap on each further throttle and narrowing it by an eighth after
/// each clean answer. Pure: time is a parameter.
class ThrottleGovernor {
 public:
  struct Options {
    Millis min_gap{50};           ///< the gap after a first throttle
    Millis max_gap{10'000};       ///< the widest gap between two requests
    Millis default_pause{1'000};  ///< pause when the API gives no TimeLeft
    /// The longest pause one answer can impose on every request: a `TimeLeft` of a day (or
    /// of INT64_MAX ms) must not freeze the fleet. The daemon sets the smaller of
    /// poll.interval and 5 minutes.
    Millis max_pause{5 * 60 * 1'000};
  };
  ThrottleGovernor() : ThrottleGovernor(Options{}) {}
  explicit ThrottleGovernor(Options o) : o_(o) {}

  /// When the next request may start; reserves that slot (call once per request). It waits
  /// its turn in the budget too (polls of running jobs).
  SteadyTime reserve(SteadyTime now);
  /// For requests that yield when the budget is short (polls of jobs not running, task
  /// checks): takes a token only when one is free now and more than half the burst is left
  /// for reserve(); nullopt otherwise, and the caller asks again after budget_retry(). Then
  /// reserve() gives the time to start (the API's own throttling still applies).
  bool try_take_budget(SteadyTime now);
  Millis budget_retry(SteadyTime now) const;
  /// The client-side budget (none: unlimited); a reload may change it.
  void set_budget(std::optional<RequestBudget> b);
  /// Feeds back a finished call: `failure` as classified, `rate_limit` from its headers.
  void on_outcome(SteadyTime now, std::optional<FailureReason> failure,
                  const std::optional<RateLimit>& rate_limit, std::optional<Millis> retry_after);

  Millis gap() const { return gap_; }
  /// Whether requests are being held back now (paused, or spaced out).
  bool throttling(SteadyTime now) const { return gap_ > Millis{0} || paused_until_ > now; }

 private:
  /// Where the budget's next request stands (GCRA's theoretical arrival time).
  SteadyTime budget_start(SteadyTime now, bool take);
  Options o_;
  std::optional<RequestBudget> budget_;
  SteadyTime tat_{};
  std::size_t prepaid_ = 0;  ///< tokens try_take_budget() took for reserve() calls to come
  Millis gap_{0};
  SteadyTime paused_until_{};
  SteadyTime next_slot_{};
  std::optional<SteadyTime> last_widened_;
};

}  // namespace mmsmon

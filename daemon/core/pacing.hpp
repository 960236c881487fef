#pragma once

#include <chrono>
#include <optional>

#include "core/api_error.hpp"
#include "core/duration.hpp"

namespace mmsmon {

using SteadyTime = std::chrono::steady_clock::time_point;

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

  /// When the next request may start; reserves that slot (call once per request).
  SteadyTime reserve(SteadyTime now);
  /// Feeds back a finished call: `failure` as classified, `rate_limit` from its headers.
  void on_outcome(SteadyTime now, std::optional<FailureReason> failure,
                  const std::optional<RateLimit>& rate_limit, std::optional<Millis> retry_after);

  Millis gap() const { return gap_; }
  /// Whether requests are being held back now (paused, or spaced out).
  bool throttling(SteadyTime now) const { return gap_ > Millis{0} || paused_until_ > now; }

 private:
  Options o_;
  Millis gap_{0};
  SteadyTime paused_until_{};
  SteadyTime next_slot_{};
  std::optional<SteadyTime> last_widened_;
};

}  // namespace mmsmon

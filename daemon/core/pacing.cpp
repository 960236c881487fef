#include "core/pacing.hpp"

#include <algorithm>

namespace mmsmon {

namespace {

using Fine = std::chrono::steady_clock::duration;

Fine period_of(const RequestBudget& b) {
  return std::chrono::duration_cast<Fine>(std::chrono::duration<double>(1.0 / b.per_second));
}

/// How far ahead of now the budget may be booked: (burst - 1) periods.
Fine tolerance_of(const RequestBudget& b) {
  return std::chrono::duration_cast<Fine>(period_of(b) * std::max(0.0, b.burst - 1.0));
}

}  // namespace

void ThrottleGovernor::set_budget(std::optional<RequestBudget> b) {
  budget_ = b;
}

SteadyTime ThrottleGovernor::budget_start(SteadyTime now, bool take) {
  if (!budget_) return now;
  SteadyTime t = std::max(tat_, now);
  if (take) tat_ = t + period_of(*budget_);
  return std::max(now, t - tolerance_of(*budget_));
}

bool ThrottleGovernor::try_take_budget(SteadyTime now) {
  if (!budget_) return true;
  SteadyTime t = std::max(tat_, now);
  // Only out of the lower half of the burst: the rest stays for reserve().
  if (t - tolerance_of(*budget_) / 2 > now) return false;
  tat_ = t + period_of(*budget_);
  ++prepaid_;
  return true;
}

Millis ThrottleGovernor::budget_retry(SteadyTime now) const {
  if (!budget_) return Millis{0};
  SteadyTime t = std::max(tat_, now);
  auto wait = t - tolerance_of(*budget_) / 2 - now;
  return std::max(std::chrono::ceil<Millis>(wait), std::chrono::ceil<Millis>(period_of(*budget_)));
}

SteadyTime ThrottleGovernor::reserve(SteadyTime now) {
  // A token taken ahead by try_take_budget() pays for this request (whoever makes it: the
  // count of requests and tokens stays equal).
  SteadyTime b = prepaid_ > 0 ? now : budget_start(now, true);
  if (prepaid_ > 0) --prepaid_;
  SteadyTime t = std::max({now, b, paused_until_, next_slot_});
  next_slot_ = t + gap_;
  return t;
}

void ThrottleGovernor::on_outcome(SteadyTime now, std::optional<FailureReason> failure,
                                  const std::optional<RateLimit>& rl,
                                  std::optional<Millis> retry_after) {
  bool throttled = failure == FailureReason::throttled;
  bool exhausted = rl && rl->remain && *rl->remain <= 0;
  if (throttled || exhausted) {
    Millis asked =
        retry_after ? *retry_after : (rl && rl->time_left ? *rl->time_left : o_.default_pause);
    // Clamped before it is added to a time point: no overflow whatever the header said.
    Millis pause = std::clamp(asked, Millis{0}, o_.max_pause);
    paused_until_ = std::max(paused_until_, now + pause);
    // Answers to requests that were already on their way when we last widened the gap
    // say nothing new: widen at most once per gap.
    if (throttled && (!last_widened_ || now >= *last_widened_ + std::max(gap_, o_.min_gap))) {
      gap_ = std::clamp(gap_ * 2, o_.min_gap, o_.max_gap);
      last_widened_ = now;
    }
  } else if (!failure || *failure != FailureReason::throttled) {
    // Recover slowly (an eighth per clean answer) so that a limit per second is not hit
    // again at once.
    gap_ -= std::max(gap_ / 8, Millis{1});
    if (gap_ < o_.min_gap) gap_ = Millis{0};
  }
}

}  // namespace mmsmon

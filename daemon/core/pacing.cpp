#include "core/pacing.hpp"

#include <algorithm>

namespace mmsmon {

SteadyTime ThrottleGovernor::reserve(SteadyTime now) {
  SteadyTime t = std::max({now, paused_until_, next_slot_});
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

#pragma once

#include <cstddef>
#include <optional>

#include "core/api_error.hpp"
#include "core/duration.hpp"
#include "core/fleet.hpp"

namespace mmsmon {

/// Exponential backoff with full jitter: a uniform delay in [0, min(cap, base * 2^attempt)].
/// `random01` is a uniform draw from [0, 1) (a parameter, so this stays pure).
Millis backoff_delay(Millis base, Millis cap, unsigned attempt, double random01);

/// The next regular poll: `interval` scaled by a uniform factor in [1 - jitter, 1 + jitter].
Millis jittered(Millis interval, double jitter, double random01);

/// A delay this long or longer means "not again" (the poller sleeps until woken).
inline constexpr Millis kNever{10LL * 365 * 24 * 3600 * 1000};

/// How often jobs are polled by status (poll.*).
struct Cadence {
  Millis pending{5 * 60 * 1000};  ///< INIT jobs
  Millis finished{0};             ///< DONE/FAILED jobs once confirmed (0: never)
};

struct ScheduleOptions {
  double jitter = 0.1;  ///< poll.jitter
  Cadence cadence = {};
  Millis backoff_base{1'000};              ///< the first retry waits up to this long
  Millis max_server_wait{5 * 60 * 1'000};  ///< cap on a wait the server asks for
};

/// When job `index` of `count` is first due after start: spread evenly over its interval,
/// so that a fleet does not start with a thundering herd.
Millis first_poll_offset(std::size_t index, std::size_t count, Millis interval);

/// The interval that applies to a job now, by what it was last seen to be: not seen yet or
/// running (DOING, stopped or not, or a status mmsmon does not know): its own interval;
/// INIT: the larger of `cadence.pending` and its own; DONE or FAILED seen once: its own
/// (a second poll confirms it); confirmed DONE: `cadence.finished`, or kNever when 0;
/// confirmed FAILED: `cadence.finished`, or `cadence.pending` when 0 (a retry turns it DOING
/// again, and only polling sees that).
Millis poll_interval(const TrackedJob& job, const Cadence& cadence = {});

/// What a finished poll says to the scheduler.
struct PollOutcome {
  std::optional<FailureReason> failure;  ///< empty on success
  std::optional<Millis> retry_after;     ///< a wait the server asked for (rate limit)
};
PollOutcome poll_outcome(const Result<Job, ApiError>& r);

/// The wait before `job`'s next poll after `outcome`, updating its backoff attempt:
/// retryable failures back off exponentially with full jitter, never longer than the
/// interval, and a server-requested wait is honoured up to the smaller of the interval
/// and `max_server_wait`; anything else waits the jittered interval. Pure.
Millis next_poll_delay(TrackedJob& job, const PollOutcome& outcome, const ScheduleOptions& opt,
                       double random01);

}  // namespace mmsmon

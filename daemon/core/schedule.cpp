#include "core/schedule.hpp"

#include <algorithm>
#include <cmath>

namespace mmsmon {

Millis backoff_delay(Millis base, Millis cap, unsigned attempt, double random01) {
  double ceiling = static_cast<double>(base.count()) * std::pow(2.0, std::min(attempt, 30u));
  ceiling = std::min(ceiling, static_cast<double>(cap.count()));
  return Millis{static_cast<Millis::rep>(ceiling * std::clamp(random01, 0.0, 1.0))};
}

Millis jittered(Millis interval, double jitter, double random01) {
  double f = 1.0 + jitter * (2.0 * std::clamp(random01, 0.0, 1.0) - 1.0);
  return Millis{static_cast<Millis::rep>(static_cast<double>(interval.count()) * f)};
}

Millis first_poll_offset(std::size_t index, std::size_t count, Millis interval) {
  if (count == 0) return Millis{0};
  return std::chrono::duration_cast<Millis>(interval * static_cast<double>(index) /
                                            static_cast<double>(count));
}

Millis poll_interval(const TrackedJob& job, const Cadence& c) {
  const auto& last = job.state.last;
  if (!last || !last->status) return job.interval;
  switch (*last->status) {
    case JobStatus::init:
      return std::max(job.interval, c.pending);
    case JobStatus::done:
      if (job.finished_seen < 2) return job.interval;
      return c.finished > Millis::zero() ? c.finished : kNever;
    case JobStatus::failed:
      if (job.finished_seen < 2) return job.interval;
      return c.finished > Millis::zero() ? c.finished : std::max(job.interval, c.pending);
    default:
      return job.interval;
  }
}

PollOutcome poll_outcome(const Result<Job, ApiError>& r) {
  if (r) return {};
  return {r.error().reason, r.error().retry_after};
}

Millis next_poll_delay(TrackedJob& job, const PollOutcome& o, const ScheduleOptions& opt,
                       double random01) {
  Millis interval = poll_interval(job, opt.cadence);
  if (o.failure && is_retryable(*o.failure)) {
    Millis delay = backoff_delay(opt.backoff_base, interval, job.attempt, random01);
    if (job.attempt < 64) ++job.attempt;
    if (o.retry_after) {
      Millis cap = std::min(interval, opt.max_server_wait);
      delay = std::max(delay, std::clamp(*o.retry_after, Millis{0}, cap));
    }
    return delay;
  }
  job.attempt = 0;
  if (interval >= kNever) return kNever;
  return jittered(interval, opt.jitter, random01);
}

}  // namespace mmsmon

// Scheduling decisions, driven over thousands of simulated polls with seeded draws.
#include <doctest/doctest.h>

#include <algorithm>
#include <map>
#include <queue>
#include <random>

#include "core/schedule.hpp"
#include "job_fixtures.hpp"

using namespace mmsmon;
using namespace mmsmon::test;
using namespace std::chrono_literals;

TEST_CASE("full-jitter backoff stays within its cap") {
  CHECK(backoff_delay(1s, 60s, 0, 0.999) < 1s);
  CHECK(backoff_delay(1s, 60s, 3, 0.5) == 4s);
  CHECK(backoff_delay(1s, 60s, 10, 0.999) <= 60s);
  CHECK(backoff_delay(1s, 60s, 100, 1.0) == 60s);
  CHECK(backoff_delay(1s, 60s, 5, 0.0) == 0s);
}

TEST_CASE("jitter scales the interval symmetrically") {
  CHECK(jittered(60s, 0.1, 0.0) == 54s);
  CHECK(jittered(60s, 0.1, 0.5) == 60s);
  CHECK(jittered(60s, 0.1, 1.0) == 66s);
  CHECK(jittered(60s, 0.0, 0.9) == 60s);
}

TEST_CASE("first polls are spread evenly over the interval") {
  CHECK(first_poll_offset(0, 4, 60s) == 0s);
  CHECK(first_poll_offset(1, 4, 60s) == 15s);
  CHECK(first_poll_offset(3, 4, 60s) == 45s);
  CHECK(first_poll_offset(0, 0, 60s) == 0s);
  std::vector<Millis> v;
  for (std::size_t i = 0; i < 1000; ++i)
    v.push_back(first_poll_offset(i, 1000, 10s));
  CHECK(std::is_sorted(v.begin(), v.end()));
  CHECK(v.back() < 10s);
  CHECK(v[500] == 5s);
}

TEST_CASE("retries back off, only retryable failures are retried, success resets") {
  TrackedJob j;
  j.interval = 60s;
  ScheduleOptions opt{.jitter = 0};
  PollOutcome timeout{FailureReason::timeout, std::nullopt};
  CHECK(next_poll_delay(j, timeout, opt, 0.999) < 1s);
  CHECK(next_poll_delay(j, timeout, opt, 0.5) == 1s);  // attempt 1: up to 2 s
  CHECK(next_poll_delay(j, timeout, opt, 0.5) == 2s);
  CHECK(j.attempt == 3);
  // Not retryable: the regular interval, and the backoff starts over.
  CHECK(next_poll_delay(j, PollOutcome{FailureReason::auth, std::nullopt}, opt, 0.5) == 60s);
  CHECK(j.attempt == 0);
  CHECK(next_poll_delay(j, PollOutcome{FailureReason::not_found, std::nullopt}, opt, 0.5) == 60s);
  CHECK(next_poll_delay(j, PollOutcome{}, opt, 0.5) == 60s);
}

TEST_CASE("a server-requested wait is honoured, capped by the interval and the cap") {
  TrackedJob j;
  j.interval = 10min;
  ScheduleOptions opt{.jitter = 0, .max_server_wait = 5min};
  PollOutcome throttled{FailureReason::throttled, 2s};
  CHECK(next_poll_delay(j, throttled, opt, 0.0) == 2s);
  CHECK(next_poll_delay(j, PollOutcome{FailureReason::throttled, 24h}, opt, 0.0) == 5min);
  j.interval = 30s;
  CHECK(next_poll_delay(j, PollOutcome{FailureReason::throttled, 24h}, opt, 0.0) == 30s);
  CHECK(next_poll_delay(j, PollOutcome{FailureReason::throttled, Millis{INT64_MAX}}, opt, 0.0) ==
        30s);
  CHECK(next_poll_delay(j, PollOutcome{FailureReason::throttled, -5s}, opt, 0.0) == 0s);
}

TEST_CASE("thousands of simulated polls: no job starves, backoff never exceeds the interval") {
  std::mt19937_64 rng(42);
  std::uniform_real_distribution<double> u(0.0, 1.0);
  ScheduleOptions opt{.jitter = 0.1};
  const std::size_t n = 200;
  std::vector<TrackedJob> jobs(n);
  for (std::size_t i = 0; i < n; ++i)
    jobs[i].interval = Millis{1000 * static_cast<long long>(1 + i % 5)};
  const FailureReason reasons[] = {FailureReason::timeout,   FailureReason::server,
                                   FailureReason::throttled, FailureReason::network,
                                   FailureReason::not_found, FailureReason::decode};
  using Due = std::pair<Millis, std::size_t>;
  std::priority_queue<Due, std::vector<Due>, std::greater<>> queue;
  for (std::size_t i = 0; i < n; ++i)
    queue.push({first_poll_offset(i, n, jobs[i].interval), i});
  std::vector<Millis> last(n, Millis{-1});
  std::vector<std::size_t> polls(n, 0);
  const Millis horizon = 10min;
  std::size_t total = 0;
  while (!queue.empty() && queue.top().first < horizon) {
    auto [now, i] = queue.top();
    queue.pop();
    ++total;
    ++polls[i];
    // The first poll of each job comes within its first interval.
    if (last[i] < 0s) CHECK(now < jobs[i].interval);
    // No gap longer than the interval plus jitter.
    if (last[i] >= 0s) CHECK(now - last[i] <= jobs[i].interval * 1.1 + 1ms);
    last[i] = now;
    // Jobs fail often, in runs, with and without server-requested waits.
    PollOutcome o;
    if (u(rng) < 0.4) {
      o.failure = reasons[static_cast<std::size_t>(u(rng) * 6)];
      if (u(rng) < 0.3) o.retry_after = Millis{static_cast<long long>(u(rng) * 3'600'000)};
    }
    Millis d = next_poll_delay(jobs[i], o, opt, u(rng));
    CHECK(d >= 0s);
    if (o.failure && is_retryable(*o.failure)) CHECK(d <= jobs[i].interval);
    queue.push({now + d, i});
  }
  CHECK(total > 50'000);
  for (std::size_t i = 0; i < n; ++i)
    CHECK(polls[i] >= static_cast<std::size_t>(horizon / (jobs[i].interval * 1.1)) - 1);
}

TEST_CASE(
    "cadence by status: running at its interval, INIT slower, finished confirmed then never") {
  Fleet f;
  f.add(kKey, 60s);
  const Cadence c{5min, 0s};
  auto interval = [&] { return poll_interval(*f.find(kKey), c); };
  CHECK(interval() == 60s);  // not seen yet
  f.on_snapshot(kKey, snap(JobStatus::init, 0, 10), t0);
  CHECK(interval() == 5min);
  f.on_snapshot(kKey, snap(JobStatus::doing, 1, 10), t0 + 5min);
  CHECK(interval() == 60s);
  f.on_snapshot(kKey, snap(JobStatus::doing, 1, 10, true), t0 + 6min);
  CHECK(interval() == 60s);  // stopped: a user may resume it any time
  f.on_snapshot(kKey, snap(JobStatus::done, 10, 10), t0 + 7min);
  CHECK(interval() == 60s);  // seen DONE once: confirmed by the next poll
  f.on_snapshot(kKey, snap(JobStatus::done, 10, 10), t0 + 8min);
  CHECK(interval() == kNever);
  TrackedJob j = *f.find(kKey);
  CHECK(next_poll_delay(j, PollOutcome{}, ScheduleOptions{.cadence = c}, 0.5) == kNever);
  CHECK(poll_interval(j, Cadence{5min, 1h}) == 1h);
  // A confirmed FAILED job is still looked at (a retry turns it DOING) at the pending pace.
  Fleet g;
  g.add(kKey, 60s);
  g.on_snapshot(kKey, snap(JobStatus::failed, 3, 10), t0);
  g.on_snapshot(kKey, snap(JobStatus::failed, 3, 10), t0 + 1min);
  CHECK(poll_interval(*g.find(kKey), c) == 5min);
  g.on_snapshot(kKey, snap(JobStatus::doing, 3, 10), t0 + 6min);  // retried
  CHECK(poll_interval(*g.find(kKey), c) == 60s);
}

#include <doctest/doctest.h>

#include <vector>

#include "core/pacing.hpp"

using namespace mmsmon;
using namespace std::chrono_literals;

TEST_CASE("the governor lets requests through freely until the API throttles") {
  ThrottleGovernor g;
  SteadyTime t{};
  CHECK(g.reserve(t) == t);
  CHECK(g.reserve(t) == t);
  RateLimit rl;
  rl.remain = 0;
  rl.time_left = 2000ms;
  g.on_outcome(t, FailureReason::throttled, rl, std::nullopt);
  // Everyone waits for TimeLeft, then requests are spaced out.
  auto first = g.reserve(t + 10ms);
  CHECK(first == t + 2000ms);
  auto second = g.reserve(t + 10ms);
  CHECK(second == t + 2000ms + g.gap());
  CHECK(g.gap() > 0ms);
  // Throttles of requests already under way do not widen it again...
  auto gap1 = g.gap();
  g.on_outcome(t + 1ms, FailureReason::throttled, std::nullopt, std::nullopt);
  CHECK(g.gap() == gap1);
  // ...a later one does.
  g.on_outcome(t + 3s, FailureReason::throttled, std::nullopt, std::nullopt);
  CHECK(g.gap() == 2 * gap1);
  // Clean answers narrow it back to nothing.
  for (int i = 0; i < 100; ++i)
    g.on_outcome(t + 4s, std::nullopt, std::nullopt, std::nullopt);
  CHECK(g.gap() == 0ms);
  CHECK_FALSE(g.throttling(t + 10s));
}

TEST_CASE("an exhausted quota on a success also pauses") {
  ThrottleGovernor g;
  SteadyTime t{};
  RateLimit rl;
  rl.remain = 0;
  rl.time_left = 500ms;
  g.on_outcome(t, std::nullopt, rl, std::nullopt);
  CHECK(g.reserve(t) == t + 500ms);
}

TEST_CASE("other failures do not slow anything") {
  ThrottleGovernor g;
  SteadyTime t{};
  g.on_outcome(t, FailureReason::server, std::nullopt, std::nullopt);
  CHECK(g.reserve(t) == t);
}

TEST_CASE("a server-requested pause is capped: one answer never freezes the fleet") {
  ThrottleGovernor::Options o;
  o.max_pause = std::chrono::minutes(5);
  ThrottleGovernor g(o);
  SteadyTime t{};
  t += std::chrono::hours(1000);
  RateLimit day;
  day.remain = 0;
  day.time_left = std::chrono::milliseconds(86'400'000);
  g.on_outcome(t, FailureReason::throttled, day, std::nullopt);
  CHECK(g.reserve(t) == t + std::chrono::minutes(5));
  RateLimit forever;
  forever.remain = 0;
  forever.time_left = std::chrono::milliseconds(INT64_MAX);  // no overflow (UBSan checks)
  ThrottleGovernor h(o);
  h.on_outcome(t, FailureReason::throttled, forever, std::nullopt);
  CHECK(h.reserve(t) <= t + std::chrono::minutes(5) + h.gap());
  ThrottleGovernor k(o);
  k.on_outcome(t, FailureReason::throttled, std::nullopt, std::chrono::milliseconds(-5));
  CHECK(k.reserve(t) == t);  // a negative wait is no wait
}

TEST_CASE("the request budget: a burst, then the rate, never more in any second") {
  ThrottleGovernor g;
  g.set_budget(RequestBudget{5, 5});
  const SteadyTime start{std::chrono::hours(1)};
  std::vector<SteadyTime> starts;
  for (int i = 0; i < 100; ++i)  // 100 requests asked for at once
    starts.push_back(g.reserve(start));
  for (int i = 0; i < 5; ++i)
    CHECK(starts[i] == start);  // the burst
  CHECK(starts[5] - start == std::chrono::milliseconds(200));
  // In any window of one second, at most the burst plus a second's rate (a token bucket's
  // bound); once the burst is spent, at most the rate (+1 at the window's edge).
  for (std::size_t i = 0; i < starts.size(); ++i) {
    std::size_t in = 0;
    for (auto t : starts)
      in += t >= starts[i] && t < starts[i] + std::chrono::seconds(1);
    CHECK(in <= 10);
    if (i >= 10) CHECK(in <= 6);
  }
  CHECK(starts.back() - start == std::chrono::milliseconds(200 * 95));
  CHECK_FALSE(g.throttling(start));  // a client-side budget is not the API throttling us
}

TEST_CASE("the request budget: requests that yield get only what the urgent ones leave") {
  ThrottleGovernor g;
  g.set_budget(RequestBudget{10, 10});
  SteadyTime now{std::chrono::hours(1)};
  CHECK(g.try_take_budget(now));  // idle: free to go
  CHECK(g.reserve(now) == now);   // (its token was taken already)
  // Urgent demand books the budget a second ahead: the yielding ones wait.
  for (int i = 0; i < 20; ++i)
    g.reserve(now);
  CHECK_FALSE(g.try_take_budget(now));
  auto retry = g.budget_retry(now);
  CHECK(retry >= std::chrono::milliseconds(100));
  CHECK_FALSE(g.try_take_budget(now + std::chrono::milliseconds(500)));
  // Once the urgent ones are served, and half the burst is free again, they go.
  CHECK(g.try_take_budget(now + std::chrono::seconds(3)));
  ThrottleGovernor none;  // no budget: everything goes
  for (int i = 0; i < 1000; ++i)
    CHECK(none.try_take_budget(now));
}

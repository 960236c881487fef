#include <doctest/doctest.h>

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

// Throughput and projected completion from progress histories, and JobEtaAtRisk.
#include <doctest/doctest.h>

#include <cmath>

#include "core/fleet.hpp"
#include "core/throughput.hpp"
#include "job_fixtures.hpp"

using namespace mmsmon;
using namespace mmsmon::test;
using namespace std::chrono_literals;

namespace {

struct Obs {
  int minute;
  std::int64_t done;
  std::int64_t num = 1000;
  JobStatus status = JobStatus::doing;
  bool stopped = false;
};

/// `from`..`to` minutes, taskDone = start + per_minute * (m - from).
std::vector<Obs> steady(int from, int to, std::int64_t start, std::int64_t per_minute,
                        std::int64_t num = 1000) {
  std::vector<Obs> v;
  for (int m = from; m <= to; ++m)
    v.push_back({m, start + per_minute * (m - from), num});
  return v;
}

std::vector<Obs> operator+(std::vector<Obs> a, const std::vector<Obs>& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

struct Row {
  const char* name;
  std::vector<Obs> history;
  std::optional<double> per_minute;  ///< expected throughput, tasks per minute
  std::optional<int> done_at;        ///< expected projection, minutes after t0
};

}  // namespace

TEST_CASE("throughput and projection: a table of progress histories") {
  const ThroughputOptions o{1h};  // window 1h, at least 5 min observed
  std::vector<Obs> stopped_a_while = steady(0, 20, 0, 10);
  for (int m = 21; m <= 30; ++m)
    stopped_a_while.push_back({m, 200, 1000, JobStatus::doing, true});
  std::vector<Obs> burst;
  for (int m = 0; m <= 30; ++m)
    burst.push_back({m, m < 21 ? 0 : 200});
  std::vector<Obs> flat;
  for (int m = 0; m <= 70; ++m)
    flat.push_back({m, 5, 100});
  const std::vector<Row> rows{
      {"steady 10/min", steady(0, 30, 0, 10), 10.0, 100},
      {"less than window/12 observed: no estimate", steady(0, 4, 0, 10), std::nullopt,
       std::nullopt},
      {"one burst is spread over the observed time", burst, 200.0 / 30, 150},
      {"the window forgets the old pace",
       steady(0, 60, 0, 20, 3000) + steady(61, 120, 1205, 5, 3000), 5.0, 420},
      {"a stop starts over (only 3 min since the resume)",
       stopped_a_while + steady(31, 34, 200, 10), std::nullopt, std::nullopt},
      {"a stop starts over (5 min since the resume)", stopped_a_while + steady(31, 36, 200, 10),
       10.0, 111},
      {"an mmsmon restart is a longer step", steady(0, 10, 0, 10) + steady(40, 40, 400, 0), 10.0,
       100},
      {"a regression starts over", steady(0, 10, 0, 10) + steady(11, 14, 50, 10), std::nullopt,
       std::nullopt},
      {"a finished count projects to its last sample", steady(0, 10, 900, 10), 10.0, 10},
      {"no progress in the window: no projection", flat, 0.0, std::nullopt},
      {"not running: nothing",
       std::vector<Obs>{{0, 0, 10, JobStatus::init}, {10, 0, 10, JobStatus::init}}, std::nullopt,
       std::nullopt},
  };
  for (const auto& row : rows) {
    CAPTURE(row.name);
    std::vector<ProgressSample> samples;
    std::optional<Job> prev;
    for (const auto& x : row.history) {
      Job j = snap(x.status, x.done, x.num, x.stopped);
      record_progress(samples, prev ? &*prev : nullptr, j, t0 + std::chrono::minutes(x.minute), o);
      prev = j;
      CHECK(samples.size() <= 14);
    }
    auto rate = estimate_throughput(samples, o);
    REQUIRE(rate.has_value() == row.per_minute.has_value());
    if (rate) CHECK(*rate * 60 == doctest::Approx(*row.per_minute));
    auto at = project_completion(samples, row.history.back().num, rate);
    REQUIRE(at.has_value() == row.done_at.has_value());
    if (at) CHECK(std::chrono::abs(*at - (t0 + std::chrono::minutes(*row.done_at))) <= 1s);
  }
}

TEST_CASE("throughput: a long run keeps a bounded number of samples") {
  std::vector<ProgressSample> samples;
  std::optional<Job> prev;
  for (int s = 0; s < 48 * 3600; s += 7) {
    Job j = snap(JobStatus::doing, s / 7, 1'000'000);
    record_progress(samples, prev ? &*prev : nullptr, j, t0 + std::chrono::seconds(s), {});
    prev = j;
  }
  CHECK(samples.size() <= 14);
  CHECK(*estimate_throughput(samples, {}) == doctest::Approx(1.0 / 7).epsilon(0.01));
}

namespace {

/// A fleet with one job of 10,000 tasks whose eta is `eta`, polled every minute.
struct EtaFixture {
  Fleet f{AlertThresholds{.eta_margin = 1h}, ThroughputOptions{1h}};
  std::int64_t done = 0;
  int minute = 0;
  WallTime eta;
  explicit EtaFixture(WallTime e) : eta(e) { f.add(kKey, 60s); }
  std::vector<Alert> poll(std::int64_t per_minute, JobStatus s = JobStatus::doing,
                          bool stopped = false) {
    done += per_minute;
    Job j = snap(s, std::min<std::int64_t>(done, 10'000), 10'000, stopped);
    j.eta_raw = "2026-12-31";
    j.eta = eta;
    return f.on_snapshot(kKey, j, t0 + std::chrono::minutes(minute++)).alerts;
  }
  std::vector<Alert> run(int minutes, std::int64_t per_minute) {
    std::vector<Alert> out;
    for (int i = 0; i < minutes; ++i) {
      auto a = poll(per_minute);
      out.insert(out.end(), a.begin(), a.end());
    }
    return out;
  }
};

const Fact* fact(const Alert& a, std::string_view key) {
  for (const auto& f : a.facts)
    if (f.key == key) return &f;
  return nullptr;
}

}  // namespace

TEST_CASE(
    "JobEtaAtRisk: fires when the projection passes eta + margin, resolves when it recovers") {
  EtaFixture x(t0 + 10h);  // 10,000 tasks at 10/min: ~16.7 h, late by far more than the margin
  auto fired = x.run(7, 10);
  REQUIRE(alert_names(fired) == std::vector<std::string>{"JobEtaAtRisk:firing"});
  CHECK(fired[0].summary.find("is projected to finish at") != std::string::npos);
  CHECK(std::get<std::string>(fact(fired[0], "eta")->value) == "2026-12-31");
  CHECK(std::get<double>(fact(fired[0], "late_seconds")->value) > 3600);
  CHECK(std::get<double>(fact(fired[0], "throughput_tasks_per_hour")->value) ==
        doctest::Approx(600));
  CHECK(x.run(10, 10).empty());  // still late: said once
  // Much faster: the window's average rises until the projection is back within the margin.
  auto back = x.run(60, 100);
  REQUIRE(alert_names(back) == std::vector<std::string>{"JobEtaAtRisk:resolved"});
  CHECK(std::get<std::string>(fact(back[0], "reason")->value) == "recovered");
}

TEST_CASE("JobEtaAtRisk: within the margin it stays quiet, a stop or a finish resolves") {
  EtaFixture early(t0 + 20h);  // ~16.7 h: on time
  CHECK(early.run(30, 10).empty());
  EtaFixture x(t0 + 10h);
  REQUIRE(x.run(7, 10).size() == 1);
  auto stop = x.poll(0, JobStatus::doing, true);
  REQUIRE(alert_names(stop) ==
          std::vector<std::string>{"JobStopped:event", "JobEtaAtRisk:resolved"});
  CHECK(std::get<std::string>(fact(stop[1], "reason")->value) == "stopped");
  EtaFixture y(t0 + 10h);
  REQUIRE(y.run(7, 10).size() == 1);
  auto done = y.poll(10'000, JobStatus::done);
  REQUIRE(alert_names(done) ==
          std::vector<std::string>{"JobSucceeded:event", "JobEtaAtRisk:resolved"});
  CHECK(std::get<std::string>(fact(done.back(), "reason")->value) == "finished");
}

TEST_CASE("JobEtaAtRisk: an eta already past fires once, no eta or no estimate says nothing") {
  EtaFixture past(t0 - 48h);
  auto a = past.run(7, 10);
  REQUIRE(alert_names(a) == std::vector<std::string>{"JobEtaAtRisk:firing"});
  CHECK(past.run(20, 10).empty());
  Fleet f{AlertThresholds{.eta_margin = 1h}, ThroughputOptions{1h}};
  f.add(kKey, 60s);
  for (int m = 0; m < 30; ++m)  // no eta
    CHECK(f.on_snapshot(kKey, snap(JobStatus::doing, m, 10'000), t0 + std::chrono::minutes(m))
              .alerts.empty());
  EtaFixture stuck(t0 + 1h);  // no progress at all: JobStalled's business, not a projection
  CHECK(stuck.run(30, 0).empty());
}

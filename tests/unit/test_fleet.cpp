// The fleet: the table of tracked jobs, driven step by step with a fixed clock.
#include <doctest/doctest.h>

#include "core/fleet.hpp"
#include "job_fixtures.hpp"

using namespace mmsmon;
using namespace mmsmon::test;
using namespace std::chrono_literals;

namespace {

const JobKey kOther{SourceId{2}, JobId{11}};

}  // namespace

TEST_CASE("fleet: a snapshot takes one path to events and alerts") {
  Fleet f(AlertThresholds{60s, 10s});
  CHECK(f.add(kKey, 30s));
  CHECK_FALSE(f.add(kKey, 45s));  // already tracked: keeps its state, takes the interval
  CHECK(f.size() == 1);
  CHECK(f.find(kKey)->interval == 45s);
  CHECK(f.not_polled() == 1);

  auto first = f.on_snapshot(kKey, snap(JobStatus::init, 0, 10), t0);
  CHECK(first.events.empty());  // the baseline
  CHECK(first.alerts.empty());
  CHECK(f.not_polled() == 0);

  auto started = f.on_snapshot(kKey, snap(JobStatus::doing, 2, 10), t0 + 1s);
  REQUIRE(started.events.size() == 2);  // a transition and progress
  CHECK(alert_names(started.alerts) == std::vector<std::string>{"JobStarted:event"});
  CHECK(f.find(kKey)->state.last->task_done == 2);
  CHECK(f.find(kKey)->state.transitions[1] == 1);
}

TEST_CASE("fleet: failures fire once, resolve once") {
  Fleet f(AlertThresholds{60s, 10s});
  f.add(kKey, 30s);
  f.on_snapshot(kKey, snap(JobStatus::doing, 1, 10), t0);
  CHECK(f.on_failure(kKey, api_error(FailureReason::timeout), t0 + 1s).alerts.empty());
  CHECK(alert_names(f.on_failure(kKey, api_error(FailureReason::timeout), t0 + 61s).alerts) ==
        std::vector<std::string>{"JobUnreachable:firing"});
  CHECK(f.on_failure(kKey, api_error(FailureReason::timeout), t0 + 90s).alerts.empty());
  CHECK(f.firing_for(kKey) == std::vector<AlertName>{AlertName::job_unreachable});
  CHECK(f.firing_count() == 1);
  CHECK(alert_names(f.on_snapshot(kKey, snap(JobStatus::doing, 2, 10), t0 + 100s).alerts) ==
        std::vector<std::string>{"JobUnreachable:resolved"});
  CHECK(f.firing_count() == 0);
}

TEST_CASE("fleet: a removed job's firing alerts resolve as untracked and its state is gone") {
  Fleet f;
  f.add(kKey, 30s);
  f.add(kOther, 30s);
  f.on_failure(kKey, api_error(FailureReason::not_found, 404), t0);
  f.on_snapshot(kOther, snap(JobStatus::doing, 1, 10), t0);
  REQUIRE(f.firing_for(kKey).size() == 1);

  auto resolved = f.retain({kOther}, t0 + 5s);
  REQUIRE(resolved.size() == 1);
  CHECK(resolved[0].name == AlertName::job_not_found);
  CHECK(resolved[0].state == AlertState::resolved);
  CHECK(resolved[0].job == kKey);
  bool untracked = false;
  for (const auto& fact : resolved[0].facts)
    untracked |= fact.key == "reason" && std::get<std::string>(fact.value) == "untracked";
  CHECK(untracked);
  CHECK(f.find(kKey) == nullptr);
  CHECK(f.size() == 1);
  CHECK(f.states().size() == 1);
  CHECK(f.firing_count() == 0);
  // A late result for the removed job changes nothing.
  auto late = f.on_snapshot(kKey, snap(JobStatus::failed, 1, 10), t0 + 6s);
  CHECK(late.alerts.empty());
  CHECK(f.find(kKey) == nullptr);
  CHECK(f.remove(kKey, t0 + 7s).empty());
}

TEST_CASE("fleet: state turns into a plain value and back, and says nothing again") {
  Fleet f(AlertThresholds{60s, 10s});
  f.add(kKey, 30s);
  f.add(kOther, 90s);
  f.on_snapshot(kKey, snap(JobStatus::doing, 3, 10), t0);
  f.on_failure(kOther, api_error(FailureReason::not_found, 404), t0 + 1s);
  FleetState saved = f.save();
  REQUIRE(saved.jobs.size() == 2);
  REQUIRE(saved.firing.size() == 1);
  CHECK(saved.firing[0].since == t0 + 1s);

  Fleet g(AlertThresholds{60s, 10s});
  g.restore(saved);
  CHECK(g.size() == 2);
  CHECK(g.find(kOther)->interval == 90s);
  CHECK(g.find(kKey)->state.last->task_done == 3);
  // Still failing: JobNotFound is firing already, nothing is said again.
  CHECK(g.on_failure(kOther, api_error(FailureReason::not_found, 404), t0 + 2s).alerts.empty());
  // The same snapshot again: no event, no alert.
  CHECK(g.on_snapshot(kKey, snap(JobStatus::doing, 3, 10), t0 + 3s).alerts.empty());
  CHECK(g.save().firing == saved.firing);
}

TEST_CASE("fleet: JobStalled after stall_after without progress, per job, resolved by progress") {
  using namespace std::chrono_literals;
  Fleet f(AlertThresholds{5min, 1min, 30min});
  const JobKey other{SourceId{2}, JobId{11}};
  f.add(kKey, 60s);
  f.add(other, 60s, 10min);  // its own threshold
  f.on_snapshot(kKey, snap(JobStatus::doing, 5, 10), t0);
  f.on_snapshot(other, snap(JobStatus::doing, 5, 10), t0);
  // 20 min without progress: only the job with the 10 min threshold is stalled.
  auto a = f.on_snapshot(kKey, snap(JobStatus::doing, 5, 10), t0 + 20min).alerts;
  CHECK(a.empty());
  auto b = f.on_snapshot(other, snap(JobStatus::doing, 5, 10), t0 + 20min).alerts;
  REQUIRE(b.size() == 1);
  CHECK(b[0].name == AlertName::job_stalled);
  CHECK(b[0].state == AlertState::firing);
  CHECK(b[0].summary.find("no progress for 20m") != std::string::npos);
  CHECK(f.on_snapshot(other, snap(JobStatus::doing, 5, 10), t0 + 21min).alerts.empty());  // once
  auto c = f.on_snapshot(kKey, snap(JobStatus::doing, 5, 10), t0 + 30min).alerts;
  REQUIRE(c.size() == 1);
  CHECK(c[0].name == AlertName::job_stalled);
  // Progress resolves it; a stop resolves it too, and a stopped job never stalls.
  auto d = f.on_snapshot(other, snap(JobStatus::doing, 6, 10), t0 + 22min).alerts;
  REQUIRE(d.size() == 1);
  CHECK(d[0].state == AlertState::resolved);
  auto e = f.on_snapshot(kKey, snap(JobStatus::doing, 5, 10, true), t0 + 31min).alerts;
  bool resolved = false;
  for (const auto& x : e)
    resolved = resolved || (x.name == AlertName::job_stalled && x.state == AlertState::resolved);
  CHECK(resolved);
  for (const auto& x : f.on_snapshot(kKey, snap(JobStatus::doing, 5, 10, true), t0 + 90min).alerts)
    CHECK(x.name != AlertName::job_stalled);
  // A finished job is not stalled; one stalled when it finished resolves.
  f.on_snapshot(other, snap(JobStatus::doing, 7, 10), t0 + 40min);
  for (const auto& x : f.on_snapshot(other, snap(JobStatus::done, 7, 10), t0 + 60min).alerts)
    CHECK(x.name != AlertName::job_stalled);
  const JobKey third{SourceId{2}, JobId{12}};
  f.add(third, 60s, 10min);
  f.on_snapshot(third, snap(JobStatus::doing, 1, 10), t0);
  REQUIRE(f.on_snapshot(third, snap(JobStatus::doing, 1, 10), t0 + 11min).alerts.size() == 1);
  auto done = f.on_snapshot(third, snap(JobStatus::failed, 1, 10), t0 + 12min).alerts;
  bool over = false;
  for (const auto& x : done)
    over = over || (x.name == AlertName::job_stalled && x.state == AlertState::resolved);
  CHECK(over);
}

TEST_CASE("fleet: a restart does not reset the stall clock") {
  using namespace std::chrono_literals;
  Fleet before(AlertThresholds{5min, 1min, 30min});
  before.add(kKey, 60s);
  before.on_snapshot(kKey, snap(JobStatus::doing, 5, 10), t0);
  before.on_snapshot(kKey, snap(JobStatus::doing, 5, 10), t0 + 20min);
  Fleet after(AlertThresholds{5min, 1min, 30min});
  after.restore(before.save());
  after.add(kKey, 60s);
  // 25 min after the last progress seen before the restart: not yet; at 31 min: stalled.
  CHECK(after.on_snapshot(kKey, snap(JobStatus::doing, 5, 10), t0 + 25min).alerts.empty());
  auto a = after.on_snapshot(kKey, snap(JobStatus::doing, 5, 10), t0 + 31min).alerts;
  REQUIRE(a.size() == 1);
  CHECK(a[0].name == AlertName::job_stalled);
}

TEST_CASE(
    "fleet: a snapshot older than the last one folded is dropped, unless the clock went far back") {
  Fleet f;
  f.add(kKey, 60s);
  f.on_snapshot(kKey, snap(JobStatus::doing, 5, 10), t0);
  f.on_snapshot(kKey, snap(JobStatus::done, 10, 10), t0 + 10s);
  // A page read at t0 + 5 s that says DOING arrives after the poll that said DONE.
  auto stale = f.on_snapshot(kKey, snap(JobStatus::doing, 6, 10), t0 + 5s);
  CHECK(stale.alerts.empty());
  CHECK(f.find(kKey)->state.last->status == JobStatus::done);
  // The wall clock set back an hour: snapshots are taken again.
  f.on_snapshot(kKey, snap(JobStatus::done, 10, 10), t0 - 1h);
  CHECK(f.find(kKey)->state.last_success == t0 - 1h);
}

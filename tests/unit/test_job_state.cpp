#include <doctest/doctest.h>

#include "core/job_state.hpp"
#include "job_fixtures.hpp"

using namespace mmsmon;
using namespace mmsmon::test;
using namespace std::chrono_literals;

namespace {

std::vector<JobEventKind> kinds(const std::vector<JobEvent>& ev) {
  std::vector<JobEventKind> k;
  for (const auto& e : ev)
    k.push_back(e.kind);
  return k;
}

struct Fixture {
  JobState st;
  Fixture() { st.key = kKey; }
  std::vector<JobEvent> see(Job j, WallTime t) { return observe_snapshot(st, std::move(j), t); }
};

}  // namespace

TEST_CASE("the first snapshot is a baseline without events") {
  Fixture f;
  CHECK(f.see(snap(JobStatus::doing, 5, 10), t0).empty());
  CHECK(f.st.up);
  CHECK(f.st.polled);
  CHECK(f.st.last_progress == t0);
  CHECK(f.st.last_success == t0);
}

TEST_CASE("INIT -> DOING -> DONE") {
  Fixture f;
  f.see(snap(JobStatus::init, 0, 10), t0);
  auto e1 = f.see(snap(JobStatus::doing, 0, 10), t0 + 1s);
  REQUIRE(e1.size() == 1);
  CHECK(e1[0].kind == JobEventKind::transition);
  CHECK(e1[0].from == JobStatus::init);
  CHECK(e1[0].to == JobStatus::doing);
  auto e2 = f.see(snap(JobStatus::done, 10, 10), t0 + 2s);
  CHECK(kinds(e2) == std::vector{JobEventKind::transition, JobEventKind::progressed});
  CHECK(e2[0].to == JobStatus::done);
  CHECK(f.st.transitions == std::array<std::uint64_t, 4>{0, 1, 1, 0});
  CHECK(f.st.last_progress == t0 + 2s);
}

TEST_CASE("DOING -> FAILED, then FAILED -> DOING after a retry") {
  Fixture f;
  f.see(snap(JobStatus::doing, 4, 10), t0);
  auto e1 = f.see(snap(JobStatus::failed, 4, 10), t0 + 1s);
  REQUIRE(e1.size() == 1);
  CHECK(e1[0].to == JobStatus::failed);
  auto e2 = f.see(snap(JobStatus::doing, 4, 10), t0 + 2s);
  REQUIRE(e2.size() == 1);
  CHECK(e2[0].from == JobStatus::failed);
  CHECK(e2[0].to == JobStatus::doing);
  CHECK(f.st.transitions[1] == 1);
  CHECK(f.st.transitions[3] == 1);
}

TEST_CASE("DONE with taskDone < taskNum is still a transition to DONE") {
  Fixture f;
  f.see(snap(JobStatus::doing, 7, 10), t0);
  auto e = f.see(snap(JobStatus::done, 8, 10), t0 + 1s);
  CHECK(kinds(e) == std::vector{JobEventKind::transition, JobEventKind::progressed});
  CHECK(e[0].task_done == 8);
}

TEST_CASE("stopped and resumed, also while DONE") {
  Fixture f;
  f.see(snap(JobStatus::doing, 3, 10), t0);
  auto e1 = f.see(snap(JobStatus::doing, 3, 10, true), t0 + 1s);
  CHECK(kinds(e1) == std::vector{JobEventKind::stopped});
  auto e2 = f.see(snap(JobStatus::doing, 3, 10, false), t0 + 2s);
  CHECK(kinds(e2) == std::vector{JobEventKind::resumed});
  f.see(snap(JobStatus::done, 10, 10), t0 + 3s);
  auto e3 = f.see(snap(JobStatus::done, 10, 10, true), t0 + 4s);
  CHECK(kinds(e3) == std::vector{JobEventKind::stopped});
}

TEST_CASE("regressions: taskDone fell, taskNum changed") {
  Fixture f;
  f.see(snap(JobStatus::doing, 6, 10), t0);
  auto e1 = f.see(snap(JobStatus::doing, 2, 10), t0 + 1s);
  CHECK(kinds(e1) == std::vector{JobEventKind::regressed});
  CHECK(e1[0].prev_task_done == 6);
  CHECK(e1[0].task_done == 2);
  auto e2 = f.see(snap(JobStatus::doing, 3, 12), t0 + 2s);
  CHECK(kinds(e2) == std::vector{JobEventKind::regressed, JobEventKind::progressed});
  CHECK(e2[0].prev_task_num == 10);
  CHECK(f.st.last_progress == t0 + 2s);
}

TEST_CASE("no progress keeps last_progress") {
  Fixture f;
  f.see(snap(JobStatus::doing, 6, 10), t0);
  CHECK(f.see(snap(JobStatus::doing, 6, 10), t0 + 5s).empty());
  CHECK(f.st.last_progress == t0);
}

TEST_CASE("taskNum 0 and absent fields make no events") {
  Fixture f;
  f.see(snap(JobStatus::init, 0, 0), t0);
  CHECK(f.see(snap(JobStatus::init, 0, 0), t0 + 1s).empty());
  Job bare;
  bare.key = kKey;
  CHECK(f.see(bare, t0 + 2s).empty());  // nothing known: nothing changed
}

TEST_CASE("unknown statuses: a change of the raw text is a transition, not counted") {
  Fixture f;
  Job a = snap(JobStatus::doing, 1, 10);
  f.see(a, t0);
  Job b = a;
  b.status = JobStatus::unknown;
  b.status_raw = "PAUSING";
  auto e = f.see(b, t0 + 1s);
  REQUIRE(e.size() == 1);
  CHECK(e[0].to == JobStatus::unknown);
  CHECK(f.st.transitions == std::array<std::uint64_t, 4>{});
}

TEST_CASE("failures: failing_since, counter, reset on success") {
  Fixture f;
  ApiError e;
  e.reason = FailureReason::timeout;
  observe_failure(f.st, e, t0);
  observe_failure(f.st, e, t0 + 10s);
  CHECK_FALSE(f.st.up);
  CHECK(f.st.polled);
  CHECK(f.st.failing_since == t0);
  CHECK(f.st.consecutive_failures == 2);
  f.see(snap(JobStatus::doing, 1, 10), t0 + 20s);
  CHECK(f.st.up);
  CHECK_FALSE(f.st.failing_since);
  CHECK(f.st.consecutive_failures == 0);
  CHECK(f.st.last_error->reason == FailureReason::timeout);  // kept for /api/v1/jobs
}

// Failed tasks of running jobs: log text cleaning, the latest error, JobTasksFailed.
#include <doctest/doctest.h>

#include "core/fleet.hpp"
#include "core/task_failures.hpp"
#include "job_fixtures.hpp"

using namespace mmsmon;
using namespace mmsmon::test;
using namespace std::chrono_literals;

TEST_CASE("task log text: control characters, length and broken UTF-8") {
  CHECK(clean_log_text("  ODPS-0130071: \n\tSemantic  analysis\r\nexception  ") ==
        "ODPS-0130071: Semantic analysis exception");
  CHECK(clean_log_text("a\x1b[31mred\x7f") == "a [31mred");
  CHECK(clean_log_text("\xff\xfe ok \xc3") == "?? ok ?");
  CHECK(clean_log_text("x\xc2\x85y") == "x y");  // NEL, a C1 control
  std::string cjk;
  for (int i = 0; i < 200; ++i)
    cjk += "\xe8\xa1\xa8";  // 表, 3 bytes
  auto cut = clean_log_text(cjk, 100);
  CHECK(cut.size() == 99 + 3);  // 33 whole characters, then "..."
  CHECK(cut.ends_with("..."));
  CHECK(clean_log_text(std::string(1 << 20, 'a'), 400).size() == 403);
}

TEST_CASE("the latest error of a task log is the last failed line's message") {
  std::vector<TaskLog> log{{1, 5, "INIT", "create", "task created", {}},
                           {2, 5, "DATA_FAILED", "run", "quota exhausted", {}},
                           {3, 5, "DATA_DOING", "retry", "retrying", {}},
                           {4, 5, "DATA_FAILED", "run", "table not found:\n  t1", {}},
                           {5, 5, "DATA_FAILED", "run", std::nullopt, {}}};
  CHECK(latest_error(log) == "table not found: t1");
  CHECK(latest_error({{1, 5, "INIT", "create", "task created", {}}}) == "task created");
  CHECK(latest_error({}).empty());
}

TEST_CASE("a failed task's phase comes from its status") {
  Task t;
  t.id = 7;
  t.src_db = "hive_db";
  t.src_table = "orders";
  t.dst_db = "mc_proj";
  t.dst_table = "orders";
  t.status = "VERIFICATION_FAILED";
  t.retried_times = 2;
  auto f = failed_task_info(t, TaskPhase::data);
  CHECK(f.phase == TaskPhase::verification);
  CHECK(f.source_table == "hive_db.orders");
  CHECK(f.destination_table == "mc_proj.orders");
  CHECK(f.retries == 2);
  t.status = "SOMETHING_NEW";  // undocumented: the phase asked for
  CHECK(failed_task_info(t, TaskPhase::schema).phase == TaskPhase::schema);
}

namespace {

TaskFailures failures(std::int64_t schema, std::int64_t data, std::int64_t verification,
                      WallTime at) {
  TaskFailures t;
  t.failed = {schema, data, verification};
  t.checked = at;
  for (std::int64_t i = 0; i < std::min<std::int64_t>(data, 3); ++i)
    t.first.push_back({100 + i, TaskPhase::data, "db.t" + std::to_string(i),
                       "proj.t" + std::to_string(i), 1, "quota exhausted"});
  return t;
}

const Fact* fact(const Alert& a, std::string_view key) {
  for (const auto& f : a.facts)
    if (f.key == key) return &f;
  return nullptr;
}

struct TasksFixture {
  Fleet f;
  TasksFixture() {
    f.add(kKey, 60s);
    f.on_snapshot(kKey, snap(JobStatus::doing, 5, 100), t0);
  }
};

}  // namespace

TEST_CASE("JobTasksFailed: fires naming the first tasks, updates once when more fail, resolves") {
  TasksFixture x;
  CHECK(x.f.on_tasks(kKey, failures(0, 0, 0, t0 + 1s)).empty());
  auto a = x.f.on_tasks(kKey, failures(0, 2, 0, t0 + 2min));
  REQUIRE(alert_names(a) == std::vector<std::string>{"JobTasksFailed:firing"});
  CHECK(a[0].summary ==
        "Job migrate_sales (2/10) is still running with 2 failed tasks (data 2): db.t0 - quota "
        "exhausted; db.t1 - quota exhausted.");
  CHECK(std::get<std::int64_t>(fact(a[0], "failed_tasks")->value) == 2);
  CHECK(std::get<std::int64_t>(fact(a[0], "failed_data")->value) == 2);
  CHECK(std::get<std::string>(fact(a[0], "task1_destination")->value) == "proj.t0");
  CHECK(std::get<std::int64_t>(fact(a[0], "task1_retries")->value) == 1);
  CHECK(x.f.on_tasks(kKey, failures(0, 2, 0, t0 + 4min)).empty());  // the same: nothing
  // Ten more fail between two checks: one update, not ten.
  auto u = x.f.on_tasks(kKey, failures(3, 9, 0, t0 + 6min));
  REQUIRE(alert_names(u) == std::vector<std::string>{"JobTasksFailed:firing"});
  CHECK(std::get<bool>(fact(u[0], "update")->value));
  CHECK(std::get<std::int64_t>(fact(u[0], "previously_failed")->value) == 2);
  CHECK(std::get<std::int64_t>(fact(u[0], "failed_tasks")->value) == 12);
  CHECK(u[0].summary.find("12 failed tasks (schema 3, data 9)") != std::string::npos);
  CHECK(u[0].summary.ends_with("; and 9 more."));
  CHECK(x.f.on_tasks(kKey, failures(3, 8, 0, t0 + 8min)).empty());  // fewer: still firing
  // Retried successfully: none left.
  auto r = x.f.on_tasks(kKey, failures(0, 0, 0, t0 + 10min));
  REQUIRE(alert_names(r) == std::vector<std::string>{"JobTasksFailed:resolved"});
  CHECK(std::get<std::string>(fact(r[0], "reason")->value) == "no_failed_tasks");
  CHECK(std::get<double>(fact(r[0], "firing_seconds")->value) == 480);
}

TEST_CASE("JobTasksFailed: the job leaving DOING resolves it and drops the counts") {
  TasksFixture x;
  REQUIRE(x.f.on_tasks(kKey, failures(0, 1, 0, t0 + 1min)).size() == 1);
  auto ch = x.f.on_snapshot(kKey, snap(JobStatus::failed, 5, 100), t0 + 2min);
  REQUIRE(alert_names(ch.alerts) ==
          std::vector<std::string>{"JobFailed:event", "JobTasksFailed:resolved"});
  CHECK(std::get<std::string>(fact(ch.alerts[1], "reason")->value) == "not_running");
  CHECK_FALSE(x.f.find(kKey)->state.tasks);
  // A late check result for a job no longer running changes nothing.
  CHECK(x.f.on_tasks(kKey, failures(0, 1, 0, t0 + 3min)).empty());
  CHECK_FALSE(x.f.find(kKey)->state.tasks);
}

TEST_CASE("JobTasksFailed: a restart neither repeats nor updates for the same failures") {
  TasksFixture x;
  REQUIRE(x.f.on_tasks(kKey, failures(0, 2, 0, t0 + 1min)).size() == 1);
  Fleet g;
  g.restore(x.f.save());
  g.on_snapshot(kKey, snap(JobStatus::doing, 5, 100), t0 + 1h);
  CHECK(g.on_tasks(kKey, failures(0, 2, 0, t0 + 1h)).empty());
  CHECK(alert_names(g.on_tasks(kKey, failures(0, 3, 0, t0 + 1h + 2min))) ==
        std::vector<std::string>{"JobTasksFailed:firing"});
}

namespace {

/// `n` failed tasks of job `job` (ids from `first_id`), or of no job when `job` is 0.
std::vector<Task> failed_tasks(std::int64_t job, std::int64_t n, std::int64_t first_id,
                               const char* status = "DATA_FAILED") {
  std::vector<Task> out;
  for (std::int64_t i = 0; i < n; ++i) {
    Task t;
    t.id = first_id + i;
    if (job) t.job_id = job;
    t.src_db = "db";
    t.src_table = "t" + std::to_string(first_id + i);
    t.status = status;
    out.push_back(t);
  }
  return out;
}

std::vector<Task> concat(std::vector<Task> a, const std::vector<Task>& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

}  // namespace

TEST_CASE("a sweep of a data source's failed tasks pays from two running jobs on") {
  CHECK_FALSE(sweep_pays(0, 3));
  CHECK_FALSE(sweep_pays(1, 3));  // one job: three requests either way
  CHECK(sweep_pays(2, 3));
  CHECK(sweep_pays(2, 5));
  CHECK_FALSE(sweep_pays(2, 6));  // a backlog of old failures makes it dearer than 3 a job
  CHECK(sweep_pays(100, 52));
}

TEST_CASE("a sweep pages through each failed status and gives each job what is its") {
  FailedTaskSweep s({JobId{1}, JobId{2}, JobId{3}});
  using Step = std::pair<TaskPhase, std::int64_t>;
  REQUIRE(s.next() == Step{TaskPhase::schema, 1});
  s.add(0, {});
  REQUIRE(s.next() == Step{TaskPhase::data, 1});
  // Job 9 is not asked about (finished or not tracked): its tasks count toward the total.
  s.add(150, concat(failed_tasks(1, 60, 1000), failed_tasks(9, 40, 2000)));
  REQUIRE(s.next() == Step{TaskPhase::data, 2});
  s.add(150, failed_tasks(2, 50, 3000));
  REQUIRE(s.next() == Step{TaskPhase::verification, 1});
  s.add(1, failed_tasks(1, 1, 4000, "VERIFICATION_FAILED"));
  CHECK_FALSE(s.next());
  REQUIRE(s.complete());
  CHECK(s.pages_needed() == 4);
  auto r = s.result();
  REQUIRE(r.size() == 3);
  CHECK(r[JobId{1}].failed == std::array<std::int64_t, 3>{0, 60, 1});
  REQUIRE(r[JobId{1}].first.size() == kTasksNamed);
  CHECK(r[JobId{1}].first[0].id == 1000);
  CHECK(r[JobId{1}].first[0].phase == TaskPhase::data);
  CHECK(r[JobId{1}].first[0].source_table == "db.t1000");
  CHECK(r[JobId{2}].failed == std::array<std::int64_t, 3>{0, 50, 0});
  CHECK(r[JobId{3}].total() == 0);
  CHECK(r[JobId{3}].first.empty());
}

TEST_CASE("a sweep that cannot be sure of every job's count says nothing") {
  SUBCASE("an item without a job id") {
    FailedTaskSweep s({JobId{1}, JobId{2}});
    s.add(0, {});
    s.add(3, concat(failed_tasks(1, 2, 1), failed_tasks(0, 1, 5)));
    CHECK_FALSE(s.next());
    CHECK_FALSE(s.complete());
    CHECK(s.result().empty());
  }
  SUBCASE("total changes between pages") {
    FailedTaskSweep s({JobId{1}, JobId{2}});
    s.add(0, {});
    s.add(150, failed_tasks(1, 100, 1));
    s.add(151, failed_tasks(2, 51, 200));
    CHECK_FALSE(s.complete());
  }
  SUBCASE("an empty page before total is reached, after a repeated item") {
    FailedTaskSweep s({JobId{1}, JobId{2}});
    s.add(0, {});
    s.add(101, failed_tasks(1, 100, 1));
    s.add(101, failed_tasks(1, 1, 100));  // the last item of page 1 again: the pages shifted
    REQUIRE(s.next());
    s.add(101, {});
    CHECK_FALSE(s.complete());
  }
  SUBCASE("more pages than kMaxPages: the cost is known for the next choice") {
    FailedTaskSweep s({JobId{1}, JobId{2}});
    s.add(0, {});
    std::int64_t requests = 1;
    for (std::int64_t page = 1; s.next(); ++page, ++requests)
      s.add(5000, failed_tasks(1, FailedTaskSweep::kPageSize, page * 1000));
    CHECK(requests == 1 + FailedTaskSweep::kMaxPages);
    CHECK_FALSE(s.complete());
    CHECK(s.pages_needed() == 1 + 50 + 1);
    CHECK_FALSE(sweep_pays(2, s.pages_needed()));
  }
}

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

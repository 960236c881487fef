#include <doctest/doctest.h>

#include "obs/metrics.hpp"

using namespace mmsmon;
using namespace std::chrono_literals;

namespace {

JobState state(std::int64_t job) {
  JobState s;
  s.key = JobKey{SourceId{2}, JobId{job}};
  return s;
}

std::size_t count(const std::string& text, const std::string& what) {
  std::size_t n = 0;
  for (auto p = text.find(what); p != std::string::npos; p = text.find(what, p + 1))
    ++n;
  return n;
}

bool has(const std::string& text, const std::string& line) {
  return text.find(line + "\n") != std::string::npos;
}

}  // namespace

TEST_CASE("per-job families: values given, absent when not given") {
  JobState a = state(10);
  Job j;
  j.key = a.key;
  j.name = "sales \"q4\"";
  j.status = JobStatus::doing;
  j.task_num = 200;
  j.task_done = 50;
  j.stopped = false;
  observe_snapshot(a, j, WallTime{} + 1700000000s);
  JobState b = state(11);  // never polled successfully
  ApiError e;
  e.reason = FailureReason::timeout;
  observe_failure(b, e, WallTime{} + 1700000000s);
  JobState c = state(12);  // taskNum 0
  Job k;
  k.key = c.key;
  k.task_num = 0;
  k.task_done = 0;
  observe_snapshot(c, k, WallTime{} + 1700000000s);

  std::string out;
  render_job_metrics(out, {&a, &b, &c});
  CHECK(has(out,
            "mms_job_info{source_id=\"2\",job_id=\"10\",name=\"sales \\\"q4\\\"\",source_name=\"\","
            "type=\"\",src_db=\"\",src_schema=\"\",dst_project=\"\",dst_schema=\"\"} 1"));
  CHECK(has(out, "mms_job_status{source_id=\"2\",job_id=\"10\",status=\"DOING\"} 1"));
  CHECK(has(out, "mms_job_status{source_id=\"2\",job_id=\"10\",status=\"INIT\"} 0"));
  CHECK(has(out, "mms_job_tasks{source_id=\"2\",job_id=\"10\"} 200"));
  CHECK(has(out, "mms_job_tasks_done{source_id=\"2\",job_id=\"10\"} 50"));
  CHECK(has(out, "mms_job_progress_ratio{source_id=\"2\",job_id=\"10\"} 0.25"));
  CHECK(has(out, "mms_job_stopped{source_id=\"2\",job_id=\"10\"} 0"));
  CHECK(has(out, "mms_job_up{source_id=\"2\",job_id=\"10\"} 1"));
  CHECK(has(out, "mms_job_up{source_id=\"2\",job_id=\"11\"} 0"));
  // Why a job is down: one series for the last failure's reason, none for a job that is up.
  CHECK(has(out, "mms_job_poll_failure{source_id=\"2\",job_id=\"11\",reason=\"timeout\"} 1"));
  CHECK(out.find("mms_job_poll_failure{source_id=\"2\",job_id=\"10\"") == std::string::npos);
  CHECK(
      has(out, "mms_job_last_success_timestamp_seconds{source_id=\"2\",job_id=\"10\"} 1700000000"));
  CHECK(has(out, "mms_job_transitions_total{source_id=\"2\",job_id=\"10\",to=\"DONE\"} 0"));
  // Not given by the API: absent, never 0.
  CHECK(out.find("mms_job_eta_timestamp_seconds") == std::string::npos);
  CHECK(out.find("mms_job_tasks{source_id=\"2\",job_id=\"11\"}") == std::string::npos);
  CHECK(out.find("mms_job_progress_ratio{source_id=\"2\",job_id=\"12\"}") == std::string::npos);
  CHECK(out.find("mms_job_status{source_id=\"2\",job_id=\"12\"") == std::string::npos);
  // Each family has exactly one HELP and one TYPE line, before its samples.
  for (std::string family :
       {"mms_job_info", "mms_job_status", "mms_job_stopped", "mms_job_tasks", "mms_job_tasks_done",
        "mms_job_progress_ratio", "mms_job_last_progress_timestamp_seconds",
        "mms_job_transitions_total", "mms_job_up", "mms_job_poll_failure",
        "mms_job_last_success_timestamp_seconds"}) {
    CAPTURE(family);
    CHECK(count(out, "# HELP " + family + " ") == 1);
    CHECK(count(out, "# TYPE " + family + " ") == 1);
    CHECK(out.find("# TYPE " + family + " ") < out.find("\n" + family + "{"));
  }
  CHECK(has(out, "# TYPE mms_job_up gauge"));
  CHECK(has(out, "# TYPE mms_job_transitions_total counter"));
}

TEST_CASE("mms_job_poll_failure: the reason while the job is down, gone once a poll succeeds") {
  JobState a = state(10);
  ApiError e;
  e.reason = FailureReason::not_found;
  observe_failure(a, e, WallTime{} + 1700000000s);
  std::string down;
  render_job_metrics(down, {&a});
  CHECK(has(down, "mms_job_poll_failure{source_id=\"2\",job_id=\"10\",reason=\"not_found\"} 1"));
  e.reason = FailureReason::server;
  observe_failure(a, e, WallTime{} + 1700000010s);
  std::string other;
  render_job_metrics(other, {&a});
  CHECK(count(other, "mms_job_poll_failure{") == 1);
  CHECK(has(other, "mms_job_poll_failure{source_id=\"2\",job_id=\"10\",reason=\"server\"} 1"));
  Job j;
  j.key = a.key;
  observe_snapshot(a, j, WallTime{} + 1700000020s);
  std::string up;
  render_job_metrics(up, {&a});
  CHECK(up.find("mms_job_poll_failure") == std::string::npos);
}

TEST_CASE("a job no longer given has no series") {
  JobState a = state(10), b = state(11);
  Job j;
  j.key = a.key;
  j.task_num = 1;
  j.task_done = 0;
  j.status = JobStatus::doing;
  observe_snapshot(a, j, WallTime{} + 1700000000s);
  j.key = b.key;
  observe_snapshot(b, j, WallTime{} + 1700000000s);
  std::string both, one;
  render_job_metrics(both, {&a, &b});
  render_job_metrics(one, {&a});
  CHECK(count(both, "job_id=\"11\"") >= 10);
  CHECK(count(one, "job_id=\"11\"") == 0);
  CHECK(count(one, "job_id=\"10\"") == count(both, "job_id=\"10\""));
  std::string none;
  render_job_metrics(none, {});
  CHECK(none.find("job_id=") == std::string::npos);
}

TEST_CASE("the whole exposition includes self and process metrics") {
  Metrics m;
  CallOutcome o;
  o.action = "GetMmsJob";
  o.failure = FailureReason::throttled;
  o.duration = std::chrono::milliseconds(20);
  m.on_call(o);
  m.set_tracked_jobs(3);
  auto text = m.render({});
  CHECK(text.find("mmsmon_api_requests_total{action=\"GetMmsJob\"} 1") != std::string::npos);
  CHECK(
      text.find("mmsmon_api_request_failures_total{action=\"GetMmsJob\",reason=\"throttled\"} 1") !=
      std::string::npos);
  CHECK(text.find("mmsmon_tracked_jobs 3") != std::string::npos);
  CHECK(text.find("mmsmon_build_info{") != std::string::npos);
  CHECK(text.find("process_resident_memory_bytes ") != std::string::npos);
  CHECK(text.find("process_open_fds ") != std::string::npos);
}

TEST_CASE("mmsmon_job_data_age_seconds: every tracked job's data age, as a histogram") {
  const WallTime now = WallTime{} + std::chrono::hours(24 * 20000);
  JobState fresh, old, never;
  fresh.last_success = now - 3s;
  old.last_success = now - 45min;
  std::vector<const JobState*> jobs{&fresh, &old, &never};
  std::string out;
  render_data_age(out, jobs, now, now - 10min);  // `never`: 10 min since mmsmon started
  CHECK(out.find("# TYPE mmsmon_job_data_age_seconds histogram\n") != std::string::npos);
  CHECK(out.find("mmsmon_job_data_age_seconds_bucket{le=\"1\"} 0\n") != std::string::npos);
  CHECK(out.find("mmsmon_job_data_age_seconds_bucket{le=\"5\"} 1\n") != std::string::npos);
  CHECK(out.find("mmsmon_job_data_age_seconds_bucket{le=\"600\"} 2\n") != std::string::npos);
  CHECK(out.find("mmsmon_job_data_age_seconds_bucket{le=\"3600\"} 3\n") != std::string::npos);
  CHECK(out.find("mmsmon_job_data_age_seconds_bucket{le=\"+Inf\"} 3\n") != std::string::npos);
  CHECK(out.find("mmsmon_job_data_age_seconds_sum 3303.000\n") != std::string::npos);
  CHECK(out.find("mmsmon_job_data_age_seconds_count 3\n") != std::string::npos);
}

TEST_CASE("data source families: info, agent, tables and partitions by state, scan status") {
  DataSource d;
  d.id = SourceId{7};
  d.name = "hive \"prod\"";
  d.type = "HIVE";
  d.region = "cn-hangzhou";
  d.agent_online = false;
  d.tables_done = 40;
  d.tables_failed = 2;
  d.scan_status = "DONE";
  std::string out;
  render_datasource_metrics(out, {d});
  CHECK(
      out.find(
          R"(mms_datasource_info{source_id="7",name="hive \"prod\"",type="HIVE",region="cn-hangzhou",status=""} 1)") !=
      std::string::npos);
  CHECK(out.find("mms_datasource_agent_online{source_id=\"7\"} 0\n") != std::string::npos);
  CHECK(out.find("mms_datasource_tables{source_id=\"7\",state=\"done\"} 40\n") !=
        std::string::npos);
  CHECK(out.find("mms_datasource_tables{source_id=\"7\",state=\"failed\"} 2\n") !=
        std::string::npos);
  CHECK(out.find("state=\"doing\"") == std::string::npos);  // not given: absent
  CHECK(out.find("mms_datasource_partitions") == std::string::npos);
  CHECK(out.find("mms_datasource_scan_status{source_id=\"7\",status=\"DONE\"} 1\n") !=
        std::string::npos);
  std::string none;
  render_datasource_metrics(none, {});
  CHECK(none.empty());
}

#include <doctest/doctest.h>

#include <boost/json.hpp>

#include "core/alert_policy.hpp"
#include "job_fixtures.hpp"

using namespace mmsmon;
using namespace mmsmon::test;
using namespace std::chrono_literals;

namespace {

struct Fixture {
  JobState st;
  AlertPolicy policy{AlertThresholds{60s, 10s}};
  Fixture() { st.key = kKey; }
  std::vector<Alert> ok(Job j, WallTime t) {
    auto ev = observe_snapshot(st, std::move(j), t);
    return policy.on_snapshot(st, ev, t);
  }
  std::vector<Alert> fail(const ApiError& e, WallTime t) {
    observe_failure(st, e, t);
    return policy.on_failure(st, e, t);
  }
};

}  // namespace

TEST_CASE("event alerts for each transition") {
  Fixture f;
  CHECK(f.ok(snap(JobStatus::init, 0, 10), t0).empty());
  auto a = f.ok(snap(JobStatus::doing, 0, 10), t0 + 1s);
  REQUIRE(a.size() == 1);
  CHECK(a[0].name == AlertName::job_started);
  CHECK(a[0].state == AlertState::event);
  CHECK(a[0].severity == Severity::info);
  CHECK(a[0].job_name == "migrate_sales");
  CHECK(a[0].summary == "Job migrate_sales (2/10) started: 0/10 tasks done.");
  CHECK(alert_names(f.ok(snap(JobStatus::doing, 5, 10, true), t0 + 2s)) ==
        std::vector<std::string>{"JobStopped:event"});
  CHECK(alert_names(f.ok(snap(JobStatus::doing, 5, 10, false), t0 + 3s)) ==
        std::vector<std::string>{"JobResumed:event"});
  CHECK(alert_names(f.ok(snap(JobStatus::doing, 3, 10), t0 + 4s)) ==
        std::vector<std::string>{"JobRegressed:event"});
  auto failed = f.ok(snap(JobStatus::failed, 3, 10), t0 + 5s);
  REQUIRE(failed.size() == 1);
  CHECK(failed[0].name == AlertName::job_failed);
  CHECK(failed[0].severity == Severity::critical);
  auto retry = f.ok(snap(JobStatus::doing, 3, 10), t0 + 6s);
  REQUIRE(retry.size() == 1);
  CHECK(retry[0].name == AlertName::job_started);
  CHECK(retry[0].summary.find("running again after FAILED") != std::string::npos);
  auto done = f.ok(snap(JobStatus::done, 10, 10), t0 + 7s);
  CHECK(alert_names(done) == std::vector<std::string>{"JobSucceeded:event"});
}

TEST_CASE("JobNotFound fires once and resolves once") {
  Fixture f;
  auto e = api_error(FailureReason::not_found, 404, "MmsJobNotFound");
  CHECK(alert_names(f.fail(e, t0)) == std::vector<std::string>{"JobNotFound:firing"});
  CHECK(f.fail(e, t0 + 1s).empty());
  CHECK(f.policy.is_firing(AlertName::job_not_found, kKey));
  auto r = f.ok(snap(JobStatus::doing, 1, 10), t0 + 2s);
  CHECK(alert_names(r) == std::vector<std::string>{"JobNotFound:resolved"});
  CHECK(f.ok(snap(JobStatus::doing, 1, 10), t0 + 3s).empty());
}

TEST_CASE("JobUnreachable only after the threshold, not for auth") {
  Fixture f;
  auto e = api_error(FailureReason::timeout);
  CHECK(f.fail(e, t0).empty());
  CHECK(f.fail(e, t0 + 59s).empty());
  auto a = f.fail(e, t0 + 60s);
  REQUIRE(a.size() == 1);
  CHECK(a[0].name == AlertName::job_unreachable);
  CHECK(a[0].summary.find("have failed for 1m") != std::string::npos);
  CHECK(f.fail(e, t0 + 90s).empty());
  CHECK(alert_names(f.ok(snap(JobStatus::doing, 1, 10), t0 + 100s)) ==
        std::vector<std::string>{"JobUnreachable:resolved"});
  Fixture g;
  CHECK(g.fail(api_error(FailureReason::auth, 400), t0).empty());
  CHECK(g.fail(api_error(FailureReason::auth, 400), t0 + 120s).empty());
}

TEST_CASE("ApiAuthFailed fires on the first auth failure, resolves on the next answer") {
  AlertPolicy p;
  auto e = api_error(FailureReason::auth, 400, "SignatureDoesNotMatch");
  auto a = p.on_api_call(&e, t0);
  REQUIRE(a.size() == 1);
  CHECK(a[0].name == AlertName::api_auth_failed);
  CHECK(a[0].severity == Severity::critical);
  CHECK_FALSE(a[0].job);
  CHECK(p.on_api_call(&e, t0 + 1s).empty());
  auto net = api_error(FailureReason::network);
  CHECK(p.on_api_call(&net, t0 + 2s).empty());  // never reached the API: proves nothing
  auto r = p.on_api_call(nullptr, t0 + 3s);
  CHECK(alert_names(r) == std::vector<std::string>{"ApiAuthFailed:resolved"});
}

TEST_CASE("ApiThrottled fires after being slowed for the threshold, resolves after as long") {
  AlertPolicy p{AlertThresholds{60s, 10s}};
  auto e = api_error(FailureReason::throttled, 400, "Throttling.User");
  e.retry_after = 2s;
  CHECK(p.on_pacing(Pacing::throttled, &e, t0).empty());
  CHECK(p.on_pacing(Pacing::throttled, nullptr, t0 + 9s).empty());
  auto a = p.on_pacing(Pacing::throttled, nullptr, t0 + 10s);
  REQUIRE(alert_names(a) == std::vector<std::string>{"ApiThrottled:firing"});
  CHECK(a[0].summary.find("for 10s") != std::string::npos);
  bool has_code = false;
  for (const auto& f : a[0].facts)
    has_code |= f.key == "code";
  CHECK(has_code);
  CHECK(p.on_pacing(Pacing::throttled, nullptr, t0 + 12s).empty());
  // Calm, then slowed again before the quiet period ends: the same episode.
  CHECK(p.on_pacing(Pacing::full_speed, nullptr, t0 + 13s).empty());
  CHECK(p.on_pacing(Pacing::throttled, nullptr, t0 + 20s).empty());
  CHECK(p.on_pacing(Pacing::full_speed, nullptr, t0 + 21s).empty());
  CHECK(p.on_pacing(Pacing::full_speed, nullptr, t0 + 30s).empty());
  CHECK(alert_names(p.on_pacing(Pacing::full_speed, nullptr, t0 + 31s)) ==
        std::vector<std::string>{"ApiThrottled:resolved"});
  CHECK(p.on_pacing(Pacing::full_speed, nullptr, t0 + 40s).empty());
}

TEST_CASE("brief throttling never fires") {
  AlertPolicy p{AlertThresholds{60s, 10s}};
  auto e = api_error(FailureReason::throttled, 400, "Throttling");
  CHECK(p.on_pacing(Pacing::throttled, &e, t0).empty());
  CHECK(p.on_pacing(Pacing::full_speed, nullptr, t0 + 3s).empty());
  CHECK(p.on_pacing(Pacing::full_speed, nullptr, t0 + 13s).empty());
  CHECK(p.on_pacing(Pacing::throttled, &e, t0 + 14s).empty());
  CHECK(p.on_pacing(Pacing::full_speed, nullptr, t0 + 16s).empty());
}

TEST_CASE("untracking resolves what fires for the job") {
  Fixture f;
  f.fail(api_error(FailureReason::not_found, 404), t0);
  auto r = f.policy.on_untracked(f.st, t0 + 1s);
  CHECK(alert_names(r) == std::vector<std::string>{"JobNotFound:resolved"});
  CHECK_FALSE(f.policy.is_firing(AlertName::job_not_found, kKey));
}

TEST_CASE("alert lines: JSON and logfmt carry the fixed fields") {
  Alert a;
  a.name = AlertName::job_failed;
  a.state = AlertState::event;
  a.severity = Severity::critical;
  a.ts = t0 + 1500ms;
  a.job = kKey;
  a.job_name = "migrate \"sales\"";
  a.summary = "Job failed.";
  a.facts = {{"from", std::string("DOING")}, {"task_done", std::int64_t{3}}};
  auto j = boost::json::parse(format_alert_json(a)).as_object();
  CHECK(j.at("ts").as_string() == rfc3339(a.ts));
  CHECK(std::string(j.at("ts").as_string()).ends_with(".500Z"));
  CHECK(j.at("alert").as_string() == "JobFailed");
  CHECK(j.at("state").as_string() == "event");
  CHECK(j.at("severity").as_string() == "critical");
  CHECK(j.at("source_id").as_int64() == 2);
  CHECK(j.at("job_id").as_int64() == 10);
  CHECK(j.at("job_name").as_string() == "migrate \"sales\"");
  CHECK(j.at("task_done").as_int64() == 3);
  auto l = format_alert_logfmt(a);
  CHECK(l.find("alert=JobFailed state=event severity=critical source_id=2 job_id=10") !=
        std::string::npos);
  CHECK(l.find("job_name=\"migrate \\\"sales\\\"\"") != std::string::npos);
  CHECK(l.find("summary=\"Job failed.\" from=DOING task_done=3") != std::string::npos);
}

TEST_CASE("reminders: a firing condition is said again every repeat_interval, marked") {
  AlertPolicy p{AlertThresholds{.repeat_interval = 1h}};
  auto e = api_error(FailureReason::auth, 400, "SignatureDoesNotMatch");
  REQUIRE(p.on_api_call(&e, t0).size() == 1);
  CHECK(p.tick(t0 + 59min).empty());
  auto r = p.tick(t0 + 1h);
  REQUIRE(r.size() == 1);
  CHECK(r[0].name == AlertName::api_auth_failed);
  CHECK(r[0].state == AlertState::firing);
  CHECK(r[0].ts == t0 + 1h);
  CHECK(r[0].summary.find("Still firing, since") != std::string::npos);
  CHECK(std::find(r[0].facts.begin(), r[0].facts.end(), Fact{"reminder", true}) !=
        r[0].facts.end());
  CHECK(std::find(r[0].facts.begin(), r[0].facts.end(), Fact{"code", "SignatureDoesNotMatch"}) !=
        r[0].facts.end());
  CHECK(p.tick(t0 + 1h + 1s).empty());  // once per interval
  CHECK(p.tick(t0 + 2h).size() == 1);
  AlertPolicy never{AlertThresholds{.repeat_interval = 0s}};
  never.on_api_call(&e, t0);
  CHECK(never.tick(t0 + 100h).empty());
}

TEST_CASE("resolve_hold: a condition resolves after being clear for the hold, once") {
  Fixture f;
  f.policy.set_thresholds(AlertThresholds{.resolve_hold = 2min});
  auto e = api_error(FailureReason::not_found, 404, "MmsJobNotFound");
  REQUIRE(f.fail(e, t0).size() == 1);
  CHECK(f.ok(snap(JobStatus::doing, 1, 10), t0 + 10s).empty());  // held
  CHECK(f.policy.is_firing(AlertName::job_not_found, kKey));
  CHECK(f.policy.tick(t0 + 2min + 9s).empty());
  auto r = f.policy.tick(t0 + 2min + 10s);
  REQUIRE(alert_names(r) == std::vector<std::string>{"JobNotFound:resolved"});
  CHECK(r[0].ts == t0 + 2min + 10s);
  CHECK(std::find(r[0].facts.begin(), r[0].facts.end(), Fact{"firing_seconds", 10.0}) !=
        r[0].facts.end());  // until it cleared, not until the hold ended
  CHECK_FALSE(f.policy.is_firing(AlertName::job_not_found, kKey));
  CHECK(f.policy.tick(t0 + 1h).empty());
}

TEST_CASE("resolve_hold: a condition back within the hold neither resolves nor fires again") {
  Fixture f;
  f.policy.set_thresholds(AlertThresholds{.unreachable_after = 60s, .resolve_hold = 2min});
  auto e = api_error(FailureReason::timeout);
  f.fail(e, t0);
  REQUIRE(alert_names(f.fail(e, t0 + 60s)) == std::vector<std::string>{"JobUnreachable:firing"});
  std::vector<Alert> said;
  auto t = t0 + 60s;
  for (int i = 0; i < 10; ++i) {  // flapping: ok, fail, ok, fail, ... every 30 s
    t += 30s;
    auto a = i % 2 ? f.fail(e, t) : f.ok(snap(JobStatus::doing, 1, 10), t);
    said.insert(said.end(), a.begin(), a.end());
    auto b = f.policy.tick(t);
    said.insert(said.end(), b.begin(), b.end());
  }
  CHECK(said.empty());
  CHECK(f.policy.is_firing(AlertName::job_unreachable, kKey));
  f.ok(snap(JobStatus::doing, 1, 10), t + 30s);  // steady from here
  CHECK(f.policy.tick(t + 2min).empty());
  CHECK(alert_names(f.policy.tick(t + 30s + 2min)) ==
        std::vector<std::string>{"JobUnreachable:resolved"});
}

TEST_CASE("resolve_hold: untracking resolves at once") {
  Fixture f;
  f.policy.set_thresholds(AlertThresholds{.resolve_hold = 2min});
  f.fail(api_error(FailureReason::not_found, 404, "MmsJobNotFound"), t0);
  CHECK(alert_names(f.policy.on_untracked(f.st, t0 + 1s)) ==
        std::vector<std::string>{"JobNotFound:resolved"});
}

TEST_CASE("DataSourceAgentOffline: fires per data source, resolves when online or gone") {
  AlertPolicy p;
  DataSource a, b;
  a.id = SourceId{7};
  a.name = "hive-warehouse";
  a.agent_online = false;
  b.id = SourceId{8};
  b.agent_online = true;
  auto fired = p.on_datasources({a, b}, t0);
  REQUIRE(alert_names(fired) == std::vector<std::string>{"DataSourceAgentOffline:firing"});
  CHECK(fired[0].job == JobKey{SourceId{7}, kSourceWide});
  CHECK(fired[0].summary ==
        "The agent of data source hive-warehouse (7) is offline: its jobs "
        "cannot make progress.");
  auto line = format_alert_json(fired[0]);
  CHECK(line.find("\"source_id\":7") != std::string::npos);
  CHECK(line.find("job_id") == std::string::npos);  // a data source's alert, not a job's
  CHECK(p.on_datasources({a, b}, t0 + 1min).empty());
  a.agent_online = true;
  CHECK(alert_names(p.on_datasources({a, b}, t0 + 2min)) ==
        std::vector<std::string>{"DataSourceAgentOffline:resolved"});
  a.agent_online = false;
  REQUIRE(p.on_datasources({a}, t0 + 3min).size() == 1);
  auto gone = p.on_datasources({b}, t0 + 4min);
  REQUIRE(alert_names(gone) == std::vector<std::string>{"DataSourceAgentOffline:resolved"});
  CHECK(gone[0].summary.find("is gone") != std::string::npos);
  DataSource unknown;  // agentIsOnline not given: nothing said
  unknown.id = SourceId{9};
  CHECK(p.on_datasources({unknown}, t0 + 5min).empty());
}

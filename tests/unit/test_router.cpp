// The endpoints as a pure function of the request and a read-only view.
#include <doctest/doctest.h>

#include <boost/json.hpp>

#include "app/router.hpp"
#include "job_fixtures.hpp"
#include "obs/metrics.hpp"

using namespace mmsmon;
using namespace mmsmon::test;
using namespace std::chrono_literals;
namespace json = boost::json;

namespace {

const JobKey kSecond{SourceId{2}, JobId{11}};

struct World {
  Fleet fleet;
  Metrics metrics;
  bool stopping = false;
  std::size_t down = 0;
  std::function<std::vector<std::string>()> reload;
  RecentAlerts recent;
  World() {
    fleet.add(kSecond, 90s);  // added first, listed second: key order
    fleet.add(kKey, 30s);
  }
  ServerResponse get(std::string_view target, std::string_view method = "GET") {
    return route(ServerRequest{method, target},
                 RouterView{fleet, metrics, stopping, down, reload, &recent, t0});
  }
};

}  // namespace

TEST_CASE("router: /metrics serves the exposition of every tracked job") {
  World w;
  w.fleet.on_snapshot(kKey, snap(JobStatus::doing, 5, 10), t0);
  auto r = w.get("/metrics");
  CHECK(r.status == 200);
  CHECK(r.content_type == "text/plain; version=0.0.4; charset=utf-8");
  CHECK(r.body.find("mms_job_tasks_done{source_id=\"2\",job_id=\"10\"} 5\n") != std::string::npos);
  CHECK(r.body.find("mmsmon_build_info{") != std::string::npos);
  CHECK(w.get("/metrics?foo=bar").status == 200);  // a query string is ignored
  CHECK(w.get("/metrics", "HEAD").status == 200);  // the server drops the body
  CHECK(w.get("/metrics", "POST").status == 405);
  CHECK(w.get("/metrics", "DELETE").status == 405);
}

TEST_CASE("router: /-/healthy is 503 while stopping or while a job's poller is down") {
  World w;
  auto ok = w.get("/-/healthy");
  CHECK(ok.status == 200);
  CHECK(ok.body == "mmsmon is healthy\n");
  w.down = 2;
  auto down = w.get("/-/healthy");
  CHECK(down.status == 503);
  CHECK(down.body == "2 job pollers are down, waiting for their restart\n");
  w.down = 0;
  w.stopping = true;
  auto stopping = w.get("/-/healthy");
  CHECK(stopping.status == 503);
  CHECK(stopping.body == "mmsmon is stopping\n");
  CHECK(w.get("/-/healthy", "PUT").status == 405);
}

TEST_CASE("router: /-/ready once every job has been polled, successfully or not") {
  World w;
  auto r = w.get("/-/ready");
  CHECK(r.status == 503);
  CHECK(r.body == "2 of 2 jobs not polled yet\n");
  w.fleet.on_snapshot(kKey, snap(JobStatus::doing, 5, 10), t0);
  CHECK(w.get("/-/ready").body == "1 of 2 jobs not polled yet\n");
  ApiError e;
  e.reason = FailureReason::timeout;
  e.message = "deadline";
  w.fleet.on_failure(kSecond, e, t0);
  auto ready = w.get("/-/ready");
  CHECK(ready.status == 200);
  CHECK(ready.body == "mmsmon is ready\n");
}

TEST_CASE("router: /api/v1/jobs lists every job in key order with its facts") {
  World w;
  w.fleet.on_snapshot(kKey, snap(JobStatus::doing, 5, 10), t0);
  ApiError e;
  e.reason = FailureReason::not_found;
  e.http_status = 404;
  e.code = "MmsJobNotFound";
  e.message = "gone";
  e.request_id = "RID-1";
  w.fleet.on_failure(kSecond, e, t0 + 1s);
  auto r = w.get("/api/v1/jobs");
  CHECK(r.status == 200);
  CHECK(r.content_type == "application/json");
  auto arr = json::parse(r.body).as_array();
  REQUIRE(arr.size() == 2);
  const auto& a = arr[0].as_object();
  CHECK(a.at("job_id").as_int64() == 10);
  CHECK(a.at("name").as_string() == "migrate_sales");
  CHECK(a.at("status").as_string() == "DOING");
  CHECK(a.at("task_done").as_int64() == 5);
  CHECK(a.at("progress_ratio").as_double() == doctest::Approx(0.5));
  CHECK(a.at("up").as_bool());
  CHECK(a.at("interval_seconds").as_double() == 30);
  CHECK(a.at("last_success").as_string().ends_with("Z"));
  CHECK(a.at("firing_alerts").as_array().empty());
  const auto& b = arr[1].as_object();
  CHECK(b.at("job_id").as_int64() == 11);
  CHECK_FALSE(b.at("up").as_bool());
  CHECK(b.at("last_error").at("code").as_string() == "MmsJobNotFound");
  CHECK(b.at("last_error").at("request_id").as_string() == "RID-1");
  CHECK(b.at("firing_alerts").as_array() == json::array{"JobNotFound"});
  CHECK(b.at("consecutive_failures").as_int64() == 1);
  CHECK_FALSE(b.contains("name"));  // nothing the API did not give
}

TEST_CASE("router: reload, the index page, unknown paths and methods") {
  World w;
  CHECK(w.get("/-/reload", "GET").status == 405);
  CHECK(w.get("/-/reload", "POST").status == 503);  // no reload action in this view
  auto index = w.get("/");
  CHECK(index.status == 200);
  CHECK(index.content_type == "text/html; charset=utf-8");
  CHECK(index.body.find("<script src=\"/ui/app.js\"") != std::string::npos);
  CHECK(index.body.find("<script>") == std::string::npos);  // nothing inline: the CSP allows none
  CHECK(w.get("/", "POST").status == 405);
  auto nf = w.get("/nope");
  CHECK(nf.status == 404);
  CHECK(nf.body == "not found\n");
  CHECK(w.get("/nope", "POST").status == 404);
  CHECK(w.get("/nope", "DELETE").status == 405);
}

TEST_CASE("router: POST /-/reload answers 200, or 400 with every problem") {
  World w;
  int calls = 0;
  std::vector<std::string> problems;
  w.reload = [&] {
    ++calls;
    return problems;
  };
  auto ok = w.get("/-/reload", "POST");
  CHECK(ok.status == 200);
  CHECK(ok.body == "configuration reloaded\n");
  problems = {"/etc/mmsmon.json:3:5: poll.interval: bad", "/etc/mmsmon.json:7:1: jobs: empty"};
  auto bad = w.get("/-/reload", "POST");
  CHECK(bad.status == 400);
  CHECK(bad.body ==
        "configuration not reloaded; the old one stays:\n/etc/mmsmon.json:3:5: poll.interval: "
        "bad\n/etc/mmsmon.json:7:1: jobs: empty\n");
  CHECK(w.get("/-/reload", "GET").status == 405);
  CHECK(calls == 2);
}

TEST_CASE("router: the status page and its files come with a strict CSP") {
  World w;
  for (std::string_view path : {"/", "/ui/app.js", "/ui/app.css", "/ui/favicon.svg"}) {
    CAPTURE(path);
    auto r = w.get(path);
    CHECK(r.status == 200);
    CHECK(!r.body.empty());
    bool csp = false;
    for (const auto& [name, value] : r.headers)
      if (name == "Content-Security-Policy") {
        csp = true;
        CHECK(value.find("default-src 'none'") != std::string::npos);
        CHECK(value.find("script-src 'self'") != std::string::npos);
        CHECK(value.find("unsafe") == std::string::npos);
        CHECK(value.find("frame-ancestors 'none'") != std::string::npos);
      }
    CHECK(csp);
  }
  CHECK(w.get("/ui/app.js").content_type == "text/javascript; charset=utf-8");
  CHECK(w.get("/ui/app.css").content_type == "text/css; charset=utf-8");
  CHECK(w.get("/ui/favicon.svg").content_type == "image/svg+xml");
  CHECK(w.get("/ui/").status == 404);
  CHECK(w.get("/ui/nope.js").status == 404);
}

TEST_CASE("router: /api/v1/status sums the fleet up") {
  World w;
  w.fleet.on_snapshot(kKey, snap(JobStatus::doing, 5, 10, true), t0);
  w.fleet.on_snapshot(kSecond, snap(JobStatus::failed, 30, 20), t0);  // done > num: counted as num
  ApiError gone;
  gone.reason = FailureReason::not_found;
  gone.http_status = 404;
  gone.code = "MmsJobNotFound";
  w.fleet.on_failure(kSecond, gone, t0 + 1s);
  auto r = w.get("/api/v1/status");
  CHECK(r.status == 200);
  CHECK(r.content_type == "application/json");
  auto o = json::parse(r.body).as_object();
  CHECK(o.at("now").as_string() == rfc3339(t0));
  CHECK(o.at("jobs").as_int64() == 2);
  CHECK(o.at("not_polled").as_int64() == 0);
  CHECK(o.at("failing").as_int64() == 1);
  CHECK(o.at("stopped").as_int64() == 1);
  CHECK(o.at("by_status").at("DOING").as_int64() == 1);
  CHECK(o.at("by_status").at("FAILED").as_int64() == 1);
  CHECK(o.at("by_status").at("DONE").as_int64() == 0);
  CHECK(o.at("tasks_done").as_int64() == 25);
  CHECK(o.at("tasks_total").as_int64() == 30);
  CHECK(o.at("progress_ratio").as_double() == doctest::Approx(25.0 / 30.0));
  auto firing = o.at("firing").as_array();
  REQUIRE(firing.size() == 1);
  CHECK(firing[0].at("alert").as_string() == "JobNotFound");
  CHECK(firing[0].at("job_id").as_int64() == 11);
}

TEST_CASE("router: /api/v1/alerts lists the newest alert lines, all or one job's") {
  World w;
  auto alert = [](AlertName n, std::optional<JobKey> job, int s) {
    Alert a;
    a.name = n;
    a.job = job;
    a.ts = t0 + std::chrono::seconds(s);
    a.summary = "line " + std::to_string(s);
    return a;
  };
  w.recent.add(alert(AlertName::job_started, kKey, 1));
  w.recent.add(alert(AlertName::api_throttled, std::nullopt, 2));
  w.recent.add(alert(AlertName::job_stopped, kSecond, 3));
  w.recent.add(alert(AlertName::job_resumed, kKey, 4));
  auto all = json::parse(w.get("/api/v1/alerts").body).as_array();
  REQUIRE(all.size() == 4);
  CHECK(all[0].at("summary").as_string() == "line 4");  // newest first
  CHECK(all[3].at("summary").as_string() == "line 1");
  auto mine = json::parse(w.get("/api/v1/alerts?source_id=2&job_id=10").body).as_array();
  REQUIRE(mine.size() == 2);
  CHECK(mine[0].at("alert").as_string() == "JobResumed");
  CHECK(mine[1].at("alert").as_string() == "JobStarted");
  auto one = json::parse(w.get("/api/v1/alerts?limit=1&job_id=10&source_id=2").body).as_array();
  REQUIRE(one.size() == 1);
  CHECK(json::parse(w.get("/api/v1/alerts?source_id=9&job_id=9").body).as_array().empty());
  CHECK(w.get("/api/v1/alerts?source_id=2").status == 400);  // half a key
  CHECK(w.get("/api/v1/alerts?source_id=2&job_id=x").status == 400);
  CHECK(w.get("/api/v1/alerts?limit=0").status == 400);
  CHECK(w.get("/api/v1/alerts?limit=-1").status == 400);
}

TEST_CASE("recent alerts: bounded per job and overall, and a forgotten job takes its lines along") {
  RecentAlerts r;
  Alert a;
  a.job = kKey;
  for (std::size_t i = 0; i < RecentAlerts::kPerJob + 5; ++i)
    r.add(a);
  CHECK(r.newest(kKey, 1000).size() == RecentAlerts::kPerJob);
  a.job = std::nullopt;
  for (std::size_t i = 0; i < RecentAlerts::kOverall + 5; ++i)
    r.add(a);
  CHECK(r.newest(std::nullopt, 100000).size() == RecentAlerts::kOverall);
  CHECK(r.jobs() == 1);
  r.forget(kKey);
  CHECK(r.jobs() == 0);
  CHECK(r.newest(kKey, 10).empty());
}

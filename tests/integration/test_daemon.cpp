// The daemon against mms-sim, both as child processes: alert lines for every transition,
// fault isolation, auth and throttling alerts, endpoints, metrics.
#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#include <doctest/doctest.h>
#include <poll.h>
#include <sched.h>
#include <sys/inotify.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include <random>
#include <set>
#include <thread>

#include "sim_process.hpp"

using namespace mmsmon;
using namespace mmsmon::test;
using namespace std::chrono_literals;
namespace json = boost::json;

namespace {

/// Reads the alert file as lines are appended, waiting on inotify (no sleeps).
class AlertTail {
 public:
  explicit AlertTail(std::string path) : path_(std::move(path)) {
    fd_ = inotify_init1(IN_CLOEXEC);
    { std::ofstream touch(path_, std::ios::app); }
    wd_ = inotify_add_watch(fd_, path_.c_str(), IN_MODIFY);
    REQUIRE(wd_ >= 0);
  }
  ~AlertTail() { close(fd_); }

  /// All lines so far, parsed.
  std::vector<json::object> lines() {
    std::ifstream in(path_);
    std::vector<json::object> out;
    for (std::string l; std::getline(in, l);)
      if (!l.empty()) out.push_back(json::parse(l).as_object());
    return out;
  }

  /// Waits until a line with `alert` (and `state`, and `job_id` when >= 0) appears that no
  /// earlier wait returned; returns it.
  json::object wait_for(const std::string& alert, const std::string& state = "",
                        std::int64_t job_id = -1, std::chrono::milliseconds timeout = 20s) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    for (;;) {
      auto all = lines();
      for (std::size_t i = 0; i < all.size(); ++i) {
        if (taken_.count(i)) continue;
        const auto& l = all[i];
        if (l.at("alert").as_string() != alert) continue;
        if (!state.empty() && l.at("state").as_string() != state) continue;
        if (job_id >= 0 && (!l.contains("job_id") || l.at("job_id").as_int64() != job_id)) continue;
        taken_.insert(i);
        return l;
      }
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          deadline - std::chrono::steady_clock::now());
      if (left <= 0ms)
        FAIL("no " << alert << " " << state << " line within the timeout"
                   << (context ? "\n" + context() : std::string()));
      pollfd p{fd_, POLLIN, 0};
      if (poll(&p, 1, static_cast<int>(left.count())) > 0) {
        char buf[4096];
        (void)!read(fd_, buf, sizeof buf);
      }
    }
  }

  /// Adds to failure messages (the daemon's log tail).
  std::function<std::string()> context;

  std::size_t count(const std::string& alert, const std::string& state) {
    std::size_t n = 0;
    for (const auto& l : lines())
      n += l.at("alert").as_string() == alert && l.at("state").as_string() == state;
    return n;
  }

 private:
  std::string path_;
  int fd_ = -1, wd_ = -1;
  std::set<std::size_t> taken_;
};

const char* kId = "daemon-it-id";
const char* kSecret = "daemon-it-secret";

/// What a World runs: the simulator's jobs, the daemon's jobs and config.
struct WorldOptions {
  std::string sim_jobs;  ///< JSON array: the simulator's jobs (see tests/sim/README.md)
  std::string jobs;      ///< JSON array: the daemon's `jobs`
  /// Merged over the default config below, object by object.
  json::object config = {};
  std::string secret = kSecret;       ///< the daemon's secret (the simulator knows kSecret)
  std::vector<std::string> env = {};  ///< more NAME=value for the daemon's environment
  /// Faults (POST /admin/faults bodies) in place before the daemon starts.
  std::vector<std::string> sim_faults = {};
  /// Start the daemon as systemd does with StandardError=journal: $JOURNAL_STREAM names
  /// its stderr, so it logs to the journal socket.
  bool journal_stream = false;
  /// Start it through `sh -c` exporting WATCHDOG_PID=$$ (its own pid, as systemd sets it).
  bool watchdog_pid = false;
};

std::vector<std::string> env_with(std::vector<std::string> a, const std::vector<std::string>& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

/// Merges `over` into `base`: objects key by key, anything else replaced.
void merge(json::object& base, const json::object& over) {
  for (const auto& kv : over) {
    auto* mine = base.if_contains(kv.key());
    if (mine && mine->is_object() && kv.value().is_object())
      merge(mine->as_object(), kv.value().as_object());
    else
      base[kv.key()] = kv.value();
  }
}

std::string creds_scenario(const std::string& jobs) {
  json::object sc{{"credentials", json::array{json::object{{"access_key_id", kId},
                                                           {"access_key_secret", kSecret}}}},
                  {"jobs", json::parse(jobs)}};
  return json::serialize(sc);
}

/// A simulator plus a daemon polling it every second.
struct World {
  TempDir dir;
  SimProcess sim;
  std::string alerts_path;
  std::unique_ptr<ChildProcess> daemon;
  std::unique_ptr<AlertTail> tail;
  json::object config;  ///< what the daemon was started with (see rewrite_config)
  std::string config_path;
  std::vector<std::string> argv_, env_;
  std::string log_;

  explicit World(const WorldOptions& o) : sim(creds_scenario(o.sim_jobs)) {
    alerts_path = (dir.path / "alerts.log").string();
    tail = std::make_unique<AlertTail>(alerts_path);
    json::object cfg{
        {"api", {{"endpoint", sim.url()}, {"timeout", "2s"}}},
        // Per-job polling unless a test asks for refresh by pages: the fault
        // tests aim faults at each job's GetMmsJob.
        {"poll",
         {{"interval", "1s"}, {"jitter", 0}, {"pending_interval", "1s"}, {"page_refresh", false}}},
        {"jobs", json::parse(o.jobs)},
        {"listen", "127.0.0.1:0"},
        {"alerts",
         {{"file", alerts_path},
          {"unreachable_after", "2s"},
          {"throttled_after", "2s"},
          {"resolve_hold", "0s"}}},
        {"log_level", "debug"}};
    merge(cfg, o.config);
    for (const auto& f : o.sim_faults)
      sim.admin("POST", "/admin/faults", f);
    std::string log = dir.file("daemon.log", "");
    std::vector<std::string> env = o.env;
    if (o.journal_stream) {
      struct stat st {};
      REQUIRE(stat(log.c_str(), &st) == 0);
      env.push_back("JOURNAL_STREAM=" + std::to_string(st.st_dev) + ":" +
                    std::to_string(st.st_ino));
    }
    config = cfg;
    config_path = dir.file("mmsmon.json", json::serialize(cfg));
    std::vector<std::string> argv{MMSMON_PATH, "--config", config_path};
    if (o.watchdog_pid)
      argv.insert(argv.begin(), {"/bin/sh", "-c", "WATCHDOG_PID=$$ exec \"$0\" \"$@\""});
    argv_ = argv;
    env_ = env_with(env, {std::string("ALIBABA_CLOUD_ACCESS_KEY_ID=") + kId,
                          "ALIBABA_CLOUD_ACCESS_KEY_SECRET=" + o.secret});
    log_ = log;
    start_daemon();
    tail->context = [this] { return log_tail(); };
  }

  /// Starts the daemon (again), with the same command line, environment and log file.
  void start_daemon() { daemon = std::make_unique<ChildProcess>(argv_, "--port-file", env_, log_); }

  HttpResponse get(const std::string& target) { return http_call(daemon->port(), "GET", target); }
  HttpResponse post(const std::string& target) { return http_call(daemon->port(), "POST", target); }

  /// Writes a new config file (for a reload): the one started with, changed by `change`.
  void rewrite_config(const std::function<void(json::object&)>& change) {
    change(config);
    std::ofstream(config_path, std::ios::trunc) << json::serialize(config);
  }

  /// The tail of the daemon's log, for failure messages.
  std::string log_tail() const { return "mmsmon's log ends:\n" + tail_of(daemon->log_path()); }

  /// Waits (bounded) until `ready` holds; a failure names `what` and shows the log's tail.
  template <class Pred>
  void wait(const std::string& what, std::chrono::milliseconds limit, Pred ready) {
    wait_until(what, limit, ready, [this] { return log_tail(); });
  }

  /// Waits (bounded) until the simulator is answering a request of the daemon.
  void wait_in_flight() {
    wait("a request under way", 10s,
         [&] { return sim.admin("GET", "/admin/stats").at("in_flight").as_int64() > 0; });
  }

  /// Waits (bounded) until /-/ready answers 200: the daemon has no event to wait on here.
  void wait_ready() {
    wait("/-/ready to answer 200", 20s, [&] { return get("/-/ready").status == 200; });
  }

  /// Waits (bounded) until the simulator has served `n` more requests.
  void wait_requests(std::int64_t n) {
    auto requests = [&] { return sim.admin("GET", "/admin/stats").at("requests").as_int64(); };
    auto start = requests();
    wait(std::to_string(n) + " more requests at the simulator", 20s,
         [&] { return requests() >= start + n; });
  }

  /// Requests per second the simulator received over a fixed window, by its own counter.
  double request_rate(std::chrono::milliseconds window) {
    auto requests = [&] { return sim.admin("GET", "/admin/stats").at("requests").as_int64(); };
    auto r0 = requests();
    std::this_thread::sleep_for(window);  // a measuring window, not a wait for an event
    return static_cast<double>(requests() - r0) / std::chrono::duration<double>(window).count();
  }

  std::string daemon_log() {
    std::ifstream in(dir.path / "daemon.log");
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
  }
};

/// Jobs 7/1 .. 7/n with 10 tasks each: the simulator's list and the daemon's list.
std::pair<std::string, std::string> numbered_jobs(int n) {
  std::string jobs = "[", refs = "[";
  for (int i = 1; i <= n; ++i) {
    std::string key = R"({"source_id": 7, "job_id": )" + std::to_string(i);
    jobs += (i > 1 ? "," : "") + key + R"(, "task_num": 10})";
    refs += (i > 1 ? "," : "") + key + "}";
  }
  return {jobs + "]", refs + "]"};
}

void set_job(World& w, const std::string& fields) {
  w.sim.admin("POST", "/admin/jobs", R"({"source_id": 7, "job_id": 1, )" + fields + "}");
}

double metric(const std::string& text, const std::string& series) {
  auto pos = text.find("\n" + series + " ");
  REQUIRE_MESSAGE(pos != std::string::npos, "no series " << series);
  return std::stod(text.substr(pos + series.size() + 2));
}

}  // namespace

TEST_CASE("every transition gives exactly one alert line with the right fields") {
  World w({.sim_jobs = R"([{"source_id": 7, "job_id": 1, "name": "orders", "status": "INIT",
                             "task_num": 10, "task_done": 0}])",
           .jobs = R"([{"source_id": 7, "job_id": 1}])"});
  w.wait_ready();

  set_job(w, R"("status": "DOING", "task_done": 1)");
  auto started = w.tail->wait_for("JobStarted");
  CHECK(started.at("state").as_string() == "event");
  CHECK(started.at("severity").as_string() == "info");
  CHECK(started.at("source_id").as_int64() == 7);
  CHECK(started.at("job_id").as_int64() == 1);
  CHECK(started.at("job_name").as_string() == "orders");
  CHECK(started.at("from").as_string() == "INIT");
  CHECK(started.at("to").as_string() == "DOING");
  CHECK(started.at("task_done").as_int64() == 1);
  CHECK(started.at("task_num").as_int64() == 10);
  CHECK(std::string(started.at("ts").as_string()).ends_with("Z"));
  CHECK_FALSE(started.at("summary").as_string().empty());

  set_job(w, R"("stopped": true, "task_done": 5)");
  auto stopped = w.tail->wait_for("JobStopped");
  CHECK(stopped.at("severity").as_string() == "warning");
  CHECK(stopped.at("task_done").as_int64() == 5);

  set_job(w, R"("stopped": false)");
  w.tail->wait_for("JobResumed");

  set_job(w, R"("task_done": 2)");
  auto regressed = w.tail->wait_for("JobRegressed");
  CHECK(regressed.at("prev_task_done").as_int64() == 5);
  CHECK(regressed.at("task_done").as_int64() == 2);

  set_job(w, R"("status": "FAILED")");
  auto failed = w.tail->wait_for("JobFailed");
  CHECK(failed.at("severity").as_string() == "critical");
  CHECK(failed.at("from").as_string() == "DOING");

  set_job(w, R"("status": "DOING")");
  auto retried = w.tail->wait_for("JobStarted");
  CHECK(retried.at("from").as_string() == "FAILED");

  set_job(w, R"("status": "DONE", "task_done": 10)");
  auto done = w.tail->wait_for("JobSucceeded");
  CHECK(done.at("task_done").as_int64() == 10);

  // The poll that confirms DONE (then none: a finished job is not polled again) repeats nothing.
  w.wait_requests(1);
  auto lines = w.tail->lines();
  std::vector<std::string> names;
  for (const auto& l : lines)
    names.push_back(std::string(l.at("alert").as_string()));
  CHECK(names == std::vector<std::string>{"JobStarted", "JobStopped", "JobResumed", "JobRegressed",
                                          "JobFailed", "JobStarted", "JobSucceeded"});
  // The main log got them too, at matching levels.
  auto log = w.daemon_log();
  CHECK(log.find("error alert ts=") != std::string::npos);  // JobFailed is critical
  CHECK(log.find("info alert ts=") != std::string::npos);
  CHECK(log.find("warning alert ts=") != std::string::npos);  // JobStopped is a warning

  auto metrics = w.get("/metrics").body;
  CHECK(metric(metrics, R"(mms_job_transitions_total{source_id="7",job_id="1",to="DOING"})") == 2);
  CHECK(metric(metrics, R"(mms_job_transitions_total{source_id="7",job_id="1",to="FAILED"})") == 1);
  CHECK(metric(metrics, R"(mms_job_status{source_id="7",job_id="1",status="DONE"})") == 1);
  CHECK(metric(metrics, R"(mms_job_progress_ratio{source_id="7",job_id="1"})") == 1.0);
  CHECK(metric(metrics, R"(mmsmon_alerts_total{alert="JobStarted",severity="info"})") == 2);
  CHECK(w.daemon->stop() == 0);  // SIGTERM: a clean exit
}

TEST_CASE("a fault on one job leaves the others updating") {
  World w({.sim_jobs = R"([{"source_id": 7, "job_id": 1, "name": "broken", "task_num": 10},
                             {"source_id": 7, "job_id": 2, "name": "healthy", "task_num": 100000,
                              "rate": 50},
                             {"source_id": 7, "job_id": 3, "name": "unknown_status",
                              "raw": {"id": 3, "sourceId": 7, "status": "PAUSING", "taskNum": "x"}}])",
           .jobs = R"([{"source_id": 7, "job_id": 1}, {"source_id": 7, "job_id": 2},
                       {"source_id": 7, "job_id": 3}, {"source_id": 7, "job_id": 4}])"});
  w.sim.admin("POST", "/admin/faults", R"({"job": {"source_id": 7, "job_id": 1}, "reset": true})");
  auto unreachable = w.tail->wait_for("JobUnreachable", "firing", 1);
  CHECK(unreachable.at("reason").as_string() == "network");
  auto undecodable = w.tail->wait_for("JobUnreachable", "firing", 3);
  CHECK(undecodable.at("reason").as_string() == "decode");
  auto nf = w.tail->wait_for("JobNotFound", "firing", 4);
  CHECK(nf.at("job_id").as_int64() == 4);
  w.wait_ready();
  auto m1 = w.get("/metrics").body;
  w.wait_requests(8);
  auto m2 = w.get("/metrics").body;
  std::string healthy = R"(mms_job_tasks_done{source_id="7",job_id="2"})";
  CHECK(metric(m2, healthy) > metric(m1, healthy));
  CHECK(metric(m2, R"(mms_job_up{source_id="7",job_id="2"})") == 1);
  CHECK(metric(m2, R"(mms_job_up{source_id="7",job_id="1"})") == 0);
  CHECK(metric(m2, R"(mms_job_up{source_id="7",job_id="3"})") == 0);  // malformed: unhealthy
  CHECK(metric(m2, R"(mmsmon_api_request_failures_total{action="GetMmsJob",reason="decode"})") >=
        1);
  CHECK(metric(m2, R"(mmsmon_api_request_failures_total{action="GetMmsJob",reason="network"})") >=
        1);

  auto jobs = json::parse(w.get("/api/v1/jobs").body).as_array();
  REQUIRE(jobs.size() == 4);
  CHECK(jobs[0].at("last_error").at("reason").as_string() == "network");
  CHECK(jobs[0].at("firing_alerts").as_array().size() == 1);
  CHECK(jobs[1].at("up").as_bool());
  CHECK(jobs[2].at("last_error").at("message").as_string() ==
        "data.taskNum: expected an integer, got a string");

  w.sim.admin("DELETE", "/admin/faults");
  w.tail->wait_for("JobUnreachable", "resolved", 1);
  w.wait_requests(8);
  CHECK(w.tail->count("JobUnreachable", "firing") == 2);
}

TEST_CASE("wrong credentials: one ApiAuthFailed firing, one resolved after the fix") {
  World w({.sim_jobs = R"([{"source_id": 7, "job_id": 1, "task_num": 10},
                           {"source_id": 7, "job_id": 2, "task_num": 10}])",
           .jobs = R"([{"source_id": 7, "job_id": 1}, {"source_id": 7, "job_id": 2}])",
           .secret = "wrong-secret-value"});
  auto firing = w.tail->wait_for("ApiAuthFailed", "firing");
  CHECK(firing.at("severity").as_string() == "critical");
  CHECK(firing.at("code").as_string() == "SignatureDoesNotMatch");
  CHECK_FALSE(firing.contains("job_id"));
  w.wait_requests(6);  // failing for a while must not repeat it
  CHECK(w.tail->count("ApiAuthFailed", "firing") == 1);
  CHECK(w.tail->count("JobUnreachable", "firing") == 0);
  // The operator fixes the key on the service side.
  w.sim.admin("POST", "/admin/credentials",
              std::string(R"({"credentials": [{"access_key_id": ")") + kId +
                  R"(", "access_key_secret": "wrong-secret-value"}]})");
  w.tail->wait_for("ApiAuthFailed", "resolved");
  w.wait_requests(4);
  CHECK(w.tail->count("ApiAuthFailed", "firing") == 1);
  CHECK(w.tail->count("ApiAuthFailed", "resolved") == 1);
  // The secret is nowhere in what the daemon wrote.
  CHECK(w.daemon_log().find("wrong-secret-value") == std::string::npos);
  std::ifstream in(w.alerts_path);
  std::stringstream ss;
  ss << in.rdbuf();
  CHECK(ss.str().find("wrong-secret-value") == std::string::npos);
  CHECK(w.get("/api/v1/jobs").body.find("wrong-secret-value") == std::string::npos);
  CHECK(w.get("/metrics").body.find("wrong-secret-value") == std::string::npos);
  // Nor in the process's environment, where it came from (/proc/PID/environ shows it to
  // anyone allowed to look).
  auto environ_text = file_text("/proc/" + std::to_string(w.daemon->pid()) + "/environ");
  CHECK(environ_text.find("wrong-secret-value") == std::string::npos);
  CHECK(environ_text.find(kId) == std::string::npos);
}

TEST_CASE("throttling slows every request down and raises one ApiThrottled") {
  auto [jobs, refs] = numbered_jobs(20);
  World w({.sim_jobs = jobs, .jobs = refs});
  w.wait_ready();
  // Unthrottled: 20 jobs at 1s is about 20 requests per second.
  double free_rate = w.request_rate(3s);
  // The API now allows 4 requests per second.
  w.sim.admin("POST", "/admin/faults", R"({"rate_limit": {"per_second": 4, "burst": 4}})");
  auto firing = w.tail->wait_for("ApiThrottled", "firing");
  CHECK(firing.at("code").as_string() == "Throttling.User");
  double throttled_rate = w.request_rate(3s);
  MESSAGE("requests per second: " << free_rate << " before, " << throttled_rate
                                  << " while throttled");
  CHECK(free_rate > 12);
  CHECK(throttled_rate < free_rate / 2);
  CHECK(w.tail->count("ApiThrottled", "firing") == 1);
  w.sim.admin("DELETE", "/admin/faults");
  w.tail->wait_for("ApiThrottled", "resolved");
  CHECK(w.tail->count("ApiThrottled", "firing") == 1);
}

TEST_CASE("poll.max_in_flight caps the requests under way, and SIGTERM waits for them") {
  auto [jobs, refs] = numbered_jobs(8);
  // Every answer takes 300 ms: 8 jobs due each second would have up to 3 under way at once.
  World w({.sim_jobs = jobs, .jobs = refs, .config = {{"poll", {{"max_in_flight", 2}}}}});
  w.sim.admin("POST", "/admin/faults", R"({"delay": "300ms"})");
  w.sim.admin("POST", "/admin/stats/reset");
  w.wait_requests(12);
  auto stats = w.sim.admin("GET", "/admin/stats");
  CHECK(stats.at("max_in_flight").as_int64() == 2);
  // Stopping while requests are under way: they finish, then the daemon exits cleanly.
  w.wait_in_flight();
  auto t0 = std::chrono::steady_clock::now();
  CHECK(w.daemon->stop() == 0);
  CHECK(std::chrono::steady_clock::now() - t0 < 2s + 1s);  // api.timeout + 1 s at most
  auto after = w.sim.admin("GET", "/admin/stats");
  // No request was dropped: the daemon waited for every answer before it closed.
  CHECK(after.at("in_flight").as_int64() == 0);
  CHECK(after.at("abandoned").as_int64() == 0);
  CHECK(after.at("answered").as_int64() == after.at("requests").as_int64());
  CHECK(w.daemon_log().find("internal error") == std::string::npos);
}

TEST_CASE("endpoints") {
  World w(
      {.sim_jobs =
           R"([{"source_id": 7, "job_id": 1, "name": "orders", "task_num": 10, "task_done": 4}])",
       .jobs =
           R"([{"source_id": 7, "job_id": 1}, {"source_id": 7, "job_id": 2, "interval": "1h"}])"});
  CHECK(w.get("/-/healthy").status == 200);
  // Job 2's first poll is spread into its one-hour interval: not ready until it is polled.
  auto ready = w.get("/-/ready");
  CHECK(ready.status == 503);
  CHECK(ready.body.find("not polled yet") != std::string::npos);
  auto root = w.get("/");
  CHECK(root.status == 200);
  CHECK(root.body.find("href=\"/metrics\"") != std::string::npos);
  CHECK(w.get("/nope").status == 404);
  CHECK(http_call(w.daemon->port(), "POST", "/-/reload").status == 200);  // the same config
  w.wait_requests(2);
  auto jobs = json::parse(w.get("/api/v1/jobs").body).as_array();
  REQUIRE(jobs.size() == 2);
  CHECK(jobs[0].at("name").as_string() == "orders");
  CHECK(jobs[0].at("task_done").as_int64() == 4);
  CHECK(jobs[0].at("progress_ratio").as_double() == doctest::Approx(0.4));
  CHECK_FALSE(jobs[1].at("polled").as_bool());
  CHECK(jobs[1].at("interval_seconds").as_double() == 3600);
  auto metrics = w.get("/metrics");
  CHECK(metrics.header("content-type") == "text/plain; version=0.0.4; charset=utf-8");
  // Nothing known about job 2 yet: no series at all for it.
  CHECK(metrics.body.find(R"(job_id="2")") == std::string::npos);
  CHECK(metric(metrics.body, "mmsmon_tracked_jobs") == 2);
  CHECK(metric(metrics.body, "mmsmon_config_last_reload_successful") == 1);
}

TEST_CASE("promtool check metrics is silent on a real scrape") {
  if (std::system("command -v promtool >/dev/null 2>&1") != 0) {
    FAIL("promtool is not installed (deploy/bootstrap.sh installs it)");
  }
  World w({.sim_jobs = R"([{"source_id": 7, "job_id": 1, "name": "orders", "task_num": 10,
                            "task_done": 4, "eta": "2026-12-31"}])",
           .jobs = R"([{"source_id": 7, "job_id": 1}, {"source_id": 7, "job_id": 9}])"});
  w.wait_ready();
  std::string scrape = w.dir.file("scrape.txt", w.get("/metrics").body);
  std::string out = (w.dir.path / "promtool.txt").string();
  int rc = std::system(("promtool check metrics < " + scrape + " > " + out + " 2>&1").c_str());
  std::ifstream in(out);
  std::stringstream ss;
  ss << in.rdbuf();
  CHECK_MESSAGE(rc == 0, ss.str());
  CHECK_MESSAGE(ss.str().empty(), ss.str());
}

TEST_CASE("a daemon that fails at start fails the test within seconds, with its log") {
  TempDir dir;
  SimProcess sim(creds_scenario(R"([{"source_id": 7, "job_id": 1}])"));
  json::object config{{"api", {{"endpoint", sim.url()}}},
                      {"jobs", json::array{json::object{{"source_id", 7}, {"job_id", 1}}}},
                      {"listen", "127.0.0.1:0"},
                      {"alerts", {{"file", "/nonexistent/dir/alerts.log"}}}};
  std::string cfg = dir.file("mmsmon.json", json::serialize(config));
  auto t0 = std::chrono::steady_clock::now();
  std::string message;
  try {
    ChildProcess daemon({MMSMON_PATH, "--config", cfg}, "--port-file",
                        {std::string("ALIBABA_CLOUD_ACCESS_KEY_ID=") + kId,
                         std::string("ALIBABA_CLOUD_ACCESS_KEY_SECRET=") + kSecret});
  } catch (const std::exception& e) {
    message = e.what();
  }
  CHECK(std::chrono::steady_clock::now() - t0 < 5s);
  CHECK(message.find("mmsmon exited with status 1 before reporting its port") != std::string::npos);
  CHECK_MESSAGE(
      message.find("cannot open alert file /nonexistent/dir/alerts.log") != std::string::npos,
      message);
}

TEST_CASE("SIGHUP reopens the alert file, as logrotate needs") {
  World w({.sim_jobs = R"([{"source_id": 7, "job_id": 1, "status": "INIT", "task_num": 10}])",
           .jobs = R"([{"source_id": 7, "job_id": 1}])"});
  w.wait_ready();
  set_job(w, R"("status": "DOING")");
  w.tail->wait_for("JobStarted");
  std::string rotated = w.alerts_path + ".1";
  std::filesystem::rename(w.alerts_path, rotated);
  w.daemon->send(SIGHUP);
  w.wait("the daemon to log that it reloaded (and reopened its alert file)", 10s, [&] {
    return w.daemon_log().find("SIGHUP: configuration reloaded") != std::string::npos;
  });
  set_job(w, R"("status": "DONE", "task_done": 10)");
  w.wait("JobSucceeded in the new alert file", 20s,
         [&] { return file_text(w.alerts_path).find("\"JobSucceeded\"") != std::string::npos; });
  CHECK(file_text(rotated).find("JobStarted") != std::string::npos);
  CHECK(file_text(rotated).find("JobSucceeded") == std::string::npos);
  CHECK(file_text(w.alerts_path).find("JobStarted") == std::string::npos);
  CHECK(w.daemon->stop() == 0);
}

TEST_CASE("alerts.format logfmt writes one logfmt line per alert") {
  World w({.sim_jobs = R"([{"source_id": 7, "job_id": 1, "name": "orders", "status": "INIT",
                            "task_num": 10}])",
           .jobs = R"([{"source_id": 7, "job_id": 1}])",
           .config = {{"alerts", {{"format", "logfmt"}}}}});
  w.wait_ready();
  set_job(w, R"("status": "DOING", "task_done": 1)");
  w.wait("a JobStarted line", 20s,
         [&] { return file_text(w.alerts_path).find("alert=JobStarted") != std::string::npos; });
  std::string text = file_text(w.alerts_path);
  CHECK(text.starts_with("ts=20"));
  CHECK(text.ends_with("\n"));
  CHECK(text.find(" alert=JobStarted state=event severity=info source_id=7 job_id=1 "
                  "job_name=orders summary=\"Job orders (7/1) started: 1/10 tasks done.\" "
                  "from=INIT to=DOING task_done=1 task_num=10\n") != std::string::npos);
  CHECK(text.find('{') == std::string::npos);  // no JSON
}

TEST_CASE("metrics carry the values README states") {
  auto started = std::chrono::system_clock::now();
  auto epoch = [](std::chrono::system_clock::time_point t) {
    return std::chrono::duration<double>(t.time_since_epoch()).count();
  };
  World w({.sim_jobs = R"([{"source_id": 7, "job_id": 1, "name": "orders q4", "task_num": 10,
                            "task_done": 4, "eta": "2026-12-31", "create_time": "2026-11-20 10:00:00"}])",
           .jobs = R"([{"source_id": 7, "job_id": 1}])"});
  w.wait_ready();
  auto m = w.get("/metrics").body;
  double now = epoch(std::chrono::system_clock::now()), t0 = epoch(started) - 1;
  // createTime and eta carry no zone: +08:00 (api.time_zone); eta is the end of that day.
  CHECK(metric(m, R"(mms_job_created_timestamp_seconds{source_id="7",job_id="1"})") ==
        1795140000);  // 2026-11-20T02:00:00Z
  CHECK(metric(m, R"(mms_job_eta_timestamp_seconds{source_id="7",job_id="1"})") ==
        1798732800);  // 2026-12-31T16:00:00Z
  // Progress is first seen at the first poll.
  double progress =
      metric(m, R"(mms_job_last_progress_timestamp_seconds{source_id="7",job_id="1"})");
  CHECK(progress >= t0);
  CHECK(progress <= now);
  double success = metric(m, R"(mms_job_last_success_timestamp_seconds{source_id="7",job_id="1"})");
  CHECK(success >= progress);
  CHECK(success <= now);
  double reload = metric(m, "mmsmon_config_last_reload_success_timestamp_seconds");
  CHECK(reload >= t0);
  CHECK(reload <= progress);
  // The request-duration histogram counts every request.
  double requests = metric(m, R"(mmsmon_api_requests_total{action="GetMmsJob"})");
  CHECK(requests >= 1);
  CHECK(metric(m, R"(mmsmon_api_request_duration_seconds_count{action="GetMmsJob"})") == requests);
  CHECK(metric(m, R"(mmsmon_api_request_duration_seconds_bucket{action="GetMmsJob",le="+Inf"})") ==
        requests);
  CHECK(metric(m, R"(mmsmon_api_request_duration_seconds_bucket{action="GetMmsJob",le="10"})") ==
        requests);
  CHECK(metric(m, R"(mmsmon_api_request_duration_seconds_sum{action="GetMmsJob"})") > 0);
  // The process_* metrics of this process.
  double start = metric(m, "process_start_time_seconds");
  CHECK(start >= t0);
  CHECK(start <= reload + 1);
  CHECK(metric(m, "process_open_fds") >= 4);  // stdio, the listener, a connection to the API
  CHECK(metric(m, "process_max_fds") >= metric(m, "process_open_fds"));
  CHECK(metric(m, "process_resident_memory_bytes") > 1e6);
  CHECK(metric(m, "process_virtual_memory_bytes") > metric(m, "process_resident_memory_bytes"));
  CHECK(metric(m, "process_cpu_seconds_total") >= 0);
  // No sample carries a timestamp: each sample line is `name{labels} value`, nothing after.
  std::istringstream lines(m);
  std::size_t samples = 0;
  for (std::string line; std::getline(lines, line);) {
    if (line.empty() || line[0] == '#') continue;
    ++samples;
    auto close = line.rfind('}');
    std::string tail = line.substr(close == std::string::npos ? line.find(' ') : close + 1);
    CAPTURE(line);
    CHECK(tail.size() > 1);
    CHECK(tail[0] == ' ');
    CHECK(tail.find(' ', 1) == std::string::npos);
  }
  CHECK(samples > 40);
  // After a failed poll the last known values stay, with mms_job_up 0.
  w.sim.admin(
      "POST", "/admin/faults",
      R"({"job": {"source_id": 7, "job_id": 1}, "error": {"status": 500, "code": "InternalError"}})");
  std::string failed;
  w.wait("mms_job_up 0", 20s, [&] {
    failed = w.get("/metrics").body;
    return metric(failed, R"(mms_job_up{source_id="7",job_id="1"})") == 0;
  });
  CHECK(metric(failed, R"(mms_job_poll_failure{source_id="7",job_id="1",reason="server"})") == 1);
  CHECK(metric(failed, R"(mms_job_tasks_done{source_id="7",job_id="1"})") == 4);
  CHECK(metric(failed, R"(mms_job_tasks{source_id="7",job_id="1"})") == 10);
  CHECK(failed.find(R"(mms_job_info{source_id="7",job_id="1",name="orders q4")") !=
        std::string::npos);
  CHECK(metric(failed, R"(mms_job_last_success_timestamp_seconds{source_id="7",job_id="1"})") >=
        success);
}

TEST_CASE("only retryable failures are retried, sooner than the interval") {
  // Interval 10 s: job 1 fails with a 500 (retryable: backoff from 1 s), job 2 with a client
  // error (not retryable: the next poll after the interval), job 3 succeeds.
  World w(
      {.sim_jobs = R"([{"source_id": 7, "job_id": 1}, {"source_id": 7, "job_id": 2},
                           {"source_id": 7, "job_id": 3}])",
       .jobs = R"([{"source_id": 7, "job_id": 1}, {"source_id": 7, "job_id": 2},
                       {"source_id": 7, "job_id": 3}])",
       .config = {{"poll", {{"interval", "10s"}}}},
       .sim_faults = {
           R"({"job": {"source_id": 7, "job_id": 1}, "error": {"status": 503, "code": "ServiceUnavailable"}})",
           R"({"job": {"source_id": 7, "job_id": 2}, "error": {"status": 400, "code": "InvalidParameter"}})"}});
  auto polls = [&](const std::string& job) {
    auto by = w.sim.admin("GET", "/admin/stats").at("by_job").as_object();
    return by.contains(job) ? by.at(job).as_int64() : 0;
  };
  // First polls are spread over the interval: job 1 at 0 s, job 2 at 3.3 s, job 3 at 6.7 s.
  // Backoff brings job 1's fourth poll within 1 + 2 + 4 s; job 2's second poll is due at
  // 13.3 s. So once job 3 has been polled and job 1 four times, job 2 was polled once: its
  // client error was not retried (a retry would have come within 1 s).
  w.wait("job 3's first poll and four polls of job 1", 20s,
         [&] { return polls("7/3") >= 1 && polls("7/1") >= 4; });
  CHECK(polls("7/2") == 1);
  CHECK(polls("7/3") == 1);
  auto metrics = w.get("/metrics").body;
  CHECK(metric(metrics,
               R"(mmsmon_api_request_failures_total{action="GetMmsJob",reason="server"})") >= 4);
}

TEST_CASE("SIGTERM ends the polls under way within api.timeout, then exits 0") {
  auto [jobs, refs] = numbered_jobs(3);
  World w({.sim_jobs = jobs,
           .jobs = refs,
           .config = {{"api", {{"timeout", "1s"}}}},
           .sim_faults = {R"({"delay": "30s"})"}});
  w.wait_in_flight();
  auto t0 = std::chrono::steady_clock::now();
  CHECK(w.daemon->stop() == 0);
  auto took = std::chrono::steady_clock::now() - t0;
  // README: polls in flight end within api.timeout (a step deadline, at most a quarter late).
  CHECK_MESSAGE(took < 1s + 250ms + kSlowMachineMargin,
                std::chrono::duration_cast<std::chrono::milliseconds>(took).count() << " ms");
  CHECK(w.daemon_log().find("stopped") != std::string::npos);
}

namespace {

/// Moves this test process (and the children it starts) into a mount namespace of its own,
/// so that it can mount file systems without touching the machine's (needs root, as CI runs).
void enter_private_mount_namespace() {
  REQUIRE_MESSAGE(geteuid() == 0, "needs root for a private mount namespace");
  REQUIRE(unshare(CLONE_NEWNS) == 0);
  REQUIRE(mount("none", "/", nullptr, MS_REC | MS_PRIVATE, nullptr) == 0);
}

/// A stand-in for journald: the native protocol's datagram socket at its fixed path, in a
/// private mount namespace of this test process (needs root, as CI runs).
class FakeJournal {
 public:
  FakeJournal() {
    enter_private_mount_namespace();
    std::filesystem::create_directories("/run/systemd/journal");
    REQUIRE(mount("tmpfs", "/run/systemd/journal", "tmpfs", 0, "mode=0755") == 0);
    fd_ = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    sockaddr_un a{};
    a.sun_family = AF_UNIX;
    std::strcpy(a.sun_path, "/run/systemd/journal/socket");
    REQUIRE(bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
  }
  ~FakeJournal() { close(fd_); }

  /// Fields of each entry received so far (and within `wait` for the first one).
  struct Entry {
    std::string message;
    int priority = -1;
    std::string identifier;
  };
  std::vector<Entry> entries;

  /// Reads entries until one whose MESSAGE contains `text` arrives (bounded).
  Entry wait_for(const std::string& text, std::chrono::milliseconds limit = 20s) {
    auto deadline = std::chrono::steady_clock::now() + limit;
    for (;;) {
      for (const auto& e : entries)
        if (e.message.find(text) != std::string::npos) return e;
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          deadline - std::chrono::steady_clock::now());
      if (left <= 0ms) FAIL("no journal entry with \"" << text << "\"");
      pollfd p{fd_, POLLIN, 0};
      if (poll(&p, 1, static_cast<int>(left.count())) <= 0) continue;
      char buf[65536];
      auto n = recv(fd_, buf, sizeof buf, 0);
      if (n <= 0) continue;
      Entry e;
      std::istringstream in(std::string(buf, static_cast<std::size_t>(n)));
      for (std::string field; std::getline(in, field);) {
        if (field.starts_with("MESSAGE=")) e.message = field.substr(8);
        if (field.starts_with("PRIORITY=")) e.priority = std::stoi(field.substr(9));
        if (field.starts_with("SYSLOG_IDENTIFIER=")) e.identifier = field.substr(18);
      }
      entries.push_back(std::move(e));
    }
  }

 private:
  int fd_ = -1;
};

}  // namespace

TEST_CASE("under systemd the main log goes to the journal, with matching priorities") {
  FakeJournal journal;
  World w({.sim_jobs = R"([{"source_id": 7, "job_id": 1, "name": "orders", "status": "INIT",
                            "task_num": 10}])",
           .jobs = R"([{"source_id": 7, "job_id": 1}])",
           .journal_stream = true});
  auto hello = journal.wait_for("watching 1 jobs");
  CHECK(hello.priority == 6);  // info
  CHECK(hello.identifier == "mmsmon");
  w.wait_ready();
  set_job(w, R"("status": "DOING")");
  auto started = journal.wait_for("alert=JobStarted");
  CHECK(started.priority == 6);
  CHECK(started.message.starts_with("alert ts="));
  set_job(w, R"("stopped": true)");
  CHECK(journal.wait_for("alert=JobStopped").priority == 4);  // warning
  set_job(w, R"("status": "FAILED")");
  CHECK(journal.wait_for("alert=JobFailed").priority == 3);  // critical alerts log as errors
  // Nothing went to stderr: the journal has it all.
  CHECK(w.daemon_log().find("alert=") == std::string::npos);
  CHECK(w.daemon->stop() == 0);
}

namespace {

/// Plays systemd's side of the notify protocol: a datagram socket named by $NOTIFY_SOCKET.
/// While it waits it also drains `drain_fd` when asked to (a FIFO the daemon writes to).
class FakeNotifySocket {
 public:
  explicit FakeNotifySocket(const std::filesystem::path& path) : path_(path.string()) {
    fd_ = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    sockaddr_un a{};
    a.sun_family = AF_UNIX;
    REQUIRE(path_.size() < sizeof a.sun_path);
    std::strcpy(a.sun_path, path_.c_str());
    REQUIRE(bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
  }
  ~FakeNotifySocket() { close(fd_); }
  std::string env() const { return "NOTIFY_SOCKET=" + path_; }

  /// The next message within `limit`, or "" when none came. Drains `drain_fd` meanwhile if
  /// it is >= 0.
  std::string next(std::chrono::milliseconds limit, int drain_fd = -1) {
    auto deadline = std::chrono::steady_clock::now() + limit;
    for (;;) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          deadline - std::chrono::steady_clock::now());
      if (left <= 0ms) return "";
      pollfd p[2] = {{fd_, POLLIN, 0}, {drain_fd, POLLIN, 0}};
      if (poll(p, drain_fd >= 0 ? 2 : 1, static_cast<int>(left.count())) <= 0) continue;
      if (drain_fd >= 0 && (p[1].revents & POLLIN)) {
        char buf[65536];
        (void)!read(drain_fd, buf, sizeof buf);
      }
      if (p[0].revents & POLLIN) {
        char buf[4096];
        auto n = recv(fd_, buf, sizeof buf, 0);
        if (n > 0) return std::string(buf, static_cast<std::size_t>(n));
      }
    }
  }

  /// Waits (bounded) for a message containing `what`; returns it.
  std::string wait_for(const std::string& what, std::chrono::milliseconds limit = 20s,
                       int drain_fd = -1) {
    auto deadline = std::chrono::steady_clock::now() + limit;
    while (std::chrono::steady_clock::now() < deadline) {
      auto m = next(std::chrono::duration_cast<std::chrono::milliseconds>(
                        deadline - std::chrono::steady_clock::now()),
                    drain_fd);
      if (m.find(what) != std::string::npos) return m;
    }
    FAIL("no notify message with " << what);
    return "";
  }

 private:
  std::string path_;
  int fd_ = -1;
};

}  // namespace

TEST_CASE("systemd: READY once listening, WATCHDOG from the event loop, RELOADING, STOPPING") {
  TempDir d;
  FakeNotifySocket notify(d.path / "notify");
  // The alert file is a FIFO that this test reads only when it wants: when it stops reading,
  // alert writes block the event loop, and the watchdog pings must stop with it.
  std::string fifo = (d.path / "alerts.fifo").string();
  REQUIRE(mkfifo(fifo.c_str(), 0600) == 0);
  int reader = open(fifo.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC);
  REQUIRE(reader >= 0);
  auto [jobs, refs] = numbered_jobs(200);
  World w({.sim_jobs = jobs,
           .jobs = refs,
           .config = {{"alerts", {{"file", fifo}}}},
           .env = {notify.env(), "WATCHDOG_USEC=200000"},
           .watchdog_pid = true});
  // READY comes after the port was reported (the listener is bound), with a status line.
  auto ready = notify.wait_for("READY=1");
  CHECK(ready.find("STATUS=watching 200 jobs, 0 failing, 0 alerts firing") != std::string::npos);
  CHECK(w.get("/-/healthy").status == 200);
  // Pings at half the period (100 ms): about twenty in two seconds.
  int pings = 0;
  auto t0 = std::chrono::steady_clock::now();
  while (std::chrono::steady_clock::now() - t0 < 2s)
    pings += notify.next(500ms, reader).find("WATCHDOG=1") != std::string::npos;
  CHECK(pings >= 12);
  CHECK(pings <= 28);
  // Every job now fails with JobNotFound: 200 alert lines, more than the FIFO holds unread.
  w.sim.admin("POST", "/admin/faults",
              R"({"action": "GetMmsJob", "error": {"status": 404, "code": "MmsJobNotFound"}})");
  bool quiet = false;
  auto limit = std::chrono::steady_clock::now() + 15s;
  while (!quiet && std::chrono::steady_clock::now() < limit)
    quiet = notify.next(1s).empty();  // a second without any message: the loop is stuck
  CHECK_MESSAGE(quiet, "watchdog pings went on while the event loop was blocked");
  // Reading the FIFO unblocks the loop; the pings resume.
  notify.wait_for("WATCHDOG=1", 10s, reader);
  // A reload: RELOADING=1 with the monotonic time, then READY=1 again.
  w.daemon->send(SIGHUP);
  auto reloading = notify.wait_for("RELOADING=1", 10s, reader);
  CHECK(reloading.find("MONOTONIC_USEC=") != std::string::npos);
  auto ready2 = notify.wait_for("READY=1", 10s, reader);
  CHECK(ready2.find("STATUS=watching 200 jobs") != std::string::npos);
  // Stopping.
  kill(w.daemon->pid(), SIGTERM);
  notify.wait_for("STOPPING=1", 10s, reader);
  CHECK(w.daemon->wait(10s) == 0);
  close(reader);
}

TEST_CASE("reload: jobs added start, jobs removed resolve as untracked, jobs kept say nothing") {
  // Job 2 does not exist: JobNotFound fires for it.
  World w({.sim_jobs = R"([{"source_id": 7, "job_id": 1, "name": "kept", "task_num": 10},
                           {"source_id": 7, "job_id": 3, "name": "added", "task_num": 10}])",
           .jobs = R"([{"source_id": 7, "job_id": 1}, {"source_id": 7, "job_id": 2}])"});
  w.tail->wait_for("JobNotFound", "firing", 2);
  w.wait_ready();
  auto before = w.get("/metrics").body;
  double reloaded_at = metric(before, "mmsmon_config_last_reload_success_timestamp_seconds");
  w.rewrite_config([](json::object& c) {
    c["jobs"] = json::array{json::object{{"source_id", 7}, {"job_id", 1}, {"interval", "2s"}},
                            json::object{{"source_id", 7}, {"job_id", 3}}};
  });
  auto r = w.post("/-/reload");
  CHECK(r.status == 200);
  auto resolved = w.tail->wait_for("JobNotFound", "resolved", 2);
  CHECK(resolved.at("reason").as_string() == "untracked");
  w.wait("job 3 to be polled", 20s, [&] {
    return w.get("/metrics").body.find(R"(mms_job_up{source_id="7",job_id="3"} 1)") !=
           std::string::npos;
  });
  auto after = w.get("/metrics").body;
  CHECK(after.find(R"(job_id="2")") == std::string::npos);  // its series are gone
  CHECK(metric(after, "mmsmon_tracked_jobs") == 2);
  CHECK(metric(after, "mmsmon_config_last_reload_successful") == 1);
  CHECK(metric(after, "mmsmon_config_last_reload_success_timestamp_seconds") > reloaded_at);
  // Job 1 kept its state (its last success is older than the reload) and a new interval.
  auto jobs = json::parse(w.get("/api/v1/jobs").body).as_array();
  REQUIRE(jobs.size() == 2);
  CHECK(jobs[0].at("interval_seconds").as_double() == 2);
  CHECK(jobs[0].at("name").as_string() == "kept");
  // Nothing but the resolution was said.
  std::vector<std::string> names;
  for (const auto& l : w.tail->lines())
    names.push_back(std::string(l.at("alert").as_string()) + ":" +
                    std::string(l.at("state").as_string()));
  CHECK(names == std::vector<std::string>{"JobNotFound:firing", "JobNotFound:resolved"});
}

TEST_CASE("reload: a broken config keeps the old one, says why, and polling goes on") {
  World w({.sim_jobs = R"([{"source_id": 7, "job_id": 1, "task_num": 10}])",
           .jobs = R"([{"source_id": 7, "job_id": 1}])"});
  w.wait_ready();
  std::ofstream(w.config_path, std::ios::trunc)
      << "{\n  \"api\": {\"endpoint\": \"http://127.0.0.1:1\"},\n  \"jobs\": [],\n  \"pol\": "
         "1\n}\n";
  std::filesystem::rename(w.alerts_path, w.alerts_path + ".1");  // logrotate ran
  auto r = w.post("/-/reload");
  CHECK(r.status == 400);
  CHECK(r.body.find("the old one stays") != std::string::npos);
  CHECK(r.body.find(w.config_path + ":4:3: pol: unknown key \"pol\"; did you mean \"poll\"?") !=
        std::string::npos);
  auto m = w.get("/metrics").body;
  CHECK(metric(m, "mmsmon_config_last_reload_successful") == 0);
  CHECK(w.daemon_log().find("reload failed, the old configuration stays") != std::string::npos);
  w.wait_requests(3);  // still polling the old endpoint
  CHECK(metric(w.get("/metrics").body, R"(mms_job_up{source_id="7",job_id="1"})") == 1);
  // The alert file was reopened all the same: the next alert is in the new file.
  set_job(w, R"("stopped": true)");
  w.wait("JobStopped in the reopened alert file", 20s,
         [&] { return file_text(w.alerts_path).find("JobStopped") != std::string::npos; });
  // SIGHUP takes the same path: with the file fixed, the reload succeeds.
  w.rewrite_config([](json::object&) {});
  w.daemon->send(SIGHUP);
  w.wait("a successful reload", 10s, [&] {
    return metric(w.get("/metrics").body, "mmsmon_config_last_reload_successful") == 1;
  });
}

TEST_CASE(
    "reload: a new listen address is bound before the old one closes, and the alert file "
    "and log level take effect") {
  World w({.sim_jobs = R"([{"source_id": 7, "job_id": 1, "status": "INIT", "task_num": 10}])",
           .jobs = R"([{"source_id": 7, "job_id": 1}])"});
  w.wait_ready();
  unsigned short old_port = w.daemon->port();
  std::string new_alerts = (w.dir.path / "alerts-2.log").string();
  w.rewrite_config([&](json::object& c) {
    c["listen"] = "127.0.0.2:0";
    c["alerts"].as_object()["file"] = new_alerts;
    c["log_level"] = "warn";
    c["alerts"].as_object()["unreachable_after"] = "1h";
  });
  w.daemon->send(SIGHUP);
  unsigned short new_port = w.daemon->next_port();
  auto healthy = http_call(new_port, "GET", "/-/healthy", "", "", "127.0.0.2");
  CHECK(healthy.status == 200);
  CHECK_THROWS(http_call(old_port, "GET", "/-/healthy"));  // closed after the new one was up
  set_job(w, R"("status": "DOING")");
  w.wait("JobStarted in the new alert file", 20s,
         [&] { return file_text(new_alerts).find("JobStarted") != std::string::npos; });
  CHECK(file_text(w.alerts_path).find("JobStarted") == std::string::npos);
  // At level warn, the info-level alert line is not in the main log.
  auto log = w.daemon_log();
  CHECK(log.find("info alert ts=") == std::string::npos);
  // unreachable_after is 1h now (2 s before): failing polls for a few seconds raise nothing.
  w.sim.admin(
      "POST", "/admin/faults",
      R"({"job": {"source_id": 7, "job_id": 1}, "error": {"status": 500, "code": "InternalError"}})");
  auto requests = [&] { return w.sim.admin("GET", "/admin/stats").at("requests").as_int64(); };
  auto r0 = requests();
  w.wait("failing polls for 4 s", 20s, [&] { return requests() >= r0 + 4; });
  std::this_thread::sleep_for(2s);  // past the old threshold
  CHECK(file_text(new_alerts).find("JobUnreachable") == std::string::npos);
}

TEST_CASE("stop: polls still under way are cancelled and the daemon exits 0 within 5 s") {
  auto [jobs, refs] = numbered_jobs(3);
  World w({.sim_jobs = jobs,
           .jobs = refs,
           .config = {{"api", {{"timeout", "10s"}}}},
           .sim_faults = {R"({"delay": "30s"})"}});
  w.wait_in_flight();
  auto t0 = std::chrono::steady_clock::now();
  CHECK(w.daemon->stop() == 0);
  auto took = std::chrono::steady_clock::now() - t0;
  CHECK(took < 5s);
  CHECK(took >= 3s);  // they had their grace first
  CHECK(w.daemon_log().find("cancelling the polls still under way") != std::string::npos);
  // A cancelled poll is not a failure of the job: nothing was said.
  CHECK(w.tail->lines().empty());
}

namespace {

std::size_t count_lines(const std::string& text, const std::string& what) {
  std::size_t n = 0;
  std::istringstream in(text);
  for (std::string l; std::getline(in, l);)
    n += l.find(what) != std::string::npos;
  return n;
}

}  // namespace

TEST_CASE("state: a restart says nothing again and alerts once what happened while down") {
  // Job 2 does not exist (JobNotFound fires); job 1 runs.
  World w({.sim_jobs = R"([{"source_id": 7, "job_id": 1, "name": "orders", "status": "DOING",
                           "task_num": 10, "task_done": 2}])",
           .jobs = R"([{"source_id": 7, "job_id": 1}, {"source_id": 7, "job_id": 2}])"});
  // The state file lives in the World's own directory: restart with it from the start.
  CHECK(w.daemon->stop() == 0);
  std::filesystem::remove(w.alerts_path);
  std::string state = (w.dir.path / "state.json").string();
  w.rewrite_config([&](json::object& c) {
    c["state_file"] = state;
    c["state_save_interval"] = "200ms";
  });
  w.tail = std::make_unique<AlertTail>(w.alerts_path);
  w.start_daemon();
  w.tail->wait_for("JobNotFound", "firing", 2);
  w.wait_ready();
  w.wait("the state saved", 10s,
         [&] { return file_text(state).find("\"JobNotFound\"") != std::string::npos; });
  CHECK(w.daemon->stop() == 0);
  // While mmsmon is down, job 1 fails.
  set_job(w, R"("status": "FAILED")");
  w.start_daemon();
  w.wait_ready();
  auto failed = w.tail->wait_for("JobFailed");
  CHECK(failed.at("from").as_string() == "DOING");
  CHECK(w.daemon_log().find("state restored from " + state) != std::string::npos);
  w.wait_requests(4);
  CHECK(w.daemon->stop() == 0);
  w.start_daemon();  // a third start: nothing new happened, nothing is said
  w.wait_ready();
  w.wait_requests(4);
  auto alerts = file_text(w.alerts_path);
  CHECK(count_lines(alerts, "\"JobNotFound\"") == 1);
  CHECK(count_lines(alerts, "\"JobFailed\"") == 1);
  CHECK(count_lines(alerts, "\"alert\"") == 2);
  // A fourth start without job 2 in the config: it is dropped, its alert resolves.
  CHECK(w.daemon->stop() == 0);
  w.rewrite_config([](json::object& c) {
    c["jobs"] = json::array{json::object{{"source_id", 7}, {"job_id", 1}}};
  });
  w.start_daemon();
  auto dropped = w.tail->wait_for("JobNotFound", "resolved", 2);
  CHECK(dropped.at("reason").as_string() == "untracked");
  auto m = w.get("/metrics").body;
  CHECK(metric(m, R"(mms_job_transitions_total{source_id="7",job_id="1",to="FAILED"})") == 1);
  CHECK(metric(m, "mmsmon_state_last_save_timestamp_seconds") > 0);
}

TEST_CASE("state: an unusable state file is set aside and the daemon starts fresh") {
  World w({.sim_jobs = R"([{"source_id": 7, "job_id": 1, "task_num": 10}])",
           .jobs = R"([{"source_id": 7, "job_id": 1}])"});
  std::string state = (w.dir.path / "state.json").string();
  w.rewrite_config([&](json::object& c) { c["state_file"] = state; });
  CHECK(w.daemon->stop() == 0);
  std::ofstream(state) << "{\"format\": \"mmsmon-state\", \"version\": 99}";  // from the future
  w.start_daemon();
  w.wait_ready();
  auto log = w.daemon_log();
  CHECK(log.find("state file " + state +
                 " is unusable (format version 99, this build reads "
                 "version 1); moved it to " +
                 state + ".bad-") != std::string::npos);
  CHECK(metric(w.get("/metrics").body, "mmsmon_state_set_aside_total") == 1);
  w.wait("a new state file", 20s,
         [&] { return file_text(state).find("\"mmsmon-state\"") != std::string::npos; });
}

TEST_CASE("state: an unwritable state directory is logged and counted, polling goes on") {
  World w({.sim_jobs = R"([{"source_id": 7, "job_id": 1, "task_num": 10}])",
           .jobs = R"([{"source_id": 7, "job_id": 1}])",
           .config = {{"state_file", "/nonexistent/dir/state.json"},
                      {"state_save_interval", "200ms"}}});
  w.wait_ready();
  w.wait("a failed save counted", 10s,
         [&] { return metric(w.get("/metrics").body, "mmsmon_state_save_failures_total") >= 1; });
  CHECK(count_lines(w.daemon_log(), "cannot save the state to /nonexistent/dir/state.json") == 1);
  w.wait_requests(3);
  CHECK(metric(w.get("/metrics").body, R"(mms_job_up{source_id="7",job_id="1"})") == 1);
  CHECK(w.daemon->stop() == 0);
}

TEST_CASE("state: killed at random moments while saving, every start loads a valid file") {
  // 300 jobs that progress (the state changes all the time, saved every 100 ms) and 5 that
  // do not exist (each JobNotFound is said once, whatever the restarts).
  std::string sim_jobs = "[", jobs = "[";
  for (int i = 1; i <= 305; ++i) {
    if (i <= 300)
      sim_jobs += std::string(i > 1 ? "," : "") + R"({"source_id": 7, "job_id": )" +
                  std::to_string(i) + R"(, "task_num": 100000, "rate": 20})";
    jobs +=
        std::string(i > 1 ? "," : "") + R"({"source_id": 7, "job_id": )" + std::to_string(i) + "}";
  }
  World w({.sim_jobs = sim_jobs + "]", .jobs = jobs + "]"});
  std::string state = (w.dir.path / "state.json").string();
  w.rewrite_config([&](json::object& c) {
    c["state_file"] = state;
    c["state_save_interval"] = "100ms";
    c["log_level"] = "info";
  });
  CHECK(w.daemon->stop() == 0);
  std::mt19937 rng(20261126);
  std::uniform_int_distribution<int> pause_ms(100, 1500);
  for (int round = 0; round < 12; ++round) {
    CAPTURE(round);
    w.start_daemon();
    std::this_thread::sleep_for(std::chrono::milliseconds(pause_ms(rng)));  // a random moment
    w.daemon->stop(SIGKILL);
  }
  w.start_daemon();
  w.wait_ready();
  auto log = w.daemon_log();
  CHECK(log.find("is unusable") == std::string::npos);
  CHECK(count_lines(log, "state restored from " + state) >= 6);  // most starts found one
  auto alerts = file_text(w.alerts_path);
  for (int i = 301; i <= 305; ++i) {
    CAPTURE(i);
    CHECK(count_lines(alerts, "\"job_id\":" + std::to_string(i) + ",") <= 1);
  }
  CHECK(w.daemon->stop() == 0);
}

TEST_CASE("systemd: a NOTIFY_SOCKET that points nowhere is logged once and counted") {
  World w({.sim_jobs = R"([{"source_id": 7, "job_id": 1, "task_num": 10}])",
           .jobs = R"([{"source_id": 7, "job_id": 1}])",
           .env = {"NOTIFY_SOCKET=/nonexistent/notify", "WATCHDOG_USEC=200000"},
           .watchdog_pid = true});
  w.wait_ready();
  w.wait("failed notifications counted", 10s, [&] {
    return metric(w.get("/metrics").body, "mmsmon_systemd_notify_failures_total") >= 3;
  });
  CHECK(count_lines(w.daemon_log(), "cannot notify the service manager ($NOTIFY_SOCKET)") == 1);
  CHECK(metric(w.get("/metrics").body, R"(mms_job_up{source_id="7",job_id="1"})") == 1);
  CHECK(w.daemon->stop() == 0);
}

TEST_CASE("stop: a second SIGTERM while stopping exits at once") {
  auto [jobs, refs] = numbered_jobs(3);
  World w({.sim_jobs = jobs,
           .jobs = refs,
           .config = {{"api", {{"timeout", "10s"}}}},
           .sim_faults = {R"({"delay": "30s"})"}});
  w.wait_in_flight();
  w.daemon->send(SIGTERM);  // would wait up to 3 s for the polls under way
  w.wait("the daemon to say it is stopping", 5s,
         [&] { return w.daemon_log().find("stopping") != std::string::npos; });
  auto t0 = std::chrono::steady_clock::now();
  w.daemon->send(SIGTERM);
  CHECK(w.daemon->wait(5s) == 0);
  CHECK(std::chrono::steady_clock::now() - t0 < 1s);
  CHECK(w.daemon_log().find("while stopping: exiting at once") != std::string::npos);
}

TEST_CASE("alert log: a full disk loses no alert and breaks no line") {
  enter_private_mount_namespace();
  TempDir d;
  auto disk = d.path / "disk";
  std::filesystem::create_directories(disk);
  REQUIRE(mount("tmpfs", disk.c_str(), "tmpfs", 0, "size=1m") == 0);
  struct Unmount {
    std::string at;
    ~Unmount() { umount2(at.c_str(), MNT_DETACH); }
  } unmount{disk.string()};
  std::string alerts = (disk / "alerts.log").string();
  auto [jobs, refs] = numbered_jobs(20);
  World w({.sim_jobs = jobs, .jobs = refs, .config = {{"alerts", {{"file", alerts}}}}});
  w.wait_ready();
  // Fill the disk.
  {
    std::ofstream filler(disk / "filler", std::ios::binary);
    std::string block(4096, 'f');
    while (filler.write(block.data(), static_cast<std::streamsize>(block.size())) &&
           filler.flush()) {
    }
  }
  // Every job fails with JobNotFound: 20 alerts that the disk cannot take.
  w.sim.admin("POST", "/admin/faults",
              R"({"action": "GetMmsJob", "error": {"status": 404, "code": "MmsJobNotFound"}})");
  w.wait("alert lines waiting for the disk", 20s, [&] {
    auto m = w.get("/metrics").body;
    return metric(m, "mmsmon_alert_log_write_failures_total") >= 1 &&
           metric(m, "mmsmon_alert_log_queue_length") >= 20;
  });
  CHECK(file_text(alerts).empty());
  CHECK(w.daemon_log().find("cannot write to alert file " + alerts) != std::string::npos);
  // Space again: the waiting lines are written, in order.
  std::filesystem::remove(disk / "filler");
  w.wait("the queue written out", 10s,
         [&] { return metric(w.get("/metrics").body, "mmsmon_alert_log_queue_length") == 0; });
  w.sim.admin("DELETE", "/admin/faults");  // 20 resolutions, on a disk with room
  w.wait("the resolutions", 20s,
         [&] { return count_lines(file_text(alerts), "\"resolved\"") == 20; });
  CHECK(w.daemon->stop() == 0);
  auto text = file_text(alerts);
  CHECK(count_lines(text, "\"JobNotFound\"") == 40);
  CHECK(count_lines(text, "\"firing\"") == 20);
  std::istringstream in(text);
  std::set<std::string> firing;
  for (std::string line; std::getline(in, line);) {
    auto o = json::parse(line).as_object();  // whole JSON lines only
    if (o.at("state").as_string() == "firing")
      CHECK(firing.insert(std::to_string(o.at("job_id").as_int64())).second);  // each once
  }
  CHECK(firing.size() == 20);
}

TEST_CASE("alert log: a deleted alert file is noticed and written anew, without a reload") {
  World w({.sim_jobs = R"([{"source_id": 7, "job_id": 1, "status": "INIT", "task_num": 10}])",
           .jobs = R"([{"source_id": 7, "job_id": 1}])"});
  w.wait_ready();
  set_job(w, R"("status": "DOING")");
  w.tail->wait_for("JobStarted");
  std::filesystem::remove(w.alerts_path);
  w.wait("the alert file to be created again", 10s,
         [&] { return std::filesystem::exists(w.alerts_path); });
  set_job(w, R"("status": "DONE", "task_done": 10)");
  w.wait("JobSucceeded in the new file", 20s,
         [&] { return file_text(w.alerts_path).find("JobSucceeded") != std::string::npos; });
  CHECK(w.daemon_log().find("was deleted or replaced; reopened it") != std::string::npos);
}

TEST_CASE("web: TLS and basic auth on the HTTP server, as exporter-toolkit's web config") {
  TempDir d;
  std::string cert = (d.path / "cert.pem").string(), key = (d.path / "key.pem").string();
  REQUIRE(std::system(("openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=mmsmon "
                       "-keyout " +
                       key + " -out " + cert + " -addext subjectAltName=IP:127.0.0.1 2>/dev/null")
                          .c_str()) == 0);
  // bcrypt of "scrape-password" (cost 4 keeps the test quick; cost 10 is usual).
  const std::string hash = "$2b$04$mmsmontestsaltmmsmonteuV4aGFg8HwsmtZTMxqqKCyXMG0NqP1q";
  World w({.sim_jobs = R"([{"source_id": 7, "job_id": 1, "task_num": 10, "task_done": 3}])",
           .jobs = R"([{"source_id": 7, "job_id": 1}])",
           .config = {{"web",
                       {{"tls_server_config", {{"cert_file", cert}, {"key_file", key}}},
                        {"basic_auth_users", {{"prometheus", hash}}}}}}});
  auto port = w.daemon->port();
  auto basic = [](const std::string& user_pass) {
    static const char* b64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    std::string out;
    unsigned val = 0;
    int bits = -6;
    for (unsigned char c : user_pass) {
      val = (val << 8) + c;
      bits += 8;
      while (bits >= 0) {
        out += b64[(val >> bits) & 0x3f];
        bits -= 6;
      }
    }
    if (bits > -6) out += b64[((val << 8) >> (bits + 8)) & 0x3f];
    while (out.size() % 4)
      out += '=';
    return Params{{"authorization", "Basic " + out}};
  };
  auto call = [&](const std::string& target, const Params& auth,
                  const std::string& method = "GET") {
    return http_call(port, method, target, "", cert, "127.0.0.1", auth);
  };
  auto good = basic("prometheus:scrape-password");
  w.wait("/-/ready over HTTPS with the password", 20s,
         [&] { return call("/-/ready", good).status == 200; });
  auto m = call("/metrics", good);
  CHECK(m.status == 200);
  CHECK(metric(m.body, R"(mms_job_tasks_done{source_id="7",job_id="1"})") == 3);
  // A wrong password, an unknown user, no credentials: 401, counted.
  for (const auto& bad : {basic("prometheus:wrong"), basic("nobody:scrape-password"), Params{}}) {
    auto r = call("/metrics", bad);
    CHECK(r.status == 401);
    CHECK(r.header("www-authenticate") == "Basic realm=\"mmsmon\"");
    CHECK(r.body.find("mms_job") == std::string::npos);
  }
  CHECK(metric(call("/metrics", good).body, "mmsmon_http_auth_failures_total") == 3);
  CHECK(call("/-/healthy", {}).status == 401);  // not open unless the config says so
  // Plain HTTP to the TLS port fails cleanly, and the server goes on.
  CHECK_THROWS(http_call(port, "GET", "/metrics"));
  CHECK(call("/-/healthy", good).status == 200);
  // A reload opens /-/healthy to probes without a password.
  w.rewrite_config([](json::object& c) { c["web"].as_object()["health_without_auth"] = true; });
  CHECK(call("/-/reload", good, "POST").status == 200);
  CHECK(call("/-/healthy", {}).status == 200);
  CHECK(call("/metrics", {}).status == 401);
}

TEST_CASE("JobStalled: a running job without progress fires, progress resolves it") {
  World w({.sim_jobs = R"([{"source_id": 7, "job_id": 1, "name": "orders", "status": "DOING",
                            "task_num": 100, "task_done": 10}])",
           .jobs = R"([{"source_id": 7, "job_id": 1, "stall_after": "2s"}])",
           .config = {{"alerts", {{"stall_after", "1h"}}}}});  // the job's own threshold wins
  w.wait_ready();
  w.wait("JobStalled firing", 20s, [&] {
    return file_text(w.alerts_path).find(R"("alert":"JobStalled","state":"firing")") !=
           std::string::npos;
  });
  auto scrape = w.get("/metrics").body;
  CHECK(metric(scrape, R"(mmsmon_alerts_firing{alert="JobStalled",severity="warning"})") == 1);
  CHECK(metric(scrape, R"(mmsmon_alerts_firing{alert="JobUnreachable",severity="warning"})") == 0);
  set_job(w, R"("task_done": 11)");
  w.wait("JobStalled resolved", 20s, [&] {
    return file_text(w.alerts_path).find(R"("alert":"JobStalled","state":"resolved")") !=
           std::string::npos;
  });
  CHECK(metric(w.get("/metrics").body,
               R"(mmsmon_alerts_firing{alert="JobStalled",severity="warning"})") == 0);
  std::string text = file_text(w.alerts_path);
  CHECK(text.find("progresses again") != std::string::npos);
  CHECK(w.daemon->stop() == 0);
}

namespace {

/// Seconds since the epoch of an alert line's RFC 3339 time (`2026-11-25T09:30:00.123Z`).
double epoch_seconds(const json::value& v) {
  std::string s(v.as_string());
  std::tm tm{};
  REQUIRE(strptime(s.c_str(), "%Y-%m-%dT%H:%M:%S", &tm) != nullptr);
  return static_cast<double>(timegm(&tm)) + std::stod(s.substr(19, 4).replace(0, 1, "0."));
}

}  // namespace

TEST_CASE("alerts: reminders of a firing alert, and a resolution held for resolve_hold") {
  World w({.sim_jobs = R"([{"source_id": 7, "job_id": 1, "task_num": 10}])",
           .jobs = R"([{"source_id": 7, "job_id": 1}, {"source_id": 7, "job_id": 2}])",
           .config = {{"alerts", {{"repeat_interval", "2s"}, {"resolve_hold", "3s"}}}}});
  auto first = w.tail->wait_for("JobNotFound", "firing", 2);
  CHECK_FALSE(first.contains("reminder"));
  w.wait("a reminder", 10s, [&] {
    for (const auto& l : w.tail->lines())
      if (l.contains("reminder")) return true;
    return false;
  });
  json::object reminder;
  for (const auto& l : w.tail->lines())
    if (l.contains("reminder")) reminder = l;
  CHECK(reminder.at("state").as_string() == "firing");
  CHECK(reminder.at("reminder").as_bool());
  CHECK(reminder.at("code").as_string() == first.at("code").as_string());
  CHECK(epoch_seconds(reminder.at("ts")) - epoch_seconds(first.at("ts")) >= 1.9);
  // The job appears: the resolution waits until it has been found for 3 s.
  w.sim.admin("POST", "/admin/jobs", R"({"source_id": 7, "job_id": 2, "task_num": 5})");
  auto resolved = w.tail->wait_for("JobNotFound", "resolved", 2);
  double cleared = epoch_seconds(resolved.at("cleared_at"));
  CHECK(epoch_seconds(resolved.at("ts")) - cleared >= 2.9);
  CHECK(resolved.at("firing_seconds").as_double() ==
        doctest::Approx(cleared - epoch_seconds(first.at("ts"))).epsilon(0.01));
  std::size_t firing_lines = 0, resolved_lines = 0;
  for (const auto& l : w.tail->lines()) {
    firing_lines += l.at("state").as_string() == "firing";
    resolved_lines += l.at("state").as_string() == "resolved";
  }
  CHECK(resolved_lines == 1);
  CHECK(firing_lines >= 2);  // the first line and at least one reminder
  CHECK(metric(w.get("/metrics").body,
               R"(mmsmon_alerts_firing{alert="JobNotFound",severity="warning"})") == 0);
}

TEST_CASE("throughput, projected completion, and JobEtaAtRisk for a job behind its eta") {
  // 2 tasks a second, 100,000 tasks: ~14 h left; its eta day ended long ago.
  World w({.sim_jobs = R"([{"source_id": 7, "job_id": 1, "name": "late", "status": "DOING",
                           "task_num": 100000, "task_done": 10, "rate": 2, "eta": "2026-01-05"},
                          {"source_id": 7, "job_id": 2, "name": "on_time", "status": "DOING",
                           "task_num": 100000, "task_done": 10, "rate": 2, "eta": "2099-01-05"}])",
           .jobs = R"([{"source_id": 7, "job_id": 1}, {"source_id": 7, "job_id": 2}])",
           .config = {{"alerts", {{"eta_window", "12s"}}}}});
  auto a = w.tail->wait_for("JobEtaAtRisk", "firing", 1);
  CHECK(a.at("eta").as_string() == "2026-01-05");
  CHECK(a.at("eta_at").as_string() == "2026-01-05T16:00:00.000Z");  // end of day at +08:00
  CHECK(a.at("late_seconds").as_double() > 300 * 86400.0);
  auto m = w.get("/metrics").body;
  double rate = metric(m, R"(mms_job_throughput_tasks_per_second{source_id="7",job_id="1"})");
  CHECK(rate == doctest::Approx(2).epsilon(0.35));
  double done_at =
      metric(m, R"(mms_job_projected_completion_timestamp_seconds{source_id="7",job_id="1"})");
  double now =
      std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
  CHECK(done_at > now + 8 * 3600);  // ~14 h at 2/s
  CHECK(done_at < now + 24 * 3600);
  auto jobs = json::parse(w.get("/api/v1/jobs").body).as_array();
  CHECK(jobs[0].at("throughput_tasks_per_hour").as_double() > 3000);
  CHECK(jobs[0].at("projected_completion").is_string());
  // The job whose eta is far ahead says nothing.
  w.wait_requests(8);
  CHECK(count_lines(file_text(w.alerts_path), "\"JobEtaAtRisk\"") == 1);
}

TEST_CASE("task checks: one sweep of a data source's failed tasks serves all its running jobs") {
  // Source 7: 20 running jobs, jobs 3 and 5 with failed tasks; source 8: one running job,
  // checked on its own (a sweep would not pay).
  std::string jobs = "[", refs = "[";
  for (int i = 1; i <= 20; ++i) {
    std::string key = R"({"source_id": 7, "job_id": )" + std::to_string(i);
    std::string failed = i == 3   ? R"([{"at": 10, "table": "a", "msg": "boom"},
                                         {"at": 11, "table": "b", "status": "SCHEMA_FAILED"}])"
                         : i == 5 ? R"([{"at": 20, "table": "c", "msg": "quota"}])"
                                  : "[]";
    jobs += key + R"(, "status": "DOING", "task_num": 100, "task_done": 50, "failed_tasks": )" +
            failed + "},";
    refs += key + "},";
  }
  jobs += R"({"source_id": 8, "job_id": 1, "status": "DOING", "task_num": 100, "task_done": 50,
             "failed_tasks": [{"at": 5, "table": "d", "msg": "lost"}]}])";
  refs += R"({"source_id": 8, "job_id": 1}])";
  World w({.sim_jobs = jobs, .jobs = refs, .config = {{"tasks", {{"interval", "1s"}}}}});
  auto a3 = w.tail->wait_for("JobTasksFailed", "firing", 3);
  CHECK(a3.at("failed_tasks").as_int64() == 2);
  CHECK(a3.at("failed_schema").as_int64() == 1);
  CHECK(a3.at("failed_data").as_int64() == 1);
  CHECK(a3.at("task1_error").as_string().empty() == false);
  auto a5 = w.tail->wait_for("JobTasksFailed", "firing", 5);
  CHECK(a5.at("failed_tasks").as_int64() == 1);
  CHECK(a5.at("task1_error").as_string() == "quota");
  auto a8 = w.tail->wait_for("JobTasksFailed", "firing", 1);
  CHECK(a8.at("source_id").as_int64() == 8);
  CHECK(a8.at("task1_error").as_string() == "lost");
  // Every job has been checked; now count what a few rounds of checks cost.
  w.wait("every job's first check", 20s, [&] {
    auto m = w.get("/metrics").body;
    return m.find(R"(mms_job_tasks_failed{source_id="7",job_id="20")") != std::string::npos &&
           m.find(R"(mms_job_tasks_failed{source_id="8",job_id="1")") != std::string::npos;
  });
  auto m = w.get("/metrics").body;
  CHECK(metric(m, R"(mms_job_tasks_failed{source_id="7",job_id="3",phase="schema"})") == 1);
  CHECK(metric(m, R"(mms_job_tasks_failed{source_id="7",job_id="3",phase="data"})") == 1);
  CHECK(metric(m, R"(mms_job_tasks_failed{source_id="7",job_id="4",phase="data"})") == 0);
  CHECK(metric(m, R"(mms_job_tasks_failed{source_id="8",job_id="1",phase="data"})") == 1);
  auto tasks = [&] {
    return w.sim.admin("GET", "/admin/stats").at("by_action").at("ListMmsTasks").as_int64();
  };
  auto t0 = std::chrono::steady_clock::now();
  auto before = tasks();
  w.wait_requests(150);
  auto spent = tasks() - before;
  auto rounds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count() + 2;
  // A round: 3 requests for source 7's sweep and 3 for source 8's job; checking each of the
  // 21 jobs on its own would take 63.
  CHECK(spent > 0);
  CHECK(static_cast<double>(spent) <= 6 * rounds);
  CHECK(count_lines(file_text(w.alerts_path), "\"JobTasksFailed\"") == 3);
}

TEST_CASE(
    "JobTasksFailed: failed tasks of a running job, named with their error, updated once, resolved "
    "after a retry") {
  World w({.sim_jobs = R"([{"source_id": 7, "job_id": 1, "name": "orders", "status": "DOING",
                           "task_num": 100, "task_done": 50, "failed_tasks": [
                             {"at": 10, "table": "orders", "status": "DATA_FAILED",
                              "msg": "ODPS-0130071: quota\n\texhausted \u001b[0m", "retries": 2},
                             {"at": 12, "table": "items", "status": "SCHEMA_FAILED",
                              "msg": "column type mismatch"}]},
                          {"source_id": 7, "job_id": 2, "name": "clean", "status": "DOING",
                           "task_num": 100, "task_done": 50}])",
           .jobs = R"([{"source_id": 7, "job_id": 1}, {"source_id": 7, "job_id": 2}])",
           .config = {{"tasks", {{"interval", "1s"}}}}});
  auto a = w.tail->wait_for("JobTasksFailed", "firing", 1);
  CHECK(a.at("failed_tasks").as_int64() == 2);
  CHECK(a.at("failed_schema").as_int64() == 1);
  CHECK(a.at("failed_data").as_int64() == 1);
  CHECK(a.at("task1_phase").as_string() == "schema");
  CHECK(a.at("task1_source").as_string() == "default.items");
  CHECK(a.at("task1_error").as_string() == "column type mismatch");
  CHECK(a.at("task2_error").as_string() == "ODPS-0130071: quota exhausted [0m");
  CHECK(a.at("task2_retries").as_int64() == 2);
  CHECK(a.at("summary").as_string().find("is still running with 2 failed tasks") !=
        std::string::npos);
  w.wait("job 2's first task check", 20s, [&] {
    return w.get("/metrics").body.find(R"(mms_job_tasks_failed{source_id="7",job_id="2")") !=
           std::string::npos;
  });
  auto m = w.get("/metrics").body;
  CHECK(metric(m, R"(mms_job_tasks_failed{source_id="7",job_id="1",phase="schema"})") == 1);
  CHECK(metric(m, R"(mms_job_tasks_failed{source_id="7",job_id="1",phase="data"})") == 1);
  CHECK(metric(m, R"(mms_job_tasks_failed{source_id="7",job_id="2",phase="data"})") == 0);
  // Logs are read once per failed task, not at every check.
  w.wait_requests(12);
  auto stats = w.sim.admin("GET", "/admin/stats");
  CHECK(stats.at("by_action").at("ListMmsTaskLogs").as_int64() == 2);
  CHECK(stats.at("by_action").at("ListMmsTasks").as_int64() >= 9);
  // One more fails: one update.
  w.sim.admin("POST", "/admin/jobs", R"({"source_id": 7, "job_id": 1, "failed_tasks": [
      {"at": 10, "table": "orders", "status": "DATA_FAILED", "msg": "quota", "retries": 2},
      {"at": 12, "table": "items", "status": "SCHEMA_FAILED", "msg": "column type mismatch"},
      {"at": 20, "table": "users", "status": "VERIFICATION_FAILED", "msg": "row count differs"}]})");
  w.wait("the update", 20s, [&] {
    for (const auto& l : w.tail->lines())
      if (l.contains("update")) return true;
    return false;
  });
  // A retry that succeeds: nothing failed any more.
  w.sim.admin("POST", "/admin/jobs", R"({"source_id": 7, "job_id": 1, "failed_tasks": []})");
  auto r = w.tail->wait_for("JobTasksFailed", "resolved", 1);
  CHECK(r.at("reason").as_string() == "no_failed_tasks");
  std::size_t firing = 0;
  json::object update;
  for (const auto& l : w.tail->lines())
    if (l.at("alert").as_string() == "JobTasksFailed" && l.at("state").as_string() == "firing") {
      ++firing;
      if (l.contains("update")) update = l;
    }
  CHECK(firing == 2);
  CHECK(update.at("failed_tasks").as_int64() == 3);
  CHECK(update.at("failed_verification").as_int64() == 1);
  CHECK(update.at("previously_failed").as_int64() == 2);
  CHECK(count_lines(file_text(w.alerts_path), "\"job_id\":2") == 0);
}

TEST_CASE(
    "api.rate_limit: 10,000 jobs against an API allowing 5 requests/s, never throttled, staleness "
    "in metrics") {
  auto [jobs, refs] = numbered_jobs(10000);
  World w({.sim_jobs = jobs,
           .jobs = refs,
           .config = {{"api", {{"rate_limit", "5/s"}, {"rate_burst", 2}}}},
           .sim_faults = {R"({"rate_limit": {"per_second": 5, "burst": 5}})"}});
  auto stats = [&] { return w.sim.admin("GET", "/admin/stats"); };
  w.wait("the first polls", 20s, [&] { return stats().at("requests").as_int64() >= 10; });
  auto t1 = std::chrono::steady_clock::now();
  auto before = stats();
  auto m1 = w.get("/metrics").body;
  std::this_thread::sleep_for(6s);  // a stretch of time to measure a rate over (not an event)
  auto after = stats();
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t1).count();
  auto m2 = w.get("/metrics").body;
  double sent =
      static_cast<double>(after.at("requests").as_int64() - before.at("requests").as_int64());
  CHECK(sent <= 5 * secs + 5);  // the budget, plus a burst
  CHECK(sent >= 3 * secs);      // and it is used
  CHECK(after.at("throttled").as_int64() == 0);
  CHECK(metric(m2, "mmsmon_job_data_age_seconds_count") == 10000);
  CHECK(metric(m2, "mmsmon_job_data_age_seconds_sum") >
        metric(m1, "mmsmon_job_data_age_seconds_sum"));
  CHECK(m2.find("mmsmon_api_request_failures_total{") == std::string::npos);
  CHECK(file_text(w.alerts_path).find("ApiThrottled") == std::string::npos);
  CHECK(file_text(w.alerts_path).find("JobUnreachable") == std::string::npos);
}

namespace {

/// Jobs of data source 7 in the simulator (`sim`) and in the config (`refs`), each with
/// 10/100 tasks done and a status.
struct SourceSevenJobs {
  std::string sim = "[", refs = "[";
  void add(int first, int last, const char* status) {
    for (int id = first; id <= last; ++id) {
      std::string key = R"({"source_id": 7, "job_id": )" + std::to_string(id);
      sim += (sim.size() > 1 ? "," : "") + key + R"(, "status": ")" + status +
             R"(", "task_num": 100, "task_done": 10})";
      refs += (refs.size() > 1 ? "," : "") + key + "}";
    }
  }
};

/// A daemon with 5 requests/s (burst 2) for `jobs`, each due every second.
World short_budget_world(const SourceSevenJobs& jobs, bool page_refresh) {
  auto config = json::parse(R"({"api": {"rate_limit": "5/s", "rate_burst": 2},
      "poll": {"interval": "1s", "pending_interval": "1s", "finished_interval": "1s"},
      "tasks": {"interval": "0s"}})")
                    .as_object();
  config["poll"].as_object()["page_refresh"] = page_refresh;
  return World({.sim_jobs = jobs.sim + "]", .jobs = jobs.refs + "]", .config = config});
}

/// The simulator's count of polls of job 7/`id` in its /admin/stats `by_job`.
std::int64_t polls_of(const json::object& by_job, int id) {
  auto k = "7/" + std::to_string(id);
  return by_job.contains(k) ? by_job.at(k).as_int64() : 0;
}

/// Seconds since the last successful poll of job 7/`id`, by /metrics.
double age_of_job7(World& w, int id) {
  double now =
      std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
  return now - metric(w.get("/metrics").body,
                      R"(mms_job_last_success_timestamp_seconds{source_id="7",job_id=")" +
                          std::to_string(id) + R"("})");
}

}  // namespace

TEST_CASE("api.rate_limit: when the budget is short, running jobs go first and stay fresh") {
  // 3 running jobs, 20 INIT and 20 DONE, all due every second: 43 polls/s asked of 5/s.
  // (Jobs not polled yet go first too, so the first round of 43 polls comes first.)
  SourceSevenJobs jobs;
  jobs.add(1, 3, "DOING");
  jobs.add(101, 120, "INIT");
  jobs.add(201, 220, "DONE");
  World w = short_budget_world(jobs, false);
  auto by_job = [&] { return w.sim.admin("GET", "/admin/stats").at("by_job").as_object(); };
  w.wait("the first round: every job polled once", 30s, [&] { return by_job().size() == 43; });
  auto t0 = std::chrono::steady_clock::now();
  auto before = by_job();
  std::this_thread::sleep_for(6s);  // a stretch of time to measure rates over (not an event)
  auto after = by_job();
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  for (int i = 1; i <= 3; ++i) {
    CAPTURE(i);
    CHECK(static_cast<double>(polls_of(after, i) - polls_of(before, i)) >= 0.6 * secs);
  }
  std::int64_t others = 0;
  for (int i = 101; i <= 120; ++i)
    others += polls_of(after, i) - polls_of(before, i);
  for (int i = 201; i <= 220; ++i)
    others += polls_of(after, i) - polls_of(before, i);
  // What is left of the budget (about 2/s) is shared by the 40 others.
  CHECK(static_cast<double>(others) <= 3 * secs + 5);
  for (int i = 1; i <= 3; ++i) {
    CAPTURE(i);
    CHECK(age_of_job7(w, i) < 3);
  }
}

TEST_CASE("a first start under a short budget: one listing finds the running jobs at once") {
  // No state file, 20 INIT and 20 DONE jobs and 3 running ones (last in the order of first
  // polls), 5 requests/s: the first round of single polls takes about 8 s. The DOING listing
  // of the data source (jobs not polled yet count as running) covers the running jobs within
  // the first seconds; they are never polled on their own.
  SourceSevenJobs jobs;
  jobs.add(101, 120, "INIT");
  jobs.add(201, 220, "DONE");
  jobs.add(301, 303, "DOING");
  World w = short_budget_world(jobs, true);
  auto by_job = [&] { return w.sim.admin("GET", "/admin/stats").at("by_job").as_object(); };
  auto running_up = [&] {
    auto m = w.get("/metrics").body;
    for (int i = 301; i <= 303; ++i)
      if (m.find("\nmms_job_up{source_id=\"7\",job_id=\"" + std::to_string(i) + "\"} 1\n") ==
          std::string::npos)
        return false;
    return true;
  };
  w.wait("the running jobs known", 20s, running_up);
  auto early = by_job();
  CHECK(early.size() < 40);  // the first round is still under way
  for (int i = 301; i <= 303; ++i) {
    CAPTURE(i);
    CHECK(polls_of(early, i) == 0);
  }
  w.wait("the first round: every other job polled once", 30s,
         [&] { return by_job().size() >= 40; });
  auto late = by_job();
  for (int i = 301; i <= 303; ++i) {
    CAPTURE(i);
    CHECK(polls_of(late, i) == 0);  // refreshed by the listing all along
    CHECK(age_of_job7(w, i) < 3);
  }
}

namespace {

/// The (source_id, job_id) of every job in /api/v1/jobs.
std::set<std::pair<std::int64_t, std::int64_t>> tracked(World& w) {
  std::set<std::pair<std::int64_t, std::int64_t>> out;
  json::value all = json::parse(w.get("/api/v1/jobs").body);
  for (const auto& j : all.as_array())
    out.insert({j.at("source_id").as_int64(), j.at("job_id").as_int64()});
  return out;
}

}  // namespace

TEST_CASE(
    "discover: jobs found by name, new ones within an interval, vanished ones withdrawn, kept "
    "across a restart") {
  std::string sim_jobs = "[";
  for (int i = 1; i <= 12; ++i)
    sim_jobs += std::string(i > 1 ? "," : "") + R"({"source_id": 7, "job_id": )" +
                std::to_string(i) + R"(, "name": ")" + (i <= 8 ? "orders_" : "users_") +
                std::to_string(i) + R"(", "task_num": 10})";
  sim_jobs += R"(, {"source_id": 8, "job_id": 1, "name": "orders_other", "task_num": 10}])";
  World w({.sim_jobs = sim_jobs,
           .jobs = "[]",
           .config = json::parse(R"({"discover": [{"source_id": 7, "include": ["orders_*"],
                                                    "exclude": ["*_8"]}],
                                      "discover_interval": "1s", "poll": {"page_size": 5}})")
                         .as_object()});
  auto want = std::set<std::pair<std::int64_t, std::int64_t>>{{7, 1}, {7, 2}, {7, 3}, {7, 4},
                                                              {7, 5}, {7, 6}, {7, 7}};
  w.wait("the discovered jobs", 20s, [&] { return tracked(w) == want; });
  auto m = w.get("/metrics").body;
  CHECK(metric(m, "mmsmon_tracked_jobs") == 7);
  // 13 jobs in source 7 at 5 a page: 3 requests a listing.
  CHECK(metric(m, "mmsmon_discovery_list_requests_total") >=
        3 * metric(m, "mmsmon_discovery_listings_total") - 2);
  // A new job appears; one vanishes.
  w.sim.admin("POST", "/admin/jobs",
              R"({"source_id": 7, "job_id": 20, "name": "orders_new", "task_num": 10})");
  w.sim.admin("POST", "/admin/jobs", R"({"source_id": 7, "job_id": 3, "exists": false})");
  want.insert({7, 20});
  want.erase({7, 3});
  w.wait("the new job found and the vanished one withdrawn", 20s,
         [&] { return tracked(w) == want; });
  std::string alerts = file_text(w.alerts_path);
  auto resolved = alerts.find(R"("alert":"JobNotFound","state":"resolved")");
  if (alerts.find(R"("alert":"JobNotFound","state":"firing")") != std::string::npos)
    CHECK(resolved != std::string::npos);  // its alert, if it fired, resolved as untracked
  // A restart with a state file keeps the discovered jobs from the start.
  std::string state = (w.dir.path / "state.json").string();
  w.rewrite_config([&](json::object& c) {
    c["state_file"] = state;
    c["discover_interval"] = "1h";  // only the first round at start
  });
  CHECK(w.daemon->stop() == 0);
  w.start_daemon();
  w.wait("the state written", 20s, [&] { return std::filesystem::exists(state); });
  CHECK(w.daemon->stop() == 0);
  w.sim.admin(
      "POST", "/admin/faults",
      R"({"action": "ListMmsJobs", "error": {"status": 503, "code": "ServiceUnavailable"}})");
  w.start_daemon();
  w.wait_ready();
  CHECK(tracked(w) == want);  // from the state file: discovery's listing failed this time
}

TEST_CASE("shard: two replicas split the discovered jobs, each job in exactly one") {
  auto [jobs, refs] = numbered_jobs(40);
  World w({.sim_jobs = jobs,
           .jobs = "[]",
           .config = json::parse(R"({"discover": [{"source_id": 7}], "discover_interval": "1s",
                                      "shard": {"index": 0, "count": 2}})")
                         .as_object()});
  w.wait("a first discovery", 20s, [&] { return !tracked(w).empty(); });
  auto first = tracked(w);
  w.rewrite_config(
      [](json::object& c) { c["shard"] = json::parse(R"({"index": 1, "count": 2})"); });
  CHECK(w.post("/-/reload").status == 200);
  std::set<std::pair<std::int64_t, std::int64_t>> second;
  w.wait("the other shard", 20s, [&] {
    second = tracked(w);
    return !second.empty() && second != first &&
           std::none_of(second.begin(), second.end(), [&](auto k) { return first.count(k); });
  });
  CHECK(first.size() + second.size() == 40);
  CHECK(first.size() > 10);
  CHECK(second.size() > 10);
}

TEST_CASE(
    "discover: an odd page is logged once per data source and kind until a clean listing, and "
    "counted each time") {
  World w({.sim_jobs = R"([{"source_id": 7, "job_id": 1, "name": "orders", "task_num": 10},
                          {"source_id": 7, "job_id": 2, "name": "users",
                           "raw": {"id": 2, "sourceId": 7, "name": "users", "taskNum": "lots"}}])",
           .jobs = "[]",
           .config = json::parse(R"({"discover": [{"source_id": 7}], "discover_interval": "1s"})")
                         .as_object()});
  w.wait("four listings", 20s,
         [&] { return metric(w.get("/metrics").body, "mmsmon_discovery_listings_total") >= 4; });
  CHECK(metric(w.get("/metrics").body, "mmsmon_discovery_page_anomalies_total") >= 4);
  // At warn once (said so), at debug after that.
  auto log = w.daemon_log();
  CHECK(count_lines(log, "an item could not be read") >= 4);
  const char* said = "said once until a listing of this data source is clean";
  CHECK(count_lines(log, said) == 1);
  CHECK(tracked(w).count({7, 1}) == 1);
  // The odd item goes away (clean listings), then comes back: a new episode, said at warn.
  auto listings = [&] { return metric(w.get("/metrics").body, "mmsmon_discovery_listings_total"); };
  w.sim.admin("POST", "/admin/jobs", R"({"source_id": 7, "job_id": 2, "exists": false})");
  double gone = listings();
  w.wait("two clean listings", 20s, [&] { return listings() >= gone + 2; });
  CHECK(count_lines(w.daemon_log(), said) == 1);
  w.sim.admin("POST", "/admin/jobs", R"({"source_id": 7, "job_id": 2, "name": "users",
      "raw": {"id": 2, "sourceId": 7, "name": "users", "taskNum": "lots"}})");
  w.wait("the odd page said again", 20s, [&] { return count_lines(w.daemon_log(), said) == 2; });
}

TEST_CASE("alert sinks: a reload that replaces a sink replaces its series") {
  World w({.sim_jobs = R"([{"source_id": 7, "job_id": 1, "name": "orders", "task_num": 10}])",
           .jobs = R"([{"source_id": 7, "job_id": 1}])",
           .config = json::parse(R"({"alerts": {"sinks": [{"type": "webhook", "name": "old",
                                      "url": "http://127.0.0.1:1/hook"}]}})")
                         .as_object()});
  auto has = [&](const std::string& sink) {
    return w.get("/metrics").body.find("mmsmon_alert_sink_queue_length{sink=\"" + sink + "\"}") !=
           std::string::npos;
  };
  CHECK(has("old"));
  w.rewrite_config([](json::object& c) {
    c["alerts"].as_object()["sinks"] =
        json::parse(R"([{"type": "webhook", "name": "new", "url": "http://127.0.0.1:1/other"}])");
  });
  CHECK(w.post("/-/reload").status == 200);
  CHECK(has("new"));
  CHECK_FALSE(has("old"));
  w.rewrite_config([](json::object& c) { c["alerts"].as_object().erase("sinks"); });
  CHECK(w.post("/-/reload").status == 200);
  CHECK_FALSE(has("new"));
  CHECK(w.get("/metrics").body.find("mmsmon_alert_sink_") == std::string::npos);
}

TEST_CASE("data source health: metrics, and DataSourceAgentOffline firing and resolved") {
  World w({.sim_jobs = R"([{"source_id": 7, "job_id": 1, "name": "orders", "task_num": 10}])",
           .jobs = "[]",
           .config = json::parse(R"({"discover": [{"source_id": 7}], "discover_interval": "1s"})")
                         .as_object()});
  w.wait("the data source's series", 20s, [&] {
    return w.get("/metrics").body.find(R"(mms_datasource_agent_online{source_id="7"} 1)") !=
           std::string::npos;
  });
  auto m = w.get("/metrics").body;
  CHECK(m.find(R"(mms_datasource_info{source_id="7",name="source_7")") != std::string::npos);
  CHECK(m.find(R"(mms_datasource_tables{source_id="7",state="done"})") != std::string::npos);
  w.sim.admin("POST", "/admin/datasources", R"({"id": 7, "agent_online": false})");
  auto a = w.tail->wait_for("DataSourceAgentOffline", "firing");
  CHECK(a.at("source_id").as_int64() == 7);
  CHECK_FALSE(a.contains("job_id"));
  CHECK(metric(w.get("/metrics").body,
               R"(mmsmon_alerts_firing{alert="DataSourceAgentOffline",severity="warning"})") == 1);
  w.sim.admin("POST", "/admin/datasources", R"({"id": 7, "agent_online": true})");
  auto r = w.tail->wait_for("DataSourceAgentOffline", "resolved");
  CHECK(r.at("reason").as_string() == "online");
}

TEST_CASE(
    "refresh by pages: 1,000 running jobs cost about ceil(1000 / page size) requests an interval") {
  auto [jobs, refs] = numbered_jobs(1000);
  World w({.sim_jobs = jobs,
           .jobs = refs,
           .config = json::parse(R"({"poll": {"interval": "2s", "page_refresh": true,
                                              "page_size": 100, "max_in_flight": 16}})")
                         .as_object()});
  auto by_action = [&](const char* a) {
    auto s = w.sim.admin("GET", "/admin/stats");
    const auto* v = s.at("by_action").as_object().if_contains(a);
    return v ? v->as_int64() : 0;
  };
  // The pages take over from the start (jobs not polled yet count as running): only the jobs
  // whose first poll came before the first listing was read are polled on their own.
  w.wait("refresh by pages", 30s, [&] { return by_action("ListMmsJobs") >= 20; });
  auto get0 = by_action("GetMmsJob"), list0 = by_action("ListMmsJobs");
  CHECK(get0 < 600);
  w.wait("three more refreshes", 30s, [&] { return by_action("ListMmsJobs") >= list0 + 30; });
  auto gets = by_action("GetMmsJob") - get0, lists = by_action("ListMmsJobs") - list0;
  CHECK(gets <= 20);  // not one per job and interval
  CHECK(lists >= 30);
  // A change to one job shows within an interval or two.
  w.sim.admin("POST", "/admin/jobs", R"({"source_id": 7, "job_id": 500, "task_done": 7})");
  w.wait("the change in /metrics", 10s, [&] {
    return w.get("/metrics").body.find(R"(mms_job_tasks_done{source_id="7",job_id="500"} 7)") !=
           std::string::npos;
  });
  // A job that finishes leaves the DOING pages: a GetMmsJob confirms it, JobSucceeded once.
  w.sim.admin("POST", "/admin/jobs",
              R"({"source_id": 7, "job_id": 600, "status": "DONE", "task_done": 10})");
  auto done = w.tail->wait_for("JobSucceeded", "", 600);
  CHECK(done.at("from").as_string() == "DOING");
  w.wait("two more refreshes", 20s, [&] { return by_action("ListMmsJobs") >= lists + list0 + 20; });
  CHECK(count_lines(file_text(w.alerts_path), "\"JobSucceeded\"") == 1);
  CHECK(count_lines(file_text(w.alerts_path), "\"JobStarted\"") == 0);  // no stale page undid it
}

TEST_CASE(
    "poll.finished_retention: a discovered job finished that long is withdrawn, and found again if "
    "restarted") {
  World w({.sim_jobs = R"([{"source_id": 7, "job_id": 1, "name": "a", "status": "DONE",
                           "task_num": 10, "task_done": 10},
                          {"source_id": 7, "job_id": 2, "name": "b", "task_num": 10}])",
           .jobs = "[]",
           .config = json::parse(R"({"discover": [{"source_id": 7}], "discover_interval": "1s",
                                     "poll": {"finished_retention": "2s"}})")
                         .as_object()});
  using Keys = std::set<std::pair<std::int64_t, std::int64_t>>;
  w.wait("both jobs found", 20s, [&] { return tracked(w) == Keys{{7, 1}, {7, 2}}; });
  w.wait("the finished one withdrawn", 20s, [&] { return tracked(w) == Keys{{7, 2}}; });
  auto lists = [&] {
    return w.sim.admin("GET", "/admin/stats").at("by_action").at("ListMmsJobs").as_int64();
  };
  auto l0 = lists();
  w.wait("two more listings", 20s, [&] { return lists() >= l0 + 2; });
  CHECK(tracked(w) == Keys{{7, 2}});  // not found again while it stays finished
  w.sim.admin("POST", "/admin/jobs",
              R"({"source_id": 7, "job_id": 1, "status": "DOING", "task_done": 5})");
  w.wait("the restarted job found again", 20s, [&] { return tracked(w) == Keys{{7, 1}, {7, 2}}; });
}

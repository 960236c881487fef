#include "app/daemon.hpp"

#include <spdlog/spdlog.h>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/json.hpp>

#include <deque>
#include <fstream>
#include <random>

#include "core/alert_policy.hpp"
#include "core/job_state.hpp"
#include "core/pacing.hpp"
#include "core/report.hpp"
#include "io/http_server.hpp"
#include "io/mms_client.hpp"
#include "obs/alert_log.hpp"
#include "obs/logging.hpp"
#include "obs/metrics.hpp"
#include "version.hpp"

namespace mmsmon {
namespace asio = boost::asio;
namespace json = boost::json;
using asio::awaitable;
using namespace std::chrono;
constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);

namespace {

/// One tracked job: its state and its poller's timer.
struct Tracked {
  Tracked(asio::any_io_executor ex, JobKey key, Millis interval) : timer(ex), interval(interval) {
    state.key = key;
  }
  JobState state;
  asio::steady_timer timer;
  Millis interval;
  unsigned attempt = 0;      ///< consecutive retryable failures, for the backoff
  bool handed_slot = false;  ///< woken by release_slot() with an in-flight slot
};

std::string json_time(const std::optional<WallTime>& t) {
  return t ? rfc3339(*t) : std::string();
}

}  // namespace

struct Daemon::Impl {
  Impl(Config c, Credentials cr, DaemonOptions o)
      : cfg(std::move(c)),
        opt(std::move(o)),
        creds(std::move(cr)),
        policy(AlertThresholds{cfg.alerts.unreachable_after, cfg.alerts.throttled_after}),
        signals(io, SIGINT, SIGTERM, SIGHUP),
        rng(std::random_device{}()) {}

  Config cfg;
  DaemonOptions opt;
  Credentials creds;
  asio::io_context io;
  std::shared_ptr<spdlog::logger> log;
  std::unique_ptr<HttpClient> http;
  std::unique_ptr<MmsClient> client;
  std::unique_ptr<HttpServer> server;
  std::unique_ptr<AlertLog> alert_log;
  Metrics metrics;
  AlertPolicy policy;
  ThrottleGovernor governor;
  std::vector<std::unique_ptr<Tracked>> jobs;
  asio::signal_set signals;
  std::mt19937_64 rng;
  bool stopping = false;
  std::size_t running_pollers = 0;

  // In-flight cap: a counter and the jobs due for a poll, waiting for a slot.
  std::size_t in_flight = 0;
  std::deque<Tracked*> slot_waiters;

  double random01() { return std::uniform_real_distribution<double>(0.0, 1.0)(rng); }

  void emit(const std::vector<Alert>& alerts) {
    for (const auto& a : alerts) {
      alert_log->write(a);
      metrics.on_alert(a);
    }
  }

  awaitable<void> sleep_until(asio::steady_timer& t, steady_clock::time_point when) {
    t.expires_at(when);
    co_await t.async_wait(use_tuple);
  }

  /// `when` rounded up to the next 50 ms tick: polls due close together wake the loop once
  /// instead of once each.
  static steady_clock::time_point on_tick(steady_clock::time_point when) {
    constexpr auto tick = duration_cast<steady_clock::duration>(50ms);
    auto since = when.time_since_epoch();
    return steady_clock::time_point{((since + tick - steady_clock::duration{1}) / tick) * tick};
  }

  /// Hands the slot of a finished poll to the next job waiting for one, if any.
  void release_slot() {
    if (slot_waiters.empty() || stopping) {
      --in_flight;
      return;
    }
    Tracked* next = slot_waiters.front();  // in_flight stays the same
    slot_waiters.pop_front();
    next->handed_slot = true;
    next->timer.cancel();
  }

  void on_call(const CallOutcome& o) {
    metrics.on_call(o);
    governor.on_outcome(steady_clock::now(), o.failure, o.rate_limit, std::nullopt);
  }

  void on_result(Tracked& t, Result<Job, ApiError>& r) {
    auto now = system_clock::now();
    std::vector<Alert> out;
    const ApiError* err = r ? nullptr : &r.error();
    auto api = policy.on_api_call(err, now);
    out.insert(out.end(), api.begin(), api.end());
    bool throttled_now = err && err->reason == FailureReason::throttled;
    auto pacing = policy.on_pacing(governor.throttling(steady_clock::now()),
                                   throttled_now ? err : nullptr, now);
    out.insert(out.end(), pacing.begin(), pacing.end());
    if (r) {
      for (const auto& a : r->anomalies)
        log->warn("job {}/{}: odd data from the API: {}", t.state.key.source.value,
                  t.state.key.job.value, a);
      auto events = observe_snapshot(t.state, std::move(r).value(), now);
      if (log->should_log(spdlog::level::debug))
        for (const auto& e : events) {
          std::ostringstream os;
          os << e;
          log->debug("job {}/{}: {}", t.state.key.source.value, t.state.key.job.value, os.str());
        }
      auto alerts = policy.on_snapshot(t.state, events, now);
      out.insert(out.end(), alerts.begin(), alerts.end());
    } else {
      const ApiError& e = r.error();
      bool first = t.state.consecutive_failures == 0;
      observe_failure(t.state, e, now);
      if (first)
        log->warn("job {}/{}: poll failed: {}", t.state.key.source.value, t.state.key.job.value,
                  e.describe());
      auto alerts = policy.on_failure(t.state, e, now);
      out.insert(out.end(), alerts.begin(), alerts.end());
    }
    emit(out);
  }

  /// One job's poller: sleeps, waits for a slot, polls, for as long as the daemon runs.
  /// Its frame lives as long as the job and is small; each poll's larger state lives in
  /// poll_once's frame only while that poll is under way. Everything waits on the one
  /// timer of the job, at one co_await: 10,000 sleeping jobs are 10,000 small frames.
  awaitable<void> poll_loop(Tracked& t, steady_clock::time_point first) {
    t.timer.expires_at(on_tick(first));
    for (;;) {
      co_await t.timer.async_wait(use_tuple);  // sleeping, or queued for a slot
      if (stopping) break;
      if (t.handed_slot) {
        t.handed_slot = false;  // release_slot() passed us its slot
      } else if (in_flight < cfg.poll.max_in_flight) {
        ++in_flight;
      } else {
        slot_waiters.push_back(&t);
        t.timer.expires_at(steady_clock::time_point::max());
        continue;
      }
      Millis delay = co_await poll_once(t);
      if (stopping) break;
      t.timer.expires_at(on_tick(steady_clock::now() + delay));
    }
    if (--running_pollers == 0 && stopping) io.stop();
  }

  /// One poll of one job, holding a slot: waits for the throttle governor, polls,
  /// records the result, releases the slot. Returns how long to wait before the next
  /// poll. The decoded job and the bookkeeping stay in plain functions, out of the frame.
  awaitable<Millis> poll_once(Tracked& t) {
    auto slot = governor.reserve(steady_clock::now());
    if (slot > steady_clock::now()) co_await sleep_until(t.timer, slot);
    if (stopping) {
      release_slot();
      co_return Millis{0};
    }
    CallOutcome out;
    auto body = co_await client->fetch(get_mms_job_call(t.state.key), out);
    release_slot();
    co_return after_poll(t, std::move(body), out);
  }

  Millis after_poll(Tracked& t, Result<std::string, ApiError> body, CallOutcome& out) {
    auto r = client->finish_get_job(std::move(body), out, t.state.key);
    if (stopping) return Millis{0};
    std::optional<FailureReason> failure;
    std::optional<Millis> retry_after;
    if (!r) {
      failure = r.error().reason;
      retry_after = r.error().retry_after;
    }
    on_result(t, r);
    if (failure && is_retryable(*failure)) {
      // Retries back off exponentially with full jitter, never slower than the interval.
      Millis delay = backoff_delay(1s, t.interval, t.attempt++, random01());
      if (retry_after) delay = std::max(delay, *retry_after);
      return delay;
    }
    t.attempt = 0;
    return jittered(t.interval, cfg.poll.jitter, random01());
  }

  awaitable<void> ticker() {
    asio::steady_timer t(io);
    while (!stopping) {
      emit(
          policy.on_pacing(governor.throttling(steady_clock::now()), nullptr, system_clock::now()));
      co_await sleep_until(t, steady_clock::now() + 1s);
    }
  }

  void handle_signals() {
    signals.async_wait([this](const boost::system::error_code& ec, int sig) {
      if (ec) return;
      if (sig == SIGHUP) {
        // Configuration reload comes with a later release; for now HUP reopens the alert
        // file, which is what logrotate needs.
        auto r = alert_log->reopen();
        if (r)
          log->info("SIGHUP: alert file reopened (configuration reload is not supported yet)");
        else
          log->error("SIGHUP: {}", r.error());
        handle_signals();
        return;
      }
      log->info("signal {}: stopping", sig);
      shutdown();
    });
  }

  void shutdown() {
    if (stopping) return;
    stopping = true;
    if (server) server->stop();
    for (auto& j : jobs)
      j->timer.cancel();
    slot_waiters.clear();
    signals.cancel();
    if (running_pollers == 0) {
      io.stop();
      return;
    }
    // Polls in flight end within their own deadline; do not wait longer than that.
    auto grace = std::make_shared<asio::steady_timer>(io, cfg.api.timeout + 1s);
    grace->async_wait([this, grace](const boost::system::error_code&) { io.stop(); });
  }

  std::vector<const JobState*> states() const {
    std::vector<const JobState*> v;
    v.reserve(jobs.size());
    for (const auto& j : jobs)
      v.push_back(&j->state);
    return v;
  }

  json::object job_json(const Tracked& t) const {
    const JobState& s = t.state;
    json::object o{{"source_id", s.key.source.value},
                   {"job_id", s.key.job.value},
                   {"polled", s.polled},
                   {"up", s.up},
                   {"interval_seconds", duration<double>(t.interval).count()}};
    if (s.last)
      for (auto& kv : job_to_json(*s.last))
        o[kv.key()] = kv.value();
    if (s.last_success) o["last_success"] = json_time(s.last_success);
    if (s.last_progress) o["last_progress"] = json_time(s.last_progress);
    if (s.failing_since) o["failing_since"] = json_time(s.failing_since);
    o["consecutive_failures"] = s.consecutive_failures;
    if (s.last_error) o["last_error"] = error_to_json(*s.last_error);
    json::array firing;
    for (const auto& n : policy.firing_for(s.key))
      firing.emplace_back(n);
    o["firing_alerts"] = std::move(firing);
    return o;
  }

  ServerResponse handle(const ServerRequest& req) {
    std::string_view path = req.target.substr(0, req.target.find('?'));
    bool get = req.method == "GET" || req.method == "HEAD";
    if (path == "/metrics" && get)
      return {200, "text/plain; version=0.0.4; charset=utf-8", metrics.render(states())};
    if (path == "/-/healthy" && get) {
      if (!stopping && running_pollers == jobs.size())
        return {200, "text/plain; charset=utf-8", "mmsmon is healthy\n"};
      if (stopping) return {503, "text/plain; charset=utf-8", "mmsmon is stopping\n"};
      return {503, "text/plain; charset=utf-8",
              std::to_string(jobs.size() - running_pollers) + " pollers are not running\n"};
    }
    if (path == "/-/ready" && get) {
      std::size_t waiting = 0;
      for (const auto& j : jobs)
        waiting += !j->state.polled;
      if (waiting == 0) return {200, "text/plain; charset=utf-8", "mmsmon is ready\n"};
      return {503, "text/plain; charset=utf-8",
              std::to_string(waiting) + " of " + std::to_string(jobs.size()) +
                  " jobs not polled yet\n"};
    }
    if (path == "/api/v1/jobs" && get) {
      json::array arr;
      for (const auto& j : jobs)
        arr.push_back(job_json(*j));
      return {200, "application/json", json::serialize(arr) + "\n"};
    }
    if (path == "/-/reload") {
      if (req.method != "POST") return {405, "text/plain; charset=utf-8", "use POST\n"};
      return {501, "text/plain; charset=utf-8", "configuration reload is not supported yet\n"};
    }
    if (path == "/" && get)
      return {200, "text/html; charset=utf-8",
              std::string("<!doctype html><html><head><title>mmsmon</title></head><body>"
                          "<h1>mmsmon ") +
                  kVersion + "</h1><p>Watching " + std::to_string(jobs.size()) +
                  " MaxCompute Migration Service jobs.</p><ul>"
                  "<li><a href=\"/metrics\">/metrics</a></li>"
                  "<li><a href=\"/api/v1/jobs\">/api/v1/jobs</a></li>"
                  "<li><a href=\"/-/healthy\">/-/healthy</a></li>"
                  "<li><a href=\"/-/ready\">/-/ready</a></li></ul></body></html>\n"};
    if (!get && req.method != "POST")
      return {405, "text/plain; charset=utf-8", "method not allowed\n"};
    return {404, "text/plain; charset=utf-8", "not found\n"};
  }

  int run() {
    log = make_main_logger(cfg.log_level);
    auto ep = parse_endpoint(api_base_url(cfg.api));
    if (!ep) {
      log->critical("{}", ep.error());
      return 1;
    }
    HttpClientOptions hopt;
    hopt.timeout = cfg.api.timeout;
    hopt.ca_file = cfg.api.ca_file;
    hopt.max_body = cfg.api.max_response_bytes;
    hopt.max_idle = std::max(cfg.api.max_connections, cfg.poll.max_in_flight);
    auto h = HttpClient::create(io.get_executor(), *ep, hopt);
    if (!h) {
      log->critical("{}", h.error());
      return 1;
    }
    http = std::move(h).value();
    MmsClient::Options mopt;
    mopt.decode.utc_offset = cfg.api.utc_offset;
    mopt.user_agent = std::string("mmsmon/") + kVersion;
    std::string cred_source = creds.source;
    client = std::make_unique<MmsClient>(*http, std::move(creds), mopt);
    client->set_observer([this](const CallOutcome& o) { on_call(o); });

    auto al = AlertLog::open(cfg.alerts, log);
    if (!al) {
      log->critical("{}", al.error());
      return 1;
    }
    alert_log = std::move(al).value();

    auto srv = HttpServer::create(io.get_executor(), cfg.listen,
                                  [this](const ServerRequest& r) { return handle(r); });
    if (!srv) {
      log->critical("{}", srv.error());
      return 1;
    }
    server = std::move(srv).value();
    if (opt.port_file) {
      std::ofstream pf(*opt.port_file);
      pf << server->port() << '\n';
    }

    for (const auto& j : cfg.jobs)
      jobs.push_back(std::make_unique<Tracked>(io.get_executor(), j.key,
                                               j.interval.value_or(cfg.poll.interval)));
    metrics.set_tracked_jobs(jobs.size());
    metrics.set_config_reload(true, system_clock::now());

    log->info(
        "mmsmon {} watching {} jobs at {} (credentials from {}); metrics on http://{}:{}/metrics; "
        "alerts to {}",
        kVersion, jobs.size(), ep->url(), cred_source, cfg.listen.substr(0, cfg.listen.rfind(':')),
        server->port(), cfg.alerts.file);
    server->start();
    handle_signals();
    auto log_crash = [this](std::exception_ptr e) {
      if (!e) return;
      try {
        std::rethrow_exception(e);
      } catch (const std::exception& ex) {
        log->critical("internal error in a poller, which stops: {}", ex.what());
      }
    };
    // First polls are spread evenly over the first interval: no thundering herd at start.
    auto now = steady_clock::now();
    running_pollers = jobs.size();
    for (std::size_t i = 0; i < jobs.size(); ++i) {
      auto offset = duration_cast<Millis>(jobs[i]->interval * static_cast<double>(i) /
                                          static_cast<double>(jobs.size()));
      asio::co_spawn(io, poll_loop(*jobs[i], now + offset), log_crash);
    }
    asio::co_spawn(io, ticker(), log_crash);
    io.run();
    log->info("stopped");
    return 0;
  }
};

Daemon::Daemon(Config cfg, Credentials creds, DaemonOptions opt)
    : impl_(std::make_unique<Impl>(std::move(cfg), std::move(creds), std::move(opt))) {}
Daemon::~Daemon() = default;
int Daemon::run() {
  return impl_->run();
}

}  // namespace mmsmon

#include "app/daemon.hpp"

#include <spdlog/spdlog.h>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <fstream>
#include <random>
#include <sstream>

#include "app/api_stack.hpp"
#include "app/router.hpp"
#include "core/fleet.hpp"
#include "core/pacing.hpp"
#include "core/schedule.hpp"
#include "io/http_server.hpp"
#include "io/poller.hpp"
#include "obs/alert_log.hpp"
#include "obs/logging.hpp"
#include "obs/metrics.hpp"
#include "version.hpp"

namespace mmsmon {
namespace asio = boost::asio;
using namespace std::chrono;

/// The composition: builds the pieces, wires their callbacks, handles signals and the
/// lifecycle. Decisions live in the fleet (core/fleet), the schedule (core/schedule) and
/// the router (app/router); I/O in the poller, the clients and the server (io/).
struct Daemon::Impl {
  Impl(Config c, Credentials cr, DaemonOptions o)
      : cfg(std::move(c)),
        opt(std::move(o)),
        creds(std::move(cr)),
        fleet(AlertThresholds{cfg.alerts.unreachable_after, cfg.alerts.throttled_after}),
        signals(io, SIGINT, SIGTERM, SIGHUP),
        rng(std::random_device{}()) {}

  Config cfg;
  DaemonOptions opt;
  Credentials creds;
  asio::io_context io;
  std::shared_ptr<spdlog::logger> log;
  Metrics metrics;
  Fleet fleet;
  ThrottleGovernor governor;
  ApiStack api;
  std::unique_ptr<AlertLog> alert_log;
  std::unique_ptr<HttpServer> server;
  std::unique_ptr<Poller> poller;
  asio::signal_set signals;
  std::mt19937_64 rng;
  bool stopping = false;

  double random01() { return std::uniform_real_distribution<double>(0.0, 1.0)(rng); }

  void emit(const std::vector<Alert>& alerts) {
    for (const auto& a : alerts) {
      alert_log->write(a);
      metrics.on_alert(a);
    }
  }

  Pacing pacing() const {
    return governor.throttling(steady_clock::now()) ? Pacing::throttled : Pacing::full_speed;
  }

  void on_call(const CallOutcome& o) {
    metrics.on_call(o);
    governor.on_outcome(steady_clock::now(), o.failure, o.rate_limit, std::nullopt);
  }

  /// A finished poll: folds it into the fleet, says what changed, and schedules the next.
  Millis on_poll(const JobKey& key, Result<Job, ApiError>& r) {
    auto now = system_clock::now();
    const ApiError* err = r ? nullptr : &r.error();
    auto out = fleet.on_api_call(err, now);
    bool throttled_now = err && err->reason == FailureReason::throttled;
    auto paced = fleet.on_pacing(pacing(), throttled_now ? err : nullptr, now);
    out.insert(out.end(), paced.begin(), paced.end());
    auto outcome = poll_outcome(r);
    FleetChange change;
    if (r) {
      for (const auto& a : r->anomalies)
        log->warn("job {}/{}: odd data from the API: {}", key.source.value, key.job.value, a);
      change = fleet.on_snapshot(key, std::move(r).value(), now);
      if (log->should_log(spdlog::level::debug))
        for (const auto& e : change.events) {
          std::ostringstream os;
          os << e;
          log->debug("job {}/{}: {}", key.source.value, key.job.value, os.str());
        }
    } else {
      const TrackedJob* j = fleet.find(key);
      if (j && j->state.consecutive_failures == 0)
        log->warn("job {}/{}: poll failed: {}", key.source.value, key.job.value,
                  r.error().describe());
      change = fleet.on_failure(key, r.error(), now);
    }
    out.insert(out.end(), change.alerts.begin(), change.alerts.end());
    emit(out);
    TrackedJob* j = fleet.find(key);
    if (!j) return Millis{0};
    return next_poll_delay(*j, outcome, ScheduleOptions{.jitter = cfg.poll.jitter}, random01());
  }

  void on_poller_crash(const JobKey& key, const std::string& what, Millis restart_in) {
    metrics.on_poller_restart();
    log->critical("internal error in the poller of job {}/{}: {}; restarting it in {}",
                  key.source.value, key.job.value, what, format_duration(restart_in));
  }

  /// Feeds the pacing state once a second, so ApiThrottled resolves without polls.
  asio::awaitable<void> ticker() {
    asio::steady_timer t(io);
    while (!stopping) {
      emit(fleet.on_pacing(pacing(), nullptr, system_clock::now()));
      t.expires_after(1s);
      co_await t.async_wait(asio::as_tuple(asio::use_awaitable));
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
    signals.cancel();
    // Polls in flight end within their own deadline; do not wait longer than that.
    auto grace = std::make_shared<asio::steady_timer>(io, cfg.api.timeout + 1s);
    grace->async_wait([this, grace](const boost::system::error_code& ec) {
      if (!ec) io.stop();
    });
    poller->stop([this, grace] {
      grace->cancel();
      io.stop();
    });
  }

  ServerResponse handle(const ServerRequest& req) {
    return route(req, RouterView{fleet, metrics, stopping, poller->down()});
  }

  int run() {
    log = make_main_logger(cfg.log_level);
    std::string cred_source = creds.source;
    auto stack = make_api_stack(io.get_executor(), cfg, std::move(creds));
    if (!stack) {
      log->critical("{}", stack.error());
      return 1;
    }
    api = std::move(stack).value();
    api.client->set_observer([this](const CallOutcome& o) { on_call(o); });

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

    poller = std::make_unique<Poller>(
        io.get_executor(), *api.client, governor, Poller::Options{cfg.poll.max_in_flight},
        [this](const JobKey& k, Result<Job, ApiError>& r) { return on_poll(k, r); },
        [this](const JobKey& k, const std::string& what, Millis restart_in) {
          on_poller_crash(k, what, restart_in);
        });
    for (const auto& j : cfg.jobs)
      fleet.add(j.key, j.interval.value_or(cfg.poll.interval));
    metrics.set_tracked_jobs(fleet.size());
    metrics.config_loaded(system_clock::now());

    log->info(
        "mmsmon {} watching {} jobs at {} (credentials from {}); metrics on http://{}:{}/metrics; "
        "alerts to {}",
        kVersion, fleet.size(), api.endpoint.url(), cred_source,
        cfg.listen.substr(0, cfg.listen.rfind(':')), server->port(), cfg.alerts.file);
    server->start();
    handle_signals();
    // First polls are spread evenly over the first interval: no thundering herd at start.
    std::size_t i = 0;
    for (const auto& [key, job] : fleet.jobs())
      poller->add(key, first_poll_offset(i++, fleet.size(), poll_interval(job)));
    asio::co_spawn(io, ticker(), report_crash("the pacing ticker", [this](const std::string& m) {
                     log->critical("{}", m);
                   }));
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

#include "app/daemon.hpp"

#include <fcntl.h>
#include <spdlog/spdlog.h>
#include <unistd.h>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <random>
#include <set>
#include <sstream>

#include "app/api_stack.hpp"
#include "app/router.hpp"
#include "core/fleet.hpp"
#include "core/pacing.hpp"
#include "core/reconcile.hpp"
#include "core/schedule.hpp"
#include "io/alert_sinks.hpp"
#include "io/credential_provider.hpp"
#include "io/discoverer.hpp"
#include "io/http_server.hpp"
#include "io/poller.hpp"
#include "io/service_notifier.hpp"
#include "io/state_store.hpp"
#include "io/task_checker.hpp"
#include "obs/alert_log.hpp"
#include "obs/logging.hpp"
#include "obs/metrics.hpp"
#include "version.hpp"

namespace mmsmon {
namespace asio = boost::asio;
using namespace std::chrono;

namespace {

/// A wait the API asks for pauses every request for at most the smaller of poll.interval
/// and 5 minutes.
ThrottleGovernor::Options governor_options(const Config& c) {
  ThrottleGovernor::Options o;
  o.max_pause = std::min<Millis>(c.poll.interval, 5min);
  return o;
}

/// api.rate_limit as a budget: a burst of rate_burst, by default one second's worth.
std::optional<RequestBudget> budget_of(const ApiConfig& a) {
  if (!a.rate_limit) return std::nullopt;
  return RequestBudget{*a.rate_limit,
                       a.rate_burst.value_or(std::max(1.0, std::ceil(*a.rate_limit)))};
}

AlertThresholds thresholds(const AlertsConfig& a) {
  return AlertThresholds{.unreachable_after = a.unreachable_after,
                         .throttled_after = a.throttled_after,
                         .stall_after = a.stall_after,
                         .eta_margin = a.eta_margin,
                         .repeat_interval = a.repeat_interval,
                         .resolve_hold = a.resolve_hold};
}

}  // namespace

/// The composition: builds the pieces, wires their callbacks, handles signals and the
/// lifecycle. Decisions live in the fleet (core/fleet), the schedule (core/schedule) and
/// the router (app/router); I/O in the poller, the clients and the server (io/).
struct Daemon::Impl {
  Impl(Config c, Credentials cr, DaemonOptions o)
      : cfg(std::move(c)),
        opt(std::move(o)),
        creds(std::move(cr)),
        fleet(thresholds(cfg.alerts), ThroughputOptions{cfg.alerts.eta_window}),
        governor(governor_options(cfg)),
        signals(io, SIGINT, SIGTERM, SIGHUP),
        rng(std::random_device{}()),
        notifier([this](const std::string& m, bool first) {
          metrics.on_notify_failure();
          if (first) log->error("{} (systemd will not see READY, STATUS or the watchdog)", m);
        }) {}

  Config cfg;
  DaemonOptions opt;
  Credentials creds;
  asio::io_context io;
  std::shared_ptr<spdlog::logger> log;
  Metrics metrics;
  Fleet fleet;
  RecentAlerts recent;  ///< for the status page
  ThrottleGovernor governor;
  ApiStack api;
  std::unique_ptr<AlertLog> alert_log;
  std::unique_ptr<AlertSinks> sinks;
  std::unique_ptr<HttpServer> server;
  std::unique_ptr<Poller> poller;
  std::unique_ptr<TaskChecker> task_checker;
  std::unique_ptr<Discoverer> discoverer;
  /// Refresh by pages: running jobs of sources where a ListMmsJobs?status=DOING listing costs
  /// fewer requests than one GetMmsJob each are `covered` (out of the poller).
  std::unique_ptr<Discoverer> refresher;
  std::set<JobKey> covered;
  std::map<SourceId, std::int64_t> doing_total;  ///< DOING jobs in the last listing
  std::set<SourceId> refresh_failing;
  std::set<SourceId> listing_failing;  ///< sources whose last listing failed (logged once)
  std::set<JobKey> retired;            ///< discovered jobs withdrawn after finished_retention
  bool task_checks_failing = false;
  std::unique_ptr<CredentialProvider> cred_provider;
  bool cred_failing = false;
  asio::signal_set signals;
  std::mt19937_64 rng;
  ServiceNotifier notifier;
  bool stopping = false;

  // The state file: alerts wait in `pending` until the state that includes them is saved,
  // so a crash never makes mmsmon say something again.
  std::optional<StateStore> state;
  std::vector<Alert> pending;
  bool dirty = false;
  bool state_failing = false;
  steady_clock::time_point last_save{}, last_commit{};

  /// Polls of these jobs go first when the request budget is short.
  /// Polled and seen DOING: its polls go ahead of others waiting for a slot.
  bool known_running(const JobKey& k) const {
    const TrackedJob* j = fleet.find(k);
    return j && j->state.last && j->state.last->status == JobStatus::doing;
  }

  bool running_or_unknown(const JobKey& k) const {
    const TrackedJob* j = fleet.find(k);
    if (!j || !j->state.last || !j->state.last->status) return true;
    auto s = *j->state.last->status;
    return s == JobStatus::doing || s == JobStatus::unknown;
  }

  ScheduleOptions schedule_options() const {
    return ScheduleOptions{.jitter = cfg.poll.jitter,
                           .cadence = {cfg.poll.pending_interval, cfg.poll.finished_interval}};
  }

  double random01() { return std::uniform_real_distribution<double>(0.0, 1.0)(rng); }

  void emit(const std::vector<Alert>& alerts) {
    if (alerts.empty()) return;
    metrics.set_firing(fleet.firing());
    if (!state) return write_alerts(alerts);
    pending.insert(pending.end(), alerts.begin(), alerts.end());
    dirty = true;
  }

  void write_alerts(const std::vector<Alert>& alerts) {
    for (const auto& a : alerts) {
      alert_log->write(a);
      if (sinks) sinks->submit(a);
      metrics.on_alert(a);
      recent.add(a);
      // An untracked job's last lines (its alerts resolved as `untracked`) stay in the
      // overall list only.
      if (a.job && !fleet.find(*a.job)) recent.forget(*a.job);
    }
  }

  /// Saves the state, then writes the alerts that waited for it. (A failed save is logged
  /// and counted; the alerts are written anyway: losing them would be worse.)
  void commit() {
    if (state) save_state();
    auto out = std::move(pending);
    pending.clear();
    write_alerts(out);
    last_commit = steady_clock::now();
  }

  void save_state() {
    auto now = system_clock::now();
    auto r = state->save(fleet.save(), now);
    last_save = steady_clock::now();
    if (r) {
      dirty = false;
      metrics.state_saved(now);
      if (state_failing) log->info("state saved to {} again", state->path());
      state_failing = false;
      return;
    }
    metrics.state_save_failed();
    if (!state_failing) log->error("{} (retrying; polling goes on)", r.error());
    state_failing = true;
  }

  void watch_alert_log() {
    alert_log->set_failure_observer([this] { metrics.on_alert_log_write_failure(); });
  }

  /// Housekeeping every 200 ms: retries alert lines waiting for the file; commits pending
  /// alerts within about a second (at most one state save a second in an alert storm) and
  /// saves a changed state every state_save_interval.
  asio::awaitable<void> housekeeping() {
    asio::steady_timer t(io);
    while (!stopping) {
      t.expires_after(200ms);
      co_await t.async_wait(asio::as_tuple(asio::use_awaitable));
      // Alert lines waiting for a full disk; a deleted or replaced alert file.
      alert_log->retry();
      metrics.set_alert_log_queue(alert_log->queued(), alert_log->dropped());
      if (stopping || !state) continue;
      auto now = steady_clock::now();
      if (!pending.empty() && now - last_commit >= std::min<Millis>(1s, cfg.state_save_interval))
        commit();
      else if (dirty && now - last_save >= cfg.state_save_interval)
        save_state();
    }
  }

  /// Where users reach mmsmon's job list (Alertmanager's generatorURL).
  std::string generator_url(const Config& c) const {
    if (c.alerts.external_url) return *c.alerts.external_url + "/api/v1/jobs";
    std::string host = c.listen.substr(0, c.listen.rfind(':'));
    std::string port = c.listen.substr(c.listen.rfind(':') + 1);
    if (host.empty() || host == "0.0.0.0" || host == "[::]") {
      char name[256] = {};
      host = gethostname(name, sizeof name - 1) == 0 && name[0] ? name : "localhost";
    }
    if (port == "0" && server) port = std::to_string(server->port());
    return std::string(c.web.tls ? "https://" : "http://") + host + ":" + port + "/api/v1/jobs";
  }

  /// The alert sinks of `c`, seeded with what fires now; none when it has no sinks.
  Result<std::unique_ptr<AlertSinks>> make_sinks(const Config& c) {
    if (c.alerts.sinks.empty()) return std::unique_ptr<AlertSinks>{};
    AlertSinks::Observer obs;
    obs.on_event = [this](const std::string& sink, AlertSinks::EventKind k, std::size_t n,
                          std::size_t queued) {
      metrics.on_sink(sink, static_cast<int>(k), n, queued);
    };
    obs.log = [this](bool error, const std::string& m) {
      if (error)
        log->warn("{}", m);
      else
        log->info("{}", m);
    };
    auto made = AlertSinks::create(io.get_executor(), c.alerts.sinks, generator_url(c), obs);
    if (!made) return Failure{made.error()};
    std::vector<Alert> firing;
    for (const auto& f : fleet.firing())
      firing.push_back(f.as_alert());
    (*made)->seed(firing);
    return made;
  }

  /// The state file: `state_file`, else `$STATE_DIRECTORY/state.json` under systemd.
  std::optional<std::string> state_path(const Config& c) const {
    if (c.state_file) return c.state_file;
    if (const char* dir = std::getenv("STATE_DIRECTORY"); dir && *dir) {
      std::string d(dir);
      return d.substr(0, d.find(':')) + "/state.json";
    }
    return std::nullopt;
  }

  /// Restores the fleet from the state file, if there is one that can be used.
  void load_state() {
    auto path = state_path(cfg);
    if (!path) return;
    state.emplace(*path);
    auto loaded = state->load(system_clock::now());
    if (loaded.problem) {
      log->error("{}", *loaded.problem);
      metrics.state_set_aside();
    }
    if (!loaded.state) return;
    std::size_t jobs = loaded.state->state.jobs.size();
    std::size_t firing = loaded.state->state.firing.size();
    fleet.restore(std::move(loaded.state->state));
    log->info("state restored from {} (written {}): {} jobs, {} alerts firing", *path,
              rfc3339(loaded.state->written), jobs, firing);
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
        log->warn("job {}/{}: odd data from the API: {}", key.source.value, key.job.value,
                  printable_excerpt(a, 1024));
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
    dirty = true;
    TrackedJob* j = fleet.find(key);
    if (!j) return Millis{0};
    return next_poll_delay(*j, outcome, schedule_options(), random01());
  }

  std::vector<DataSource> datasources;  ///< as last listed (data source health)
  bool datasources_failing = false;

  void on_datasources(Result<std::vector<DataSource>, ApiError> r) {
    if (!r) {
      if (!datasources_failing)
        log->warn("discovery: listing the data sources failed: {} (retried every {})",
                  r.error().describe(), format_duration(cfg.discover_interval));
      datasources_failing = true;
      return;
    }
    if (datasources_failing) log->info("discovery: the data sources are listed again");
    datasources_failing = false;
    datasources = std::move(r).value();
    metrics.set_datasources(datasources);
    emit(fleet.on_datasources(datasources, system_clock::now()));
  }

  Discoverer::Plan discovery_plan() const {
    Discoverer::Plan p;
    for (const auto& r : cfg.discover) {
      if (r.source) p.sources.insert(*r.source);
      p.all_sources = p.all_sources || r.all_sources;
    }
    p.page_size = static_cast<std::int64_t>(cfg.poll.page_size);
    p.interval = cfg.discover_interval;
    return p;
  }

  /// A listing of one source's jobs: jobs `discover` picks (in this shard) and not tracked
  /// yet start being tracked, their page snapshot as the baseline; discovered jobs missing
  /// from two complete listings in a row are withdrawn (their alerts resolve as untracked).
  /// Kinds of odd pages already said at warn, as "what/source/note without its digits".
  std::set<std::string> page_notes_said;
  /// Odd pages: said at warn once per data source and kind, at debug after (all counted).
  /// A complete listing (`listed`) of the source without odd pages ends the episode: a kind that
  /// comes back after it is said at warn again.
  void say_page_notes(std::string_view what, SourceId source, bool listed,
                      const std::vector<std::string>& notes) {
    const std::string prefix = std::string(what) + "/" + std::to_string(source.value) + "/";
    if (listed && notes.empty()) {
      auto it = page_notes_said.lower_bound(prefix);
      while (it != page_notes_said.end() && it->starts_with(prefix))
        it = page_notes_said.erase(it);
      return;
    }
    for (const auto& n : notes) {
      std::string kind = prefix;
      for (char c : n)
        if (c < '0' || c > '9') kind += c;
      if (page_notes_said.insert(kind).second)
        log->warn(
            "{}: data source {}: {} (said once until a listing of this data source is "
            "clean)",
            what, source.value, n);
      else
        log->debug("{}: data source {}: {}", what, source.value, n);
    }
  }

  void on_listing(Discoverer::SourceListing l) {
    auto sid = l.source.value;
    say_page_notes("discovery", l.source, l.jobs && l.complete, l.notes);
    metrics.on_listing(l.requests, l.notes.size());
    if (!l.jobs) {
      if (listing_failing.insert(l.source).second)
        log->warn(
            "discovery: listing the jobs of data source {} failed: {} (tracked jobs stay; "
            "retried every {})",
            sid, l.jobs.error().describe(), format_duration(cfg.discover_interval));
      return;
    }
    if (listing_failing.erase(l.source))
      log->info("discovery: data source {} is listed again", sid);
    auto now = system_clock::now();
    auto& listed = l.jobs.value();
    auto ch = reconcile_listing(fleet, l.source, listed, l.complete, retired, cfg.discover,
                                cfg.shard, now, cfg.poll.finished_retention);
    std::vector<Alert> out;
    for (const auto& key : ch.present)
      fleet.find(key)->missing = 0;
    for (const auto& key : ch.unretire)
      retired.erase(key);
    for (auto [i, rule] : ch.add) {
      JobKey key = listed[i].key;
      fleet.add(key, rule->interval.value_or(cfg.poll.interval), rule->stall_after);
      fleet.find(key)->discovered = true;
      auto c = fleet.on_snapshot(key, std::move(listed[i]), now);  // the baseline
      out.insert(out.end(), c.alerts.begin(), c.alerts.end());
      poller->add(key,
                  Millis{static_cast<Millis::rep>(
                      random01() *
                      static_cast<double>(
                          poll_interval(*fleet.find(key), schedule_options().cadence).count()))});
    }
    for (const auto& key : ch.missing)
      ++fleet.find(key)->missing;
    auto withdraw = [&](const JobKey& key) {
      poller->remove(key);
      covered.erase(key);
      auto a = fleet.remove(key, now);
      out.insert(out.end(), a.begin(), a.end());
    };
    for (const auto& key : ch.retire) {
      withdraw(key);
      retired.insert(key);
    }
    for (const auto& key : ch.withdraw)
      withdraw(key);
    std::size_t added = ch.add.size(), withdrawn = ch.retire.size() + ch.withdraw.size();
    if (added || withdrawn) {
      log->info("discovery: data source {}: {} jobs found, {} withdrawn; tracking {} jobs", sid,
                added, withdrawn, fleet.size());
      metrics.set_tracked_jobs(fleet.size());
      dirty = true;
    }
    emit(out);
  }

  /// The sources worth refreshing by pages: those with at least two tracked running jobs and
  /// a DOING listing (as last seen) of fewer pages than that.
  Discoverer::Plan refresh_plan() {
    Discoverer::Plan p;
    p.page_size = static_cast<std::int64_t>(cfg.poll.page_size);
    p.interval = cfg.poll.interval;
    p.sources = refresh_sources(fleet, doing_total, p.page_size, cfg.poll.page_refresh);
    // Sources no longer worth it: their covered jobs go back to their own polls.
    std::vector<JobKey> back;
    for (const auto& key : covered)
      if (!p.sources.count(key.source) || !fleet.find(key)) back.push_back(key);
    for (const auto& key : back)
      uncover(key);
    return p;
  }

  /// A covered job goes back to being polled on its own, at once (it confirms a change).
  void uncover(const JobKey& key) {
    covered.erase(key);
    if (fleet.find(key)) poller->add(key, Millis{0});
  }

  /// A refresh listing: every tracked job in it is folded as a poll would be (and is covered:
  /// not polled on its own); a covered job missing from it (finished, failed, gone) is polled
  /// on its own at once, which confirms what became of it.
  void on_refresh(Discoverer::SourceListing l) {
    auto sid = l.source.value;
    std::vector<JobKey> mine;
    for (const auto& key : covered)
      if (key.source == l.source) mine.push_back(key);
    if (!l.jobs) {
      if (refresh_failing.insert(l.source).second)
        log->warn("refresh of data source {} by pages failed: {}; its jobs are polled one by one",
                  sid, l.jobs.error().describe());
      for (const auto& key : mine)
        uncover(key);
      return;
    }
    if (refresh_failing.erase(l.source))
      log->info("refresh of data source {} by pages works again", sid);
    say_page_notes("refresh", l.source, l.complete, l.notes);
    doing_total[l.source] = static_cast<std::int64_t>(l.jobs.value().size());
    std::set<JobKey> present;
    std::vector<Alert> out;
    for (auto& job : l.jobs.value()) {
      JobKey key = job.key;
      if (!fleet.find(key)) continue;
      present.insert(key);
      auto ch = fleet.on_snapshot(key, std::move(job), l.fetched_at);
      out.insert(out.end(), ch.alerts.begin(), ch.alerts.end());
      if (covered.insert(key).second) poller->remove(key);
    }
    for (const auto& key : mine)
      if (!present.count(key)) uncover(key);
    emit(out);
    dirty = true;
  }

  /// Running jobs whose failed tasks are due for a check (at most 1,000 a round), each marked
  /// as attempted.
  std::vector<TaskChecker::DueJob> tasks_due() {
    std::vector<TaskChecker::DueJob> out;
    if (cfg.tasks.interval <= Millis::zero() || stopping) return out;
    auto now = system_clock::now();
    for (const auto& [key, job] : fleet.jobs()) {
      const JobState& st = job.state;
      if (!st.up || !st.last || st.last->status != JobStatus::doing) continue;
      if (job.tasks_attempted && now - *job.tasks_attempted < cfg.tasks.interval) continue;
      out.push_back({key, st.tasks});
      fleet.find(key)->tasks_attempted = now;
      if (out.size() == 1000) break;
    }
    return out;
  }

  void on_tasks(const JobKey& key, Result<TaskFailures, ApiError> r) {
    if (!r) {
      if (!task_checks_failing)
        log->warn(
            "job {}/{}: checking its failed tasks failed: {} (retried every {}; the "
            "RAM policy needs odps:ListMmsTasks and odps:ListMmsTaskLogs)",
            key.source.value, key.job.value, r.error().describe(),
            format_duration(cfg.tasks.interval));
      task_checks_failing = true;
      return;
    }
    if (task_checks_failing) log->info("checks of failed tasks succeed again");
    task_checks_failing = false;
    emit(fleet.on_tasks(key, std::move(r).value()));
    dirty = true;
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
      auto now = system_clock::now();
      auto out = fleet.on_pacing(pacing(), nullptr, now);
      auto due = fleet.tick(now);  // reminders, resolutions whose hold is over
      out.insert(out.end(), due.begin(), due.end());
      emit(out);
      t.expires_after(1s);
      co_await t.async_wait(asio::as_tuple(asio::use_awaitable));
    }
  }

  void handle_signals() {
    signals.async_wait([this](const boost::system::error_code& ec, int sig) {
      if (ec) return;
      if (sig == SIGHUP) {
        reload("SIGHUP");
        handle_signals();
        return;
      }
      if (stopping) {
        // A second TERM/INT while stopping: the operator wants out now.
        log->warn("signal {} while stopping: exiting at once", sig);
        commit();
        io.stop();
        return;
      }
      log->info("signal {}: stopping", sig);
      shutdown();
      handle_signals();
    });
  }

  /// One line for systemd's STATUS: jobs, failing, firing alerts.
  std::string status_line() const {
    return "watching " + std::to_string(fleet.size()) + " jobs, " +
           std::to_string(fleet.failing()) + " failing, " + std::to_string(fleet.firing_count()) +
           " alerts firing";
  }

  /// Reloads the configuration (SIGHUP and POST /-/reload): reads and validates the file,
  /// prepares what can fail (the listener, the alert file), then swaps. On any problem the
  /// old configuration stays and every problem is returned and logged.
  std::vector<std::string> reload(std::string_view why) {
    notifier.reloading();
    auto problems = try_reload();
    if (problems.empty()) {
      metrics.config_loaded(system_clock::now());
      log->info("{}: configuration reloaded from {}; {}", why, opt.config_path, status_line());
    } else {
      metrics.config_load_failed();
      for (const auto& p : problems)
        log->error("{}: reload failed, the old configuration stays: {}", why, p);
      // Whatever the new file says, the alert file is reopened: logrotate relies on it.
      if (auto r = alert_log->reopen(); !r) log->error("{}: {}", why, r.error());
    }
    notifier.ready(status_line());
    return problems;
  }

  std::vector<std::string> try_reload() {
    auto loaded = load_config_file(opt.config_path);
    if (!loaded) {
      std::vector<std::string> out;
      for (const auto& e : loaded.error())
        out.push_back(e.to_string());
      return out;
    }
    Config next = std::move(loaded).value();
    // What can fail is prepared first; nothing changes until all of it worked.
    auto al = AlertLog::open(next.alerts, log);  // also how SIGHUP reopens a rotated file
    if (!al) return {al.error()};
    std::unique_ptr<HttpServer> new_server;
    if (next.listen != cfg.listen) {
      auto srv = make_server(next);
      if (!srv) return {srv.error()};
      new_server = std::move(srv).value();
    } else if (next.web.tls || next.web != cfg.web) {
      // The last fallible step: certificate and key are reread on every reload.
      if (auto r = server->set_web(next.web); !r) return {r.error()};
    }
    std::unique_ptr<AlertSinks> new_sinks;
    bool sinks_changed = next.alerts.sinks != cfg.alerts.sinks ||
                         next.alerts.external_url != cfg.alerts.external_url;
    if (sinks_changed) {
      auto made = make_sinks(next);
      if (!made) return {made.error()};
      new_sinks = std::move(made).value();
    }
    // Swap.
    if (sinks_changed) {
      if (sinks)
        if (auto lost = sinks->stop())
          log->warn("alert sinks replaced by the reload: {} alerts not yet delivered are dropped",
                    lost);
      sinks = std::move(new_sinks);
      metrics.set_sinks(sinks ? sinks->names() : std::vector<std::string>{});
    }
    (*al)->take_queue_from(*alert_log);
    alert_log = std::move(al).value();
    watch_alert_log();
    bool rebound = static_cast<bool>(new_server);
    if (rebound) {
      new_server->start();  // bound before the old one closes
      server->stop();
      server = std::move(new_server);
      log->info("now listening on {} (port {})", next.listen, server->port());
      write_port_file();
    }
    if (rebound || next.web != cfg.web) warn_if_exposed(next);
    log->set_level(spdlog::level::from_str(next.log_level));
    fleet.set_thresholds(thresholds(next.alerts));
    fleet.set_throughput_options(ThroughputOptions{next.alerts.eta_window});
    poller->set_max_in_flight(next.poll.max_in_flight);
    governor.set_budget(budget_of(next.api));
    bool rediscover = next.discover != cfg.discover || next.shard != cfg.shard;
    apply_jobs(next);
    warn_needs_restart(next);
    reread_credentials(next);
    if (state_path(next) != state_path(cfg)) {
      auto path = state_path(next);
      if (path)
        state.emplace(*path);
      else
        state.reset();
      if (!state) write_alerts(std::exchange(pending, {}));
    }
    cfg = std::move(next);
    if (rediscover) discoverer->kick();
    return {};
  }

  /// Jobs added start polling (spread over their interval), jobs removed lose their series
  /// and their firing alerts resolve, jobs kept keep their state and take a new interval.
  void apply_jobs(const Config& next) {
    auto now = system_clock::now();
    std::set<JobKey> keep = jobs_kept(fleet, next);
    for (const auto& [key, job] : fleet.jobs())
      if (!keep.count(key)) poller->remove(key);
    emit(fleet.retain(keep, now));
    std::vector<JobKey> added;
    for (const auto& j : next.jobs) {
      if (fleet.add(j.key, j.interval.value_or(next.poll.interval), j.stall_after))
        added.push_back(j.key);
      fleet.find(j.key)->discovered = false;  // configured now
    }
    std::size_t i = 0;
    for (const auto& key : added)
      poller->add(key,
                  first_poll_offset(i++, added.size(),
                                    poll_interval(*fleet.find(key), schedule_options().cadence)));
    metrics.set_tracked_jobs(fleet.size());
  }

  /// Fixed keys read from files ($CREDENTIALS_DIRECTORY, the CLI profile, the shared
  /// credentials file) are read again: a rotated key takes effect without a restart. Keys
  /// from the environment stay (it was wiped); temporary ones refresh by themselves.
  void reread_credentials(const Config& next) {
    const std::string& from = api.client->credentials().source;
    if (opt.credential_source || from.starts_with("environment")) return;
    auto plan = plan_credentials(next.credentials, process_env());
    if (!plan || !std::holds_alternative<Credentials>(plan->how)) {
      log->warn("credentials not read again ({}); the ones from {} stay",
                plan ? plan->source + " is not a file of keys" : plan.error(), from);
      return;
    }
    auto& fresh = std::get<Credentials>(plan->how);
    if (fresh.access_key_id != api.client->credentials().access_key_id ||
        fresh.access_key_secret.reveal() != api.client->credentials().access_key_secret.reveal() ||
        fresh.security_token.reveal() != api.client->credentials().security_token.reveal())
      log->info("credentials read again from {}: changed", fresh.source);
    api.client->set_credentials(std::move(fresh));
  }

  /// The API client stack is built once; say so when a reload would change it.
  void warn_needs_restart(const Config& next) {
    const auto &a = cfg.api, &b = next.api;
    if (api_base_url(a) != api_base_url(b) || a.timeout != b.timeout || a.ca_file != b.ca_file ||
        a.max_response_bytes != b.max_response_bytes || a.utc_offset != b.utc_offset ||
        a.max_connections != b.max_connections || cfg.credentials != next.credentials)
      log->warn("changes to \"api\" and \"credentials\" take effect at the next restart");
  }

  Result<std::unique_ptr<HttpServer>> make_server(const Config& c) {
    auto srv = HttpServer::create(
        io.get_executor(), c.listen, [this](const ServerRequest& r) { return handle(r); }, {},
        c.web);
    if (srv) (*srv)->on_auth_failure([this] { metrics.on_http_auth_failure(); });
    return srv;
  }

  /// Say so when the HTTP server listens beyond this machine with neither TLS nor auth.
  void warn_if_exposed(const Config& c) {
    std::string host = c.listen.substr(0, c.listen.rfind(':'));
    if (host.size() >= 2 && host.front() == '[') host = host.substr(1, host.size() - 2);
    if (!is_loopback_host(host) && !c.web.tls && c.web.basic_auth_users.empty())
      log->warn(
          "listening on {} with neither TLS nor authentication: /metrics and "
          "/api/v1/jobs are open to anyone who can reach it; set web.tls_server_config "
          "and web.basic_auth_users, bind to 127.0.0.1, or firewall it",
          c.listen);
  }

  /// Writes the bound port to --port-file. Non-blocking: a FIFO nobody reads any more (a
  /// test that already has the first port) is skipped instead of blocking the loop.
  void write_port_file() {
    if (!opt.port_file) return;
    int fd =
        ::open(opt.port_file->c_str(), O_WRONLY | O_NONBLOCK | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) {
      log->warn("cannot write the port to {}: {}", *opt.port_file, std::strerror(errno));
      return;
    }
    std::string text = std::to_string(server->port()) + "\n";
    if (::write(fd, text.data(), text.size()) != static_cast<ssize_t>(text.size()))
      log->warn("cannot write the port to {}: {}", *opt.port_file, std::strerror(errno));
    ::close(fd);
  }

  /// Stops: no new polls; polls under way get up to kStopGrace to finish, then are
  /// cancelled; exits within kStopLimit whatever happens.
  static constexpr auto kStopGrace = 3s;
  static constexpr auto kStopLimit = 4500ms;

  /// Temporary credentials: refreshed ahead of expiry in the background. Polls under way
  /// keep what they were signed with; the next ones take the new credentials.
  bool start_credential_refresh() {
    RefreshingSource src;
    std::string type = "static";
    if (opt.credential_source) {
      src = *opt.credential_source;
      type = credential_source_type(CredentialPlan{src, ""});
    }
    metrics.credentials_source(type);
    if (!opt.credential_source) return true;
    CredentialProviderOptions copt;
    copt.ca_file = cfg.api.ca_file;
    auto p =
        CredentialProvider::create(io.get_executor(), src, api.client->credentials().source, copt);
    if (!p) {
      log->critical("{}", p.error());
      return false;
    }
    cred_provider = std::move(p).value();
    metrics.credentials_refreshed(opt.credential_expiry);
    TemporaryCredentials first{api.client->credentials(), opt.credential_expiry};
    cred_provider->start(
        first, {[this](const TemporaryCredentials& t) {
                  api.client->set_credentials(t.creds);
                  metrics.credentials_refreshed(t.expiration);
                  if (cred_failing)
                    log->info("credentials from {} refreshed again", t.creds.source);
                  cred_failing = false;
                  log->debug("credentials refreshed; they expire at {}", rfc3339(t.expiration));
                },
                [this](const std::string& error, bool expired) {
                  metrics.credentials_refresh_failed();
                  if (!cred_failing || expired)
                    log->warn("{} ({}; retrying)", error,
                              expired ? "the credentials in use have expired: polls will fail"
                                      : "the credentials in use are still valid");
                  cred_failing = true;
                }});
    return true;
  }

  void shutdown() {
    if (stopping) return;
    stopping = true;
    if (cred_provider) cred_provider->stop();
    notifier.stopping();
    notifier.stop_watchdog();
    if (server) server->stop();
    if (task_checker) task_checker->stop();
    if (discoverer) discoverer->stop();
    if (refresher) refresher->stop();
    if (sinks) sinks->stop();
    auto grace =
        std::make_shared<asio::steady_timer>(io, std::min<Millis>(cfg.api.timeout, kStopGrace));
    grace->async_wait([this, grace](const boost::system::error_code& ec) {
      if (ec) return;
      log->info("cancelling the polls still under way");
      api.http->cancel_all();
    });
    auto limit = std::make_shared<asio::steady_timer>(io, kStopLimit);
    limit->async_wait([this, limit](const boost::system::error_code& ec) {
      if (ec) return;
      commit();
      io.stop();
    });
    poller->stop([this, grace, limit] {
      grace->cancel();
      limit->cancel();
      commit();  // the state is flushed, pending alerts written
      io.stop();
    });
  }

  ServerResponse handle(const ServerRequest& req) {
    return route(
        req, RouterView{fleet, metrics, stopping, poller ? poller->down() : 0,
                        [this] { return reload("POST /-/reload"); }, &recent, system_clock::now()});
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
    if (!start_credential_refresh()) return 1;

    auto al = AlertLog::open(cfg.alerts, log);
    if (!al) {
      log->critical("{}", al.error());
      return 1;
    }
    alert_log = std::move(al).value();
    watch_alert_log();

    auto srv = make_server(cfg);
    if (!srv) {
      log->critical("{}", srv.error());
      return 1;
    }
    server = std::move(srv).value();

    poller = std::make_unique<Poller>(
        io.get_executor(), *api.client, governor,
        Poller::Options{.max_in_flight = cfg.poll.max_in_flight,
                        .urgent = [this](const JobKey& k) { return running_or_unknown(k); },
                        .first = [this](const JobKey& k) { return known_running(k); }},
        [this](const JobKey& k, Result<Job, ApiError>& r) { return on_poll(k, r); },
        [this](const JobKey& k, const std::string& what, Millis restart_in) {
          on_poller_crash(k, what, restart_in);
        });
    governor.set_budget(budget_of(cfg.api));
    task_checker = std::make_unique<TaskChecker>(
        io.get_executor(), *api.client, governor, *poller, [this] { return tasks_due(); },
        [this](const JobKey& k, Result<TaskFailures, ApiError> r) { on_tasks(k, std::move(r)); });
    task_checker->set_crash_observer([this](const std::string& what) {
      metrics.on_poller_restart();
      log->critical("internal error in the checks of failed tasks: {}; restarting them", what);
    });
    discoverer = std::make_unique<Discoverer>(
        io.get_executor(), *api.client, governor, *poller, [this] { return discovery_plan(); },
        [this](Result<std::vector<DataSource>, ApiError> r) { on_datasources(std::move(r)); },
        [this](Discoverer::SourceListing l) { on_listing(std::move(l)); });
    discoverer->set_crash_observer([this](const std::string& what) {
      metrics.on_poller_restart();
      log->critical("internal error in discovery: {}; restarting it", what);
    });
    refresher = std::make_unique<Discoverer>(
        io.get_executor(), *api.client, governor, *poller, [this] { return refresh_plan(); },
        [](Result<std::vector<DataSource>, ApiError>) {},
        [this](Discoverer::SourceListing l) { on_refresh(std::move(l)); },
        Discoverer::Mode::refresh);
    refresher->set_crash_observer([this](const std::string& what) {
      metrics.on_poller_restart();
      log->critical("internal error in the refresh by pages: {}; restarting it", what);
    });
    load_state();
    std::set<JobKey> configured =
        jobs_kept(fleet, cfg);  // configured, and discovered ones still picked
    for (const auto& j : cfg.jobs) {
      fleet.add(j.key, j.interval.value_or(cfg.poll.interval), j.stall_after);
      fleet.find(j.key)->discovered = false;
    }
    emit(fleet.retain(configured, system_clock::now()));  // jobs dropped from the config
    metrics.set_tracked_jobs(fleet.size());
    metrics.set_firing(fleet.firing());  // restored from the state file, or none
    auto made = make_sinks(cfg);
    if (!made) {
      log->critical("{}", made.error());
      return 1;
    }
    sinks = std::move(made).value();
    if (sinks) metrics.set_sinks(sinks->names());
    metrics.config_loaded(system_clock::now());

    log->info(
        "mmsmon {} watching {} jobs at {} (credentials from {}); metrics on http://{}:{}/metrics; "
        "alerts to {}",
        kVersion, fleet.size(), api.endpoint.url(), cred_source,
        cfg.listen.substr(0, cfg.listen.rfind(':')), server->port(), cfg.alerts.file);
    server->start();
    write_port_file();
    warn_if_exposed(cfg);
    handle_signals();
    // First polls are spread evenly over the first interval: no thundering herd at start.
    std::size_t i = 0;
    for (const auto& [key, job] : fleet.jobs())
      poller->add(key, first_poll_offset(i++, fleet.size(),
                                         poll_interval(job, schedule_options().cadence)));
    auto crash = [this](const std::string& m) { log->critical("{}", m); };
    asio::co_spawn(io, ticker(), report_crash("the pacing ticker", crash));
    task_checker->start();
    discoverer->start();
    refresher->start();
    asio::co_spawn(io, housekeeping(), report_crash("the housekeeping loop", crash));
    // The config is loaded, the listener bound, the pollers started: tell systemd.
    notifier.ready(status_line());
    auto period = notifier.start_watchdog(io.get_executor(), [this] { return status_line(); });
    if (period.count() > 0)
      log->info("systemd watchdog: {} ms, pinged every {} ms", period.count() / 1000,
                period.count() / 2000);
    io.run();
    log->info("stopped");
    return 0;
  }
};

std::string credential_source_type(const CredentialPlan& plan) {
  if (std::holds_alternative<Credentials>(plan.how)) return "static";
  const auto& r = std::get<RefreshingSource>(plan.how);
  if (std::holds_alternative<EcsRoleSource>(r)) return "ecs_ram_role";
  if (std::holds_alternative<OidcSource>(r)) return "oidc";
  return "credentials_uri";
}

Daemon::Daemon(Config cfg, Credentials creds, DaemonOptions opt)
    : impl_(std::make_unique<Impl>(std::move(cfg), std::move(creds), std::move(opt))) {}
Daemon::~Daemon() = default;
int Daemon::run() {
  return impl_->run();
}

}  // namespace mmsmon

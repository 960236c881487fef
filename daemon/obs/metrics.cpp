#include "obs/metrics.hpp"

#include <dirent.h>
#include <sys/resource.h>
#include <unistd.h>

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>
#include <prometheus/text_serializer.h>
#include <charconv>
#include <cmath>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include "version.hpp"

namespace mmsmon {
namespace pm = prometheus;

namespace {

void append_int(std::string& out, std::int64_t v) {
  char buf[24];
  auto [p, ec] = std::to_chars(buf, buf + sizeof buf, v);
  out.append(buf, p);
}

void append_double(std::string& out, double v) {
  // Shortest round-trip text; fixed notation for the usual range so that timestamps read
  // as 1764062673.123 rather than 1.764062673123e+09.
  char buf[400];
  bool fixed = std::abs(v) < 1e15 && (v == 0 || std::abs(v) >= 1e-6);
  auto [p, ec] = fixed ? std::to_chars(buf, buf + sizeof buf, v, std::chars_format::fixed)
                       : std::to_chars(buf, buf + sizeof buf, v);
  out.append(buf, p);
}

void append_label_value(std::string& out, std::string_view v) {
  for (char c : v) {
    if (c == '\\')
      out += "\\\\";
    else if (c == '"')
      out += "\\\"";
    else if (c == '\n')
      out += "\\n";
    else
      out += c;
  }
}

double seconds(WallTime t) {
  return static_cast<double>(
             std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count()) /
         1000.0;
}

void header(std::string& out, std::string_view name, std::string_view type, std::string_view help) {
  out += "# HELP ";
  out += name;
  out += ' ';
  out += help;
  out += "\n# TYPE ";
  out += name;
  out += ' ';
  out += type;
  out += '\n';
}

/// `name{source_id="1",job_id="2"` — the caller closes the brace or adds labels.
void series_start(std::string& out, std::string_view name, const JobKey& k) {
  out += name;
  out += "{source_id=\"";
  append_int(out, k.source.value);
  out += "\",job_id=\"";
  append_int(out, k.job.value);
  out += '"';
}

template <class Value>
void family(std::string& out, const std::vector<const JobState*>& jobs, std::string_view name,
            std::string_view type, std::string_view help, Value value) {
  bool any = false;
  for (const JobState* s : jobs) {
    std::optional<double> v = value(*s);
    if (!v) continue;
    if (!any) header(out, name, type, help);
    any = true;
    series_start(out, name, s->key);
    out += "} ";
    append_double(out, *v);
    out += '\n';
  }
}

std::optional<double> opt(const std::optional<std::int64_t>& v) {
  if (!v) return std::nullopt;
  return static_cast<double>(*v);
}

constexpr std::string_view kStatuses[] = {"INIT", "DOING", "DONE", "FAILED"};

}  // namespace

void render_job_metrics(std::string& out, const std::vector<const JobState*>& jobs) {
  bool any = false;
  for (const JobState* s : jobs) {
    if (!s->last) continue;
    const Job& j = *s->last;
    if (!any)
      header(out, "mms_job_info", "gauge", "Descriptive labels of a migration job; always 1.");
    any = true;
    series_start(out, "mms_job_info", s->key);
    auto label = [&](std::string_view n, const std::optional<std::string>& v) {
      out += ',';
      out += n;
      out += "=\"";
      if (v) append_label_value(out, *v);
      out += '"';
    };
    label("name", j.name);
    label("source_name", j.source_name);
    label("type", j.type);
    label("src_db", j.src_db);
    label("src_schema", j.src_schema);
    label("dst_project", j.dst_db);
    label("dst_schema", j.dst_schema);
    out += "} 1\n";
  }
  any = false;
  for (const JobState* s : jobs) {
    if (!s->last || !s->last->status) continue;
    if (!any)
      header(out, "mms_job_status", "gauge",
             "Status of a migration job as a state set: 1 for the current status.");
    any = true;
    auto cur = status_index(*s->last->status);
    for (std::size_t i = 0; i < 4; ++i) {
      series_start(out, "mms_job_status", s->key);
      out += ",status=\"";
      out += kStatuses[i];
      out += "\"} ";
      out += (cur && *cur == i) ? '1' : '0';
      out += '\n';
    }
  }
  family(out, jobs, "mms_job_stopped", "gauge", "1 when the job was stopped by a user.",
         [](const JobState& s) -> std::optional<double> {
           if (!s.last || !s.last->stopped) return std::nullopt;
           return *s.last->stopped ? 1.0 : 0.0;
         });
  family(out, jobs, "mms_job_tasks", "gauge", "Tasks in the job (taskNum).",
         [](const JobState& s) { return s.last ? opt(s.last->task_num) : std::nullopt; });
  family(out, jobs, "mms_job_tasks_done", "gauge", "Tasks finished (taskDone).",
         [](const JobState& s) { return s.last ? opt(s.last->task_done) : std::nullopt; });
  family(out, jobs, "mms_job_progress_ratio", "gauge", "taskDone / taskNum.",
         [](const JobState& s) -> std::optional<double> {
           if (!s.last || !s.last->task_num || !s.last->task_done || *s.last->task_num <= 0)
             return std::nullopt;
           return static_cast<double>(*s.last->task_done) / static_cast<double>(*s.last->task_num);
         });
  family(out, jobs, "mms_job_created_timestamp_seconds", "gauge",
         "When the job was created (createTime), in seconds since the epoch.",
         [](const JobState& s) -> std::optional<double> {
           if (!s.last || !s.last->create_time) return std::nullopt;
           return seconds(*s.last->create_time);
         });
  family(out, jobs, "mms_job_eta_timestamp_seconds", "gauge",
         "The desired completion time of the job (end of its eta day), in seconds since the epoch.",
         [](const JobState& s) -> std::optional<double> {
           if (!s.last || !s.last->eta) return std::nullopt;
           return seconds(*s.last->eta);
         });
  family(out, jobs, "mms_job_last_progress_timestamp_seconds", "gauge",
         "When taskDone was last seen to increase (or first seen), in seconds since the epoch.",
         [](const JobState& s) -> std::optional<double> {
           if (!s.last_progress) return std::nullopt;
           return seconds(*s.last_progress);
         });
  family(out, jobs, "mms_job_throughput_tasks_per_second", "gauge",
         "Tasks done per second, the average over the latest running time (alerts.eta_window).",
         [](const JobState& s) { return s.throughput; });
  family(out, jobs, "mms_job_projected_completion_timestamp_seconds", "gauge",
         "When the job will have done all its tasks at its current throughput, in seconds since "
         "the epoch.",
         [](const JobState& s) -> std::optional<double> {
           if (!s.projected_completion) return std::nullopt;
           return seconds(*s.projected_completion);
         });
  any = false;
  for (const JobState* s : jobs) {
    if (!s->last) continue;
    if (!any)
      header(out, "mms_job_transitions_total", "counter",
             "Status transitions observed, by new status.");
    any = true;
    for (std::size_t i = 0; i < 4; ++i) {
      series_start(out, "mms_job_transitions_total", s->key);
      out += ",to=\"";
      out += kStatuses[i];
      out += "\"} ";
      append_int(out, static_cast<std::int64_t>(s->transitions[i]));
      out += '\n';
    }
  }
  any = false;
  for (const JobState* s : jobs) {
    if (!s->tasks) continue;
    if (!any)
      header(out, "mms_job_tasks_failed", "gauge",
             "Failed tasks of a running job, by phase (schema, data, verification).");
    any = true;
    for (auto p : kTaskPhases) {
      series_start(out, "mms_job_tasks_failed", s->key);
      out += ",phase=\"";
      out += to_string(p);
      out += "\"} ";
      append_int(out, s->tasks->failed[static_cast<std::size_t>(p)]);
      out += '\n';
    }
  }
  family(out, jobs, "mms_job_up", "gauge", "1 when the last poll of the job succeeded.",
         [](const JobState& s) -> std::optional<double> {
           if (!s.polled) return std::nullopt;
           return s.up ? 1.0 : 0.0;
         });
  any = false;
  for (const JobState* s : jobs) {
    if (!s->polled || s->up || !s->last_error) continue;
    if (!any)
      header(out, "mms_job_poll_failure", "gauge",
             "1 while the job's last poll failed, with the reason it failed; absent while polls "
             "succeed.");
    any = true;
    series_start(out, "mms_job_poll_failure", s->key);
    out += ",reason=\"";
    out += to_string(s->last_error->reason);
    out += "\"} 1\n";
  }
  family(out, jobs, "mms_job_last_success_timestamp_seconds", "gauge",
         "When the job was last polled successfully, in seconds since the epoch.",
         [](const JobState& s) -> std::optional<double> {
           if (!s.last_success) return std::nullopt;
           return seconds(*s.last_success);
         });
}

void render_data_age(std::string& out, const std::vector<const JobState*>& jobs, WallTime now,
                     WallTime started) {
  static constexpr double kBounds[] = {1,   5,    15,   30,   60,    120,   300,
                                       600, 1800, 3600, 7200, 21600, 86400, 604800};
  constexpr std::size_t n = std::size(kBounds);
  std::array<std::uint64_t, n> counts{};
  double sum = 0;
  for (const JobState* s : jobs) {
    double age = std::chrono::duration<double>(now - s->last_success.value_or(started)).count();
    age = std::max(age, 0.0);
    sum += age;
    for (std::size_t i = 0; i < n; ++i)
      if (age <= kBounds[i]) ++counts[i];
  }
  out +=
      "# HELP mmsmon_job_data_age_seconds How old each tracked job's data is at scrape time "
      "(since its last successful poll, or since mmsmon started for a job without one).\n"
      "# TYPE mmsmon_job_data_age_seconds histogram\n";
  char buf[96];
  for (std::size_t i = 0; i < n; ++i) {
    std::snprintf(buf, sizeof buf, "mmsmon_job_data_age_seconds_bucket{le=\"%g\"} %llu\n",
                  kBounds[i], static_cast<unsigned long long>(counts[i]));
    out += buf;
  }
  std::snprintf(buf, sizeof buf, "mmsmon_job_data_age_seconds_bucket{le=\"+Inf\"} %zu\n",
                jobs.size());
  out += buf;
  std::snprintf(buf, sizeof buf, "mmsmon_job_data_age_seconds_sum %.3f\n", sum);
  out += buf;
  std::snprintf(buf, sizeof buf, "mmsmon_job_data_age_seconds_count %zu\n", jobs.size());
  out += buf;
}

namespace {

/// `"value"` with the exposition format's escapes.
std::string label_value(std::string_view v) {
  std::string out;
  for (char c : v) {
    if (c == '\\' || c == '"')
      out += '\\', out += c;
    else if (c == '\n')
      out += "\\n";
    else
      out += c;
  }
  return out;
}

}  // namespace

void render_datasource_metrics(std::string& out, const std::vector<DataSource>& sources) {
  if (sources.empty()) return;
  auto id = [](const DataSource& d) { return "source_id=\"" + std::to_string(d.id.value) + "\""; };
  out +=
      "# HELP mms_datasource_info A data source of MMS (ListMmsDataSources), always 1.\n"
      "# TYPE mms_datasource_info gauge\n";
  for (const auto& d : sources)
    out += "mms_datasource_info{" + id(d) + ",name=\"" + label_value(d.name.value_or("")) +
           "\",type=\"" + label_value(d.type.value_or("")) + "\",region=\"" +
           label_value(d.region.value_or("")) + "\",status=\"" +
           label_value(d.status.value_or("")) + "\"} 1\n";
  bool any = false;
  for (const auto& d : sources) {
    if (!d.agent_online) continue;
    if (!any)
      out +=
          "# HELP mms_datasource_agent_online 1 when the data source's MMS agent is online.\n"
          "# TYPE mms_datasource_agent_online gauge\n";
    any = true;
    out += "mms_datasource_agent_online{" + id(d) + "} " + (*d.agent_online ? "1" : "0") + "\n";
  }
  auto by_state = [&](const char* name, const char* help, auto doing, auto done, auto failed) {
    bool head = false;
    for (const auto& d : sources)
      for (auto [state, v] : {std::pair{"doing", d.*doing}, std::pair{"done", d.*done},
                              std::pair{"failed", d.*failed}}) {
        if (!v) continue;
        if (!head)
          out += std::string("# HELP ") + name + " " + help + "\n# TYPE " + name + " gauge\n";
        head = true;
        out += std::string(name) + "{" + id(d) + ",state=\"" + state + "\"} " + std::to_string(*v) +
               "\n";
      }
  };
  by_state("mms_datasource_tables", "Tables of the data source by migration state.",
           &DataSource::tables_doing, &DataSource::tables_done, &DataSource::tables_failed);
  by_state("mms_datasource_partitions", "Partitions of the data source by migration state.",
           &DataSource::partitions_doing, &DataSource::partitions_done,
           &DataSource::partitions_failed);
  any = false;
  for (const auto& d : sources) {
    if (!d.scan_status) continue;
    if (!any)
      out +=
          "# HELP mms_datasource_scan_status The status of the data source's last metadata "
          "scan, always 1.\n# TYPE mms_datasource_scan_status gauge\n";
    any = true;
    out += "mms_datasource_scan_status{" + id(d) + ",status=\"" + label_value(*d.scan_status) +
           "\"} 1\n";
  }
}

void render_process_metrics(std::string& out) {
  long ticks = sysconf(_SC_CLK_TCK);
  long page = sysconf(_SC_PAGESIZE);
  std::ifstream stat("/proc/self/stat");
  std::string line;
  std::getline(stat, line);
  auto close = line.rfind(')');
  if (close == std::string::npos || ticks <= 0) return;
  std::istringstream is(line.substr(close + 2));
  std::vector<std::string> f;
  for (std::string x; is >> x;)
    f.push_back(x);
  // Fields after the command, 0-based from field 3 (state): utime 11, stime 12,
  // starttime 19, vsize 20, rss 21.
  if (f.size() < 22) return;
  double cpu = (std::stod(f[11]) + std::stod(f[12])) / static_cast<double>(ticks);
  double start_ticks = std::stod(f[19]);
  double vsize = std::stod(f[20]);
  double rss = std::stod(f[21]) * static_cast<double>(page);
  double boot = 0;
  std::ifstream ps("/proc/stat");
  for (std::string l; std::getline(ps, l);)
    if (l.starts_with("btime ")) boot = std::stod(l.substr(6));
  std::size_t fds = 0;
  if (DIR* d = opendir("/proc/self/fd")) {
    while (auto* e = readdir(d))
      if (e->d_name[0] != '.') ++fds;
    closedir(d);
    if (fds) --fds;  // the descriptor opendir itself holds
  }
  rlimit rl{};
  getrlimit(RLIMIT_NOFILE, &rl);
  auto one = [&](std::string_view name, std::string_view type, std::string_view help, double v) {
    header(out, name, type, help);
    out += name;
    out += ' ';
    append_double(out, v);
    out += '\n';
  };
  one("process_cpu_seconds_total", "counter", "Total user and system CPU time spent in seconds.",
      cpu);
  one("process_resident_memory_bytes", "gauge", "Resident memory size in bytes.", rss);
  one("process_virtual_memory_bytes", "gauge", "Virtual memory size in bytes.", vsize);
  one("process_open_fds", "gauge", "Number of open file descriptors.", static_cast<double>(fds));
  one("process_max_fds", "gauge", "Maximum number of open file descriptors.",
      static_cast<double>(rl.rlim_cur));
  one("process_start_time_seconds", "gauge",
      "Start time of the process since unix epoch in seconds.",
      boot + start_ticks / static_cast<double>(ticks));
}

struct Metrics::Impl {
  std::vector<DataSource> datasources;
  WallTime started = std::chrono::system_clock::now();
  std::shared_ptr<pm::Registry> registry = std::make_shared<pm::Registry>();
  pm::Family<pm::Counter>& requests = pm::BuildCounter()
                                          .Name("mmsmon_api_requests_total")
                                          .Help("Requests sent to the MMS API, by action.")
                                          .Register(*registry);
  pm::Family<pm::Counter>& failures =
      pm::BuildCounter()
          .Name("mmsmon_api_request_failures_total")
          .Help("Failed requests to the MMS API, by action and reason.")
          .Register(*registry);
  pm::Family<pm::Histogram>& durations =
      pm::BuildHistogram()
          .Name("mmsmon_api_request_duration_seconds")
          .Help("Duration of requests to the MMS API, by action.")
          .Register(*registry);
  pm::Family<pm::Gauge>& tracked =
      pm::BuildGauge().Name("mmsmon_tracked_jobs").Help("Jobs being watched.").Register(*registry);
  pm::Family<pm::Counter>& alerts = pm::BuildCounter()
                                        .Name("mmsmon_alerts_total")
                                        .Help("Alert lines written, by alert and severity.")
                                        .Register(*registry);
  pm::Family<pm::Gauge>& reload_ok = pm::BuildGauge()
                                         .Name("mmsmon_config_last_reload_successful")
                                         .Help("1 when the last configuration load succeeded.")
                                         .Register(*registry);
  pm::Family<pm::Gauge>& reload_ts =
      pm::BuildGauge()
          .Name("mmsmon_config_last_reload_success_timestamp_seconds")
          .Help("When the configuration was last loaded successfully.")
          .Register(*registry);
  pm::Family<pm::Gauge>& build = pm::BuildGauge()
                                     .Name("mmsmon_build_info")
                                     .Help("mmsmon build information; always 1.")
                                     .Register(*registry);
  pm::Family<pm::Counter>& poller_restarts_f =
      pm::BuildCounter()
          .Name("mmsmon_poller_restarts_total")
          .Help("Job pollers restarted after an internal error.")
          .Register(*registry);
  pm::Counter& poller_restarts = poller_restarts_f.Add({});
  pm::Gauge& state_saved_at = pm::BuildGauge()
                                  .Name("mmsmon_state_last_save_timestamp_seconds")
                                  .Help("When the state file was last saved.")
                                  .Register(*registry)
                                  .Add({});
  pm::Counter& state_save_failures = pm::BuildCounter()
                                         .Name("mmsmon_state_save_failures_total")
                                         .Help("Saves of the state file that failed.")
                                         .Register(*registry)
                                         .Add({});
  pm::Counter& alert_log_failures =
      pm::BuildCounter()
          .Name("mmsmon_alert_log_write_failures_total")
          .Help("Alert lines that could not be written to the alert file when due.")
          .Register(*registry)
          .Add({});
  pm::Gauge& credentials_expiry =
      pm::BuildGauge()
          .Name("mmsmon_credentials_expiry_timestamp_seconds")
          .Help("When the temporary credentials in use expire (absent for fixed keys).")
          .Register(*registry)
          .Add({});
  pm::Counter& credentials_refresh_failures =
      pm::BuildCounter()
          .Name("mmsmon_credentials_refresh_failures_total")
          .Help("Attempts to get temporary credentials that failed.")
          .Register(*registry)
          .Add({});
  pm::Family<pm::Gauge>& alerts_firing = pm::BuildGauge()
                                             .Name("mmsmon_alerts_firing")
                                             .Help("Alerts firing now, by alert and severity.")
                                             .Register(*registry);
  pm::Family<pm::Gauge>& credentials_info =
      pm::BuildGauge()
          .Name("mmsmon_credentials_info")
          .Help("Where the credentials come from (source_type), always 1.")
          .Register(*registry);
  pm::Counter& listings = pm::BuildCounter()
                              .Name("mmsmon_discovery_listings_total")
                              .Help("Listings of a data source's jobs (ListMmsJobs, all pages).")
                              .Register(*registry)
                              .Add({});
  pm::Counter& listing_pages = pm::BuildCounter()
                                   .Name("mmsmon_discovery_list_requests_total")
                                   .Help("ListMmsJobs requests made for discovery.")
                                   .Register(*registry)
                                   .Add({});
  pm::Counter& listing_anomalies =
      pm::BuildCounter()
          .Name("mmsmon_discovery_page_anomalies_total")
          .Help(
              "Odd pages met while listing jobs (total changed, repeated items, empty page, "
              "pageSize 0, unreadable items).")
          .Register(*registry)
          .Add({});
  pm::Family<pm::Counter>& sink_sent = pm::BuildCounter()
                                           .Name("mmsmon_alert_sink_sent_total")
                                           .Help("Alerts an alert sink delivered (accepted by it).")
                                           .Register(*registry);
  pm::Family<pm::Counter>& sink_failures =
      pm::BuildCounter()
          .Name("mmsmon_alert_sink_failures_total")
          .Help("Requests to an alert sink that failed (no answer, or not 2xx).")
          .Register(*registry);
  pm::Family<pm::Counter>& sink_dropped =
      pm::BuildCounter()
          .Name("mmsmon_alert_sink_dropped_total")
          .Help("Alerts an alert sink gave up on (queue full, refused, too many attempts).")
          .Register(*registry);
  pm::Family<pm::Gauge>& sink_queue = pm::BuildGauge()
                                          .Name("mmsmon_alert_sink_queue_length")
                                          .Help("Alerts waiting to be delivered to an alert sink.")
                                          .Register(*registry);
  pm::Gauge& alert_log_queue = pm::BuildGauge()
                                   .Name("mmsmon_alert_log_queue_length")
                                   .Help("Alert lines waiting for the alert file to take them.")
                                   .Register(*registry)
                                   .Add({});
  pm::Gauge& alert_log_dropped =
      pm::BuildGauge()
          .Name("mmsmon_alert_log_dropped")
          .Help("Alert lines dropped because the wait queue was full (since start).")
          .Register(*registry)
          .Add({});
  pm::Counter& http_auth_failures =
      pm::BuildCounter()
          .Name("mmsmon_http_auth_failures_total")
          .Help("Requests to the HTTP server refused for a missing or wrong user or password.")
          .Register(*registry)
          .Add({});
  pm::Counter& notify_failures =
      pm::BuildCounter()
          .Name("mmsmon_systemd_notify_failures_total")
          .Help("Messages to systemd ($NOTIFY_SOCKET) that could not be delivered.")
          .Register(*registry)
          .Add({});
  pm::Counter& state_set_aside = pm::BuildCounter()
                                     .Name("mmsmon_state_set_aside_total")
                                     .Help("Unusable state files moved aside at start.")
                                     .Register(*registry)
                                     .Add({});
  pm::Gauge& tracked_jobs = tracked.Add({});
  pm::Gauge& reload_ok_g = reload_ok.Add({});
  pm::Gauge& reload_ts_g = reload_ts.Add({});

  std::set<std::string> sinks;  ///< the alert sinks in use (set_sinks)
  std::size_t last_render_size = 0;

  struct PerAction {
    pm::Counter* requests;
    pm::Histogram* duration;
  };
  std::map<std::string, PerAction, std::less<>> actions;

  PerAction& action(std::string_view a) {
    auto it = actions.find(a);
    if (it != actions.end()) return it->second;
    std::string name(a);
    PerAction p{
        &requests.Add({{"action", name}}),
        &durations.Add({{"action", name}}, pm::Histogram::BucketBoundaries{
                                               0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30})};
    return actions.emplace(name, p).first->second;
  }
};

Metrics::Metrics() : impl_(std::make_unique<Impl>()) {
  impl_->build.Add({{"version", kVersion}, {"revision", kRevision}, {"compiler", kCompiler}})
      .Set(1);
}
Metrics::~Metrics() = default;

void Metrics::on_call(const CallOutcome& o) {
  auto& a = impl_->action(o.action);
  a.requests->Increment();
  a.duration->Observe(o.duration.count());
  if (o.failure)
    impl_->failures.Add({{"action", o.action}, {"reason", std::string(to_string(*o.failure))}})
        .Increment();
}

void Metrics::on_alert(const Alert& a) {
  impl_->alerts
      .Add({{"alert", std::string(to_string(a.name))},
            {"severity", std::string(to_string(a.severity))}})
      .Increment();
}

void Metrics::set_tracked_jobs(std::size_t n) {
  impl_->tracked_jobs.Set(static_cast<double>(n));
}

void Metrics::config_loaded(WallTime when) {
  impl_->reload_ok_g.Set(1);
  impl_->reload_ts_g.Set(seconds(when));
}

void Metrics::config_load_failed() {
  impl_->reload_ok_g.Set(0);
}

void Metrics::state_saved(WallTime when) {
  impl_->state_saved_at.Set(seconds(when));
}

void Metrics::credentials_source(const std::string& type) {
  impl_->credentials_info.Add({{"source_type", type}}).Set(1);
}

void Metrics::set_firing(const std::vector<AlertPolicy::Firing>& firing) {
  std::map<AlertName, double> n;
  for (auto a = AlertName::job_started;; a = static_cast<AlertName>(static_cast<int>(a) + 1)) {
    if (is_condition(a)) n[a] = 0;
    if (a == kLastAlertName) break;
  }
  for (const auto& f : firing)
    n[f.alert] += 1;
  for (const auto& [a, count] : n)
    impl_->alerts_firing
        .Add({{"alert", std::string(to_string(a))},
              {"severity", std::string(to_string(severity_of(a)))}})
        .Set(count);
}

void Metrics::credentials_refreshed(WallTime expiry) {
  impl_->credentials_expiry.Set(seconds(expiry));
}

void Metrics::credentials_refresh_failed() {
  impl_->credentials_refresh_failures.Increment();
}

void Metrics::state_save_failed() {
  impl_->state_save_failures.Increment();
}

void Metrics::state_set_aside() {
  impl_->state_set_aside.Increment();
}

void Metrics::on_alert_log_write_failure() {
  impl_->alert_log_failures.Increment();
}

void Metrics::set_alert_log_queue(std::size_t queued, std::uint64_t dropped) {
  impl_->alert_log_queue.Set(static_cast<double>(queued));
  impl_->alert_log_dropped.Set(static_cast<double>(dropped));
}

void Metrics::set_datasources(const std::vector<DataSource>& d) {
  impl_->datasources = d;
}

void Metrics::on_listing(std::int64_t requests, std::size_t anomalies) {
  impl_->listings.Increment();
  impl_->listing_pages.Increment(static_cast<double>(std::max<std::int64_t>(requests, 0)));
  impl_->listing_anomalies.Increment(static_cast<double>(anomalies));
}

void Metrics::set_sinks(const std::vector<std::string>& sinks) {
  std::set<std::string> next(sinks.begin(), sinks.end());
  for (const auto& old : impl_->sinks) {
    if (next.count(old)) continue;
    pm::Labels l{{"sink", old}};
    impl_->sink_sent.Remove(&impl_->sink_sent.Add(l));
    impl_->sink_failures.Remove(&impl_->sink_failures.Add(l));
    impl_->sink_dropped.Remove(&impl_->sink_dropped.Add(l));
    impl_->sink_queue.Remove(&impl_->sink_queue.Add(l));
  }
  for (const auto& name : next) {
    pm::Labels l{{"sink", name}};
    impl_->sink_sent.Add(l);
    impl_->sink_failures.Add(l);
    impl_->sink_dropped.Add(l);
    impl_->sink_queue.Add(l);
  }
  impl_->sinks = std::move(next);
}

void Metrics::on_sink(const std::string& sink, int kind, std::size_t n, std::size_t queued) {
  if (!impl_->sinks.count(sink)) return;  // a sink replaced by a reload, still draining
  pm::Labels l{{"sink", sink}};
  if (kind == 0 && n)
    impl_->sink_sent.Add(l).Increment(static_cast<double>(n));
  else if (kind == 1)
    impl_->sink_failures.Add(l).Increment();
  else if (kind == 2)
    impl_->sink_dropped.Add(l).Increment(static_cast<double>(n));
  impl_->sink_queue.Add(l).Set(static_cast<double>(queued));
}

void Metrics::on_http_auth_failure() {
  impl_->http_auth_failures.Increment();
}

void Metrics::on_notify_failure() {
  impl_->notify_failures.Increment();
}

void Metrics::on_poller_restart() {
  impl_->poller_restarts.Increment();
}

std::string Metrics::render(const std::vector<const JobState*>& jobs) const {
  std::string out;
  // Size the buffer from the last scrape: growing an 11 MB string by doubling would
  // briefly need twice the memory.
  // (About 1.2 kB per job before the first scrape tells.)
  std::size_t expected = impl_->last_render_size ? impl_->last_render_size : jobs.size() * 1200;
  out.reserve(expected + expected / 16 + 65536);
  render_job_metrics(out, jobs);
  render_data_age(out, jobs, std::chrono::system_clock::now(), impl_->started);
  render_datasource_metrics(out, impl_->datasources);
  std::ostringstream os;
  pm::TextSerializer().Serialize(os, impl_->registry->Collect());
  out += os.str();
  render_process_metrics(out);
  impl_->last_render_size = out.size();
  return out;
}

}  // namespace mmsmon

#pragma once

#include <memory>
#include <string>
#include <vector>

#include "core/alert_policy.hpp"
#include "core/job_state.hpp"

namespace mmsmon {

/// mmsmon's metrics. Per-job series are rendered straight from the job states at scrape
/// time (10,000 jobs make ~150,000 series: building them through a generic metrics model
/// would cost more than the target of 50 ms per scrape allows); the daemon's own metrics
/// live in a prometheus-cpp registry whose families are built once.
class Metrics {
 public:
  Metrics();
  ~Metrics();
  Metrics(const Metrics&) = delete;
  Metrics& operator=(const Metrics&) = delete;

  void on_call(const CallOutcome& o);
  void on_alert(const Alert& a);
  void set_tracked_jobs(std::size_t n);
  /// A configuration was loaded (at start or by a reload) at `when`.
  void config_loaded(WallTime when);
  /// A reload failed: the old configuration stays.
  void config_load_failed();
  void on_poller_restart();
  /// An alert line could not be written when it was due; the lines waiting, and dropped.
  void on_alert_log_write_failure();
  void set_alert_log_queue(std::size_t queued, std::uint64_t dropped);
  /// The data sources as last listed (mms_datasource_* series; those not given disappear).
  void set_datasources(const std::vector<DataSource>& d);
  /// A listing of one data source's jobs for discovery: its requests, and odd pages.
  void on_listing(std::int64_t requests, std::size_t anomalies);
  /// The alert sinks in use: their series exist from now (0 until something happens); those
  /// of sinks no longer in use are removed, and what such a sink still reports is ignored.
  void set_sinks(const std::vector<std::string>& sinks);
  /// An alert sink: `kind` 0 sent `n`, 1 a failed request, 2 dropped `n`; `queued` waiting.
  void on_sink(const std::string& sink, int kind, std::size_t n, std::size_t queued);
  /// A request to the HTTP server was refused for a missing or wrong user or password.
  void on_http_auth_failure();
  /// A message to systemd ($NOTIFY_SOCKET) could not be delivered.
  void on_notify_failure();
  /// The state file was saved at `when`; or a save failed; or an unusable file was set aside.
  void state_saved(WallTime when);
  void state_save_failed();
  void state_set_aside();
  /// Where the credentials come from: `static`, `ecs_ram_role`, `oidc`, `credentials_uri`.
  void credentials_source(const std::string& type);
  /// New temporary credentials, valid until `expiry`; or an attempt to get them failed.
  void credentials_refreshed(WallTime expiry);
  void credentials_refresh_failed();
  /// The alerts firing now: mmsmon_alerts_firing{alert,severity} (0 for conditions not firing).
  void set_firing(const std::vector<AlertPolicy::Firing>& firing);

  /// The whole exposition (text format 0.0.4) for these jobs. Jobs appear in the order
  /// given; series of jobs not given do not appear.
  std::string render(const std::vector<const JobState*>& jobs) const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

/// Renders only the per-job families (exposed for tests and the benchmark).
void render_job_metrics(std::string& out, const std::vector<const JobState*>& jobs);
/// Renders mmsmon_job_data_age_seconds: each job's age of data at `now` (since its last
/// success, or `started` for a job without one).
void render_data_age(std::string& out, const std::vector<const JobState*>& jobs, WallTime now,
                     WallTime started);
/// Renders the mms_datasource_* families.
void render_datasource_metrics(std::string& out, const std::vector<DataSource>& sources);
/// Renders the standard process_* metrics of this process from /proc.
void render_process_metrics(std::string& out);

}  // namespace mmsmon

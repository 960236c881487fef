#pragma once

#include <cstddef>
#include <map>
#include <set>
#include <vector>

#include "core/alert_policy.hpp"
#include "core/duration.hpp"
#include "core/job_state.hpp"

namespace mmsmon {

/// One tracked job: what mmsmon knows of it and the facts its schedule rests on.
struct TrackedJob {
  JobState state;
  Millis interval{60'000};            ///< the job's regular poll interval
  unsigned attempt = 0;               ///< consecutive retryable failures, for the backoff
  std::optional<Millis> stall_after;  ///< this job's JobStalled threshold, if its own
  std::optional<WallTime> tasks_attempted = {};  ///< the last check of its tasks began (this run)
  unsigned finished_seen = 0;  ///< successful polls in a row that found it DONE or FAILED
  bool discovered = false;     ///< tracked because `discover` found it (not in `jobs`)
  unsigned missing = 0;        ///< complete listings of its source in a row without it
  std::optional<WallTime> finished_since = {};  ///< first seen DONE/FAILED (this run)
};

/// What folding one result into the fleet changed.
struct FleetChange {
  std::vector<JobEvent> events;  ///< what changed in the job (for the debug log)
  std::vector<Alert> alerts;     ///< what to say, in order
};

/// The fleet as a plain value (for the state file): the jobs and the firing alerts.
struct FleetState {
  std::vector<TrackedJob> jobs;
  std::vector<AlertPolicy::Firing> firing;
};

/// The table of tracked jobs, keyed by JobKey. Every result, whatever call it came from
/// (GetMmsJob, a ListMmsJobs item), takes one path into it: on_snapshot or on_failure,
/// which update the job's state and return its events and alerts; the alert policy it
/// holds keeps each condition's firing/resolved lifecycle. The set of jobs can change at
/// run time: a removed job's firing alerts resolve (reason `untracked`) and its state, so
/// its series, is gone. Pure: no clock reads, no I/O.
class Fleet {
 public:
  explicit Fleet(AlertThresholds t = {}, ThroughputOptions tp = {}) : policy_(t), tp_(tp) {}
  /// New alert thresholds (a reload); conditions already firing stay firing.
  void set_thresholds(AlertThresholds t) { policy_.set_thresholds(t); }
  /// How throughput is estimated (a reload): from the next poll on.
  void set_throughput_options(ThroughputOptions tp) { tp_ = tp; }

  /// Starts tracking `key`, polled every `interval`. A job already tracked keeps its state
  /// and takes the new interval. Returns whether the job is new.
  bool add(const JobKey& key, Millis interval, std::optional<Millis> stall_after = std::nullopt);
  /// Stops tracking `key`; returns the resolution of its firing alerts. No-op if unknown.
  std::vector<Alert> remove(const JobKey& key, WallTime now);
  /// Keeps only the jobs in `keep` (removing the others as remove() does).
  std::vector<Alert> retain(const std::set<JobKey>& keep, WallTime now);

  /// Folds a successful poll of job `key`, as of `now`. Unknown keys (a job removed while its
  /// poll was under way) and snapshots older than the last one folded change nothing.
  FleetChange on_snapshot(const JobKey& key, Job snapshot, WallTime now);
  /// Folds a check of job `key`'s failed tasks (JobTasksFailed). Ignored for unknown keys
  /// and for a job no longer running (its snapshot since said so).
  std::vector<Alert> on_tasks(const JobKey& key, TaskFailures tasks);
  /// A listing of the data sources (DataSourceAgentOffline).
  std::vector<Alert> on_datasources(const std::vector<DataSource>& d, WallTime now) {
    return policy_.on_datasources(d, now);
  }
  /// Folds a failed poll of job `key`.
  FleetChange on_failure(const JobKey& key, const ApiError& error, WallTime now);
  /// Any API call's outcome, `err` when it failed (ApiAuthFailed).
  std::vector<Alert> on_api_call(const ApiError* err, WallTime now);
  /// The pacing state (ApiThrottled); `cause` is the last throttling answer, if any.
  std::vector<Alert> on_pacing(Pacing pacing, const ApiError* cause, WallTime now);

  /// The passing of time (about once a second): due reminders and held resolutions.
  std::vector<Alert> tick(WallTime now) { return policy_.tick(now); }

  const TrackedJob* find(const JobKey& key) const;
  TrackedJob* find(const JobKey& key);
  std::size_t size() const { return jobs_.size(); }
  const std::map<JobKey, TrackedJob>& jobs() const { return jobs_; }
  /// Every job's state, in key order (for /metrics).
  std::vector<const JobState*> states() const;
  /// How many jobs have not finished a poll yet.
  std::size_t not_polled() const;
  /// How many jobs' last poll failed.
  std::size_t failing() const;
  std::vector<AlertName> firing_for(const JobKey& key) const { return policy_.firing_for(key); }
  std::size_t firing_count() const { return policy_.firing().size(); }
  /// Every firing condition, API-wide ones too (for /api/v1/status).
  std::vector<AlertPolicy::Firing> firing() const { return policy_.firing(); }

  /// The fleet as a plain value, and back (replacing jobs and firing alerts, saying nothing;
  /// restored jobs count as not polled yet by this run).
  FleetState save() const;
  void restore(FleetState state);

 private:
  AlertPolicy policy_;
  ThroughputOptions tp_;
  std::map<JobKey, TrackedJob> jobs_;
};

}  // namespace mmsmon

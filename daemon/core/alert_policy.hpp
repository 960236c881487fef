#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <ostream>
#include <string>
#include <variant>
#include <vector>

#include "core/api_error.hpp"
#include "core/duration.hpp"
#include "core/job_state.hpp"

namespace mmsmon {

/// The job id of a data source's own alerts (job ids are positive).
inline constexpr JobId kSourceWide{0};

/// The alerts mmsmon emits; `to_string` gives the names fixed by design.md (`JobStarted`,
/// ...), so a misspelt alert does not compile.
enum class AlertName {
  job_started,
  job_succeeded,
  job_failed,
  job_stopped,
  job_resumed,
  job_regressed,
  job_not_found,
  job_unreachable,
  job_stalled,
  job_eta_at_risk,
  job_tasks_failed,
  datasource_agent_offline,
  api_auth_failed,
  api_throttled,
};
/// The last of AlertName (parse_alert_name walks them all): keep it the last one.
inline constexpr AlertName kLastAlertName = AlertName::api_throttled;
std::string_view to_string(AlertName n);
/// The alert named `s` (`JobStarted`, ...), if there is one.
std::optional<AlertName> parse_alert_name(std::string_view s);
std::ostream& operator<<(std::ostream& os, AlertName n);
/// Whether the alert is a condition (firing, then resolved) rather than an event.
bool is_condition(AlertName n);
/// The severity an alert is said with.

enum class AlertState { firing, resolved, event };
enum class Severity { critical, warning, info };
std::string_view to_string(AlertState s);
std::string_view to_string(Severity s);
Severity severity_of(AlertName n);

/// One fact behind an alert (`from`, `task_done`, `reason`, ...).
struct Fact {
  std::string key;
  std::variant<std::string, std::int64_t, double, bool> value;
  friend bool operator==(const Fact&, const Fact&) = default;
};

/// One alert line.
struct Alert {
  AlertName name = AlertName::job_started;
  AlertState state = AlertState::event;
  Severity severity = Severity::info;
  WallTime ts;
  std::optional<JobKey> job;  ///< empty for API-wide alerts
  std::optional<std::string> job_name;
  std::string summary;  ///< one human sentence
  std::vector<Fact> facts;
  friend bool operator==(const Alert&, const Alert&) = default;
};
std::ostream& operator<<(std::ostream& os, const Alert& a);

/// Formats `ts` as RFC 3339 UTC with milliseconds (`2026-11-25T09:30:00.123Z`).
std::string rfc3339(WallTime ts);
/// The alert as one JSON object (no newline).
std::string format_alert_json(const Alert& a);
/// The alert as one logfmt line (no newline).
std::string format_alert_logfmt(const Alert& a);

/// Whether the API's throttling is slowing mmsmon down right now (the pacing state).
enum class Pacing { full_speed, throttled };

struct AlertThresholds {
  Millis unreachable_after{5 * 60 * 1000};  ///< JobUnreachable after failing this long
  Millis throttled_after{60 * 1000};        ///< ApiThrottled after being slowed this long;
                                            ///< resolved after as long at full speed
  Millis stall_after{30 * 60 * 1000};       ///< JobStalled after no progress this long
  Millis eta_margin{60 * 60 * 1000};        ///< JobEtaAtRisk when projected later than eta by more
  Millis repeat_interval{0};  ///< a firing condition is said again this often (0: never)
  Millis resolve_hold{0};     ///< a condition resolves after being clear this long (0: at once)
};

/// Turns job events and poll/API outcomes into alerts, and keeps the firing/resolved
/// lifecycle of condition alerts: each firing alert is said once, reminded every
/// `repeat_interval` (marked `reminder`), and resolved once, after it has been clear for
/// `resolve_hold` (a condition back within the hold neither resolves nor fires again).
/// Pure: time comes in as arguments.
class AlertPolicy {
 public:
  explicit AlertPolicy(AlertThresholds t = {}) : t_(t) {}
  /// New thresholds (a reload); conditions already firing stay firing.
  void set_thresholds(AlertThresholds t) { t_ = t; }
  const AlertThresholds& thresholds() const { return t_; }

  /// A successful poll with the events it produced; resolves the job's poll conditions.
  std::vector<Alert> on_snapshot(const JobState& st, const std::vector<JobEvent>& events,
                                 WallTime now);
  /// A failed poll of one job (`st` already includes it).
  std::vector<Alert> on_failure(const JobState& st, const ApiError& e, WallTime now);
  /// Any API call's outcome (`err` when it failed): ApiAuthFailed.
  std::vector<Alert> on_api_call(const ApiError* err, WallTime now);
  /// The pacing state, fed after each call and once a second: ApiThrottled fires after
  /// `throttled_after` of throttling and resolves after as long at full speed. `cause` is
  /// the last throttling answer, if any.
  std::vector<Alert> on_pacing(Pacing pacing, const ApiError* cause, WallTime now);
  /// JobStalled for a job just polled successfully: fires when it is DOING, not stopped,
  /// and `taskDone` has not risen for `stall_after`; resolves when it progresses again,
  /// is stopped or leaves DOING. Call it after on_snapshot.
  std::vector<Alert> check_stall(const JobState& st, Millis stall_after, WallTime now);
  /// JobEtaAtRisk for a job just polled successfully: fires when it runs, has an `eta`, and
  /// its projected completion is later than the eta by more than `eta_margin`; resolves when
  /// the projection recovers, or the job finishes, stops or loses its eta. Without a
  /// projection (too little observed, no progress) nothing changes. Call it after on_snapshot.
  std::vector<Alert> check_eta(const JobState& st, WallTime now);
  /// JobTasksFailed after a check of a running job's tasks (`st.tasks`): fires when tasks
  /// have failed, naming the first few and their latest error; said again once (an update,
  /// `"update": true`) when a later check finds more failed than it last said; resolves
  /// when none remains. Also called after every snapshot: a job that no longer runs
  /// (`st.tasks` empty) resolves it.
  std::vector<Alert> check_tasks(const JobState& st, WallTime now);
  /// DataSourceAgentOffline from a listing of the data sources: fires for each whose
  /// `agentIsOnline` is false, resolves when it is true again or the source is gone from a
  /// listing. (A data source's conditions are keyed by JobKey{source, kSourceWide}.)
  std::vector<Alert> on_datasources(const std::vector<DataSource>& sources, WallTime now);
  /// A job is no longer tracked: its firing alerts are resolved (at once, without hold).
  std::vector<Alert> on_untracked(const JobState& st, WallTime now);
  /// The passing of time, about once a second: reminders that are due, resolutions whose
  /// hold is over.
  std::vector<Alert> tick(WallTime now);

  /// Whether the condition is firing (a resolution held back counts as firing).
  bool is_firing(AlertName alert, std::optional<JobKey> job) const;
  /// The alerts firing for `job` (for /api/v1/jobs).
  std::vector<AlertName> firing_for(const JobKey& job) const;

  /// One firing condition, as a plain value (for saving and restoring the alert state).
  struct Firing {
    AlertName alert = AlertName::job_not_found;
    std::optional<JobKey> job;
    WallTime since;
    WallTime said;  ///< when it was last said (fired or reminded)
    std::optional<std::string> job_name = {};
    std::string summary = {};             ///< the firing alert's, for reminders
    std::vector<Fact> facts = {};         ///< the firing alert's, for reminders
    std::optional<Alert> resolving = {};  ///< the resolution held back; its ts: when it cleared
    /// The firing alert as it was said (ts: since).
    Alert as_alert() const;
    friend bool operator==(const Firing&, const Firing&) = default;
  };
  std::vector<Firing> firing() const;
  /// Replaces the firing conditions (a restored state); says nothing.
  void restore_firing(const std::vector<Firing>& f);

 private:
  using CondKey = std::pair<AlertName, std::optional<JobKey>>;
  struct Condition {
    Alert fired;  ///< as said when it fired (ts: since)
    WallTime said;
    std::optional<Alert> resolving;
  };
  /// Fires the condition of `a` (name, job) unless firing; a held resolution is dropped.
  void fire(std::vector<Alert>& out, Alert a);
  /// Resolves the condition of `a` if firing: now when `at_once` or without a hold, else
  /// once it has stayed clear for resolve_hold.
  void resolve(std::vector<Alert>& out, Alert a, bool at_once = false);
  /// Says `a` again as the condition's new content (`"update": true`), if it fires.
  void update(std::vector<Alert>& out, Alert a);
  /// Drops a held resolution: the condition is back within the hold.
  void keep_firing(AlertName alert, const std::optional<JobKey>& job);
  /// Says the resolution `a` of the condition at `it` (which cleared at `cleared`).
  template <class It>
  void say_resolved(std::vector<Alert>& out, It it, Alert a, WallTime cleared);

  AlertThresholds t_;
  std::map<CondKey, Condition, std::less<>> firing_;
  std::optional<WallTime> throttle_since_, calm_since_;
  std::optional<ApiError> throttle_cause_;
};

}  // namespace mmsmon

#include "core/alert_policy.hpp"

#include <boost/json.hpp>
#include <cstdio>
#include <set>
#include <sstream>

namespace mmsmon {
namespace json = boost::json;
using namespace std::chrono;

std::string_view to_string(AlertName n) {
  switch (n) {
    case AlertName::job_started:
      return "JobStarted";
    case AlertName::job_succeeded:
      return "JobSucceeded";
    case AlertName::job_failed:
      return "JobFailed";
    case AlertName::job_stopped:
      return "JobStopped";
    case AlertName::job_resumed:
      return "JobResumed";
    case AlertName::job_regressed:
      return "JobRegressed";
    case AlertName::job_not_found:
      return "JobNotFound";
    case AlertName::job_unreachable:
      return "JobUnreachable";
    case AlertName::job_stalled:
      return "JobStalled";
    case AlertName::job_eta_at_risk:
      return "JobEtaAtRisk";
    case AlertName::job_tasks_failed:
      return "JobTasksFailed";
    case AlertName::datasource_agent_offline:
      return "DataSourceAgentOffline";
    case AlertName::api_auth_failed:
      return "ApiAuthFailed";
    case AlertName::api_throttled:
      return "ApiThrottled";
  }
  return "?";
}

std::optional<AlertName> parse_alert_name(std::string_view s) {
  for (int i = 0; i <= static_cast<int>(kLastAlertName); ++i)
    if (to_string(static_cast<AlertName>(i)) == s) return static_cast<AlertName>(i);
  return std::nullopt;
}

std::ostream& operator<<(std::ostream& os, AlertName n) {
  return os << to_string(n);
}

std::string_view to_string(AlertState s) {
  switch (s) {
    case AlertState::firing:
      return "firing";
    case AlertState::resolved:
      return "resolved";
    case AlertState::event:
      return "event";
  }
  return "?";
}

std::string_view to_string(Severity s) {
  switch (s) {
    case Severity::critical:
      return "critical";
    case Severity::warning:
      return "warning";
    case Severity::info:
      return "info";
  }
  return "?";
}

bool is_condition(AlertName n) {
  switch (n) {
    case AlertName::job_not_found:
    case AlertName::job_unreachable:
    case AlertName::job_stalled:
    case AlertName::job_eta_at_risk:
    case AlertName::job_tasks_failed:
    case AlertName::datasource_agent_offline:
    case AlertName::api_auth_failed:
    case AlertName::api_throttled:
      return true;
    default:
      return false;
  }
}

Severity severity_of(AlertName n) {
  switch (n) {
    case AlertName::job_failed:
    case AlertName::api_auth_failed:
      return Severity::critical;
    case AlertName::job_started:
    case AlertName::job_succeeded:
    case AlertName::job_resumed:
      return Severity::info;
    default:
      return Severity::warning;
  }
}

std::string rfc3339(WallTime ts) {
  auto ms = floor<milliseconds>(ts);
  auto dp = floor<days>(ms);
  year_month_day ymd{dp};
  hh_mm_ss hms{ms - dp};
  char buf[40];
  std::snprintf(buf, sizeof buf, "%04d-%02u-%02uT%02d:%02d:%02d.%03dZ",
                static_cast<int>(ymd.year()), static_cast<unsigned>(ymd.month()),
                static_cast<unsigned>(ymd.day()), static_cast<int>(hms.hours().count()),
                static_cast<int>(hms.minutes().count()), static_cast<int>(hms.seconds().count()),
                static_cast<int>(hms.subseconds().count()));
  return buf;
}

namespace {

void put_fact(json::object& o, const Fact& f) {
  std::visit([&](const auto& v) { o[f.key] = v; }, f.value);
}

std::string logfmt_value(std::string_view s) {
  bool quote = s.empty();
  for (char c : s)
    if (c == ' ' || c == '"' || c == '=' || c == '\\' || static_cast<unsigned char>(c) < 0x20)
      quote = true;
  if (!quote) return std::string(s);
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (c == '\n') {
      out += "\\n";
    } else if (static_cast<unsigned char>(c) < 0x20) {
      out += ' ';
    } else {
      out += c;
    }
  }
  return out + "\"";
}

}  // namespace

std::string format_alert_json(const Alert& a) {
  json::object o;
  o["ts"] = rfc3339(a.ts);
  o["alert"] = to_string(a.name);
  o["state"] = to_string(a.state);
  o["severity"] = to_string(a.severity);
  if (a.job) {
    o["source_id"] = a.job->source.value;
    if (a.job->job != kSourceWide) o["job_id"] = a.job->job.value;
  }
  if (a.job_name) o["job_name"] = *a.job_name;
  o["summary"] = a.summary;
  for (const auto& f : a.facts)
    put_fact(o, f);
  return json::serialize(o);
}

std::string format_alert_logfmt(const Alert& a) {
  std::string out = "ts=" + rfc3339(a.ts) + " alert=" + std::string(to_string(a.name)) +
                    " state=" + std::string(to_string(a.state)) +
                    " severity=" + std::string(to_string(a.severity));
  if (a.job) {
    out += " source_id=" + std::to_string(a.job->source.value);
    if (a.job->job != kSourceWide) out += " job_id=" + std::to_string(a.job->job.value);
  }
  if (a.job_name) out += " job_name=" + logfmt_value(*a.job_name);
  out += " summary=" + logfmt_value(a.summary);
  for (const auto& f : a.facts) {
    out += ' ' + f.key + '=';
    std::visit(
        [&](const auto& v) {
          using T = std::decay_t<decltype(v)>;
          if constexpr (std::is_same_v<T, std::string>)
            out += logfmt_value(v);
          else if constexpr (std::is_same_v<T, bool>)
            out += v ? "true" : "false";
          else
            out += json::serialize(json::value(v));
        },
        f.value);
  }
  return out;
}

std::ostream& operator<<(std::ostream& os, const Alert& a) {
  return os << format_alert_logfmt(a);
}

namespace {

std::string status_text(const std::optional<JobStatus>& s, const Job* j) {
  if (!s) return "?";
  if (*s == JobStatus::unknown && j) return j->status_raw;
  return std::string(to_string(*s));
}

std::string who(const JobState& st) {
  std::ostringstream os;
  os << "Job ";
  if (st.last && st.last->name) os << *st.last->name << ' ';
  os << '(' << st.key << ')';
  return os.str();
}

std::string tasks_text(const std::optional<std::int64_t>& done,
                       const std::optional<std::int64_t>& num) {
  return (done ? std::to_string(*done) : "?") + "/" + (num ? std::to_string(*num) : "?") + " tasks";
}

/// An alert about the API as a whole (no job).
Alert api_alert(AlertName name, AlertState state, Severity sev, WallTime now) {
  Alert a;
  a.name = name;
  a.state = state;
  a.severity = sev;
  a.ts = now;
  return a;
}

Alert job_alert(const JobState& st, AlertName name, AlertState state, Severity sev, WallTime now) {
  Alert a = api_alert(name, state, sev, now);
  a.job = st.key;
  if (st.last && st.last->name) a.job_name = *st.last->name;
  return a;
}

void add_counts(Alert& a, const std::optional<std::int64_t>& done,
                const std::optional<std::int64_t>& num) {
  if (done) a.facts.push_back({"task_done", *done});
  if (num) a.facts.push_back({"task_num", *num});
}

void add_error(Alert& a, const ApiError& e) {
  a.facts.push_back({"reason", std::string(to_string(e.reason))});
  if (!e.code.empty()) a.facts.push_back({"code", e.code});
  if (e.http_status) a.facts.push_back({"http_status", static_cast<std::int64_t>(e.http_status)});
  a.facts.push_back({"message", e.message});
  if (!e.request_id.empty()) a.facts.push_back({"request_id", e.request_id});
}

}  // namespace

void AlertPolicy::fire(std::vector<Alert>& out, Alert a) {
  auto key = CondKey{a.name, a.job};
  if (auto it = firing_.find(key); it != firing_.end()) {
    it->second.resolving.reset();
    return;
  }
  WallTime ts = a.ts;
  out.push_back(a);
  firing_.emplace(std::move(key), Condition{std::move(a), ts, std::nullopt});
}

void AlertPolicy::update(std::vector<Alert>& out, Alert a) {
  auto it = firing_.find(CondKey{a.name, a.job});
  if (it == firing_.end()) return;
  Condition& c = it->second;
  c.resolving.reset();
  c.said = a.ts;
  a.facts.push_back({"update", true});
  a.facts.push_back({"firing_seconds", duration<double>(a.ts - c.fired.ts).count()});
  out.push_back(a);
  a.facts.resize(a.facts.size() - 2);
  a.ts = c.fired.ts;  // it still fires since then
  c.fired = std::move(a);
}

void AlertPolicy::keep_firing(AlertName alert, const std::optional<JobKey>& job) {
  if (auto it = firing_.find(CondKey{alert, job}); it != firing_.end())
    it->second.resolving.reset();
}

template <class It>
void AlertPolicy::say_resolved(std::vector<Alert>& out, It it, Alert a, WallTime cleared) {
  a.facts.push_back({"firing_seconds", duration<double>(cleared - it->second.fired.ts).count()});
  firing_.erase(it);
  out.push_back(std::move(a));
}

void AlertPolicy::resolve(std::vector<Alert>& out, Alert a, bool at_once) {
  auto it = firing_.find(CondKey{a.name, a.job});
  if (it == firing_.end()) return;
  if (at_once || t_.resolve_hold <= Millis::zero()) {
    WallTime cleared = a.ts;
    return say_resolved(out, it, std::move(a), cleared);
  }
  if (!it->second.resolving) it->second.resolving = std::move(a);
}

std::vector<Alert> AlertPolicy::tick(WallTime now) {
  std::vector<Alert> out;
  for (auto it = firing_.begin(); it != firing_.end();) {
    auto next = std::next(it);
    Condition& c = it->second;
    if (c.resolving) {
      if (now - c.resolving->ts >= t_.resolve_hold) {
        Alert a = std::move(*c.resolving);
        a.facts.push_back({"cleared_at", rfc3339(a.ts)});
        WallTime cleared = a.ts;
        a.ts = now;
        // firing_seconds runs to when the condition cleared, not to the end of the hold.
        say_resolved(out, it, std::move(a), cleared);
      }
    } else if (t_.repeat_interval > Millis::zero() && now - c.said >= t_.repeat_interval) {
      Alert a = c.fired;
      a.ts = now;
      a.summary += " Still firing, since " + rfc3339(c.fired.ts) + ".";
      a.facts.push_back({"reminder", true});
      a.facts.push_back({"firing_seconds", duration<double>(now - c.fired.ts).count()});
      c.said = now;
      out.push_back(std::move(a));
    }
    it = next;
  }
  return out;
}

bool AlertPolicy::is_firing(AlertName alert, std::optional<JobKey> job) const {
  return firing_.count(CondKey{alert, job}) > 0;
}

std::vector<AlertName> AlertPolicy::firing_for(const JobKey& job) const {
  std::vector<AlertName> out;
  for (const auto& [k, c] : firing_)
    if (k.second == job) out.push_back(k.first);
  return out;
}

std::vector<AlertPolicy::Firing> AlertPolicy::firing() const {
  std::vector<Firing> out;
  out.reserve(firing_.size());
  for (const auto& [k, c] : firing_)
    out.push_back({k.first, k.second, c.fired.ts, c.said, c.fired.job_name, c.fired.summary,
                   c.fired.facts, c.resolving});
  return out;
}

Alert AlertPolicy::Firing::as_alert() const {
  Alert a;
  a.name = alert;
  a.state = AlertState::firing;
  a.severity = severity_of(alert);
  a.ts = since;
  a.job = job;
  a.job_name = job_name;
  a.summary = summary;
  a.facts = facts;
  return a;
}

void AlertPolicy::restore_firing(const std::vector<Firing>& f) {
  firing_.clear();
  throttle_since_.reset();
  calm_since_.reset();
  for (const auto& x : f) {
    firing_.try_emplace(CondKey{x.alert, x.job}, Condition{x.as_alert(), x.said, x.resolving});
    // A restored ApiThrottled resolves after throttled_after at full speed, as a live one.
    if (x.alert == AlertName::api_throttled) throttle_since_ = x.since;
  }
}

std::vector<Alert> AlertPolicy::on_snapshot(const JobState& st, const std::vector<JobEvent>& events,
                                            WallTime now) {
  std::vector<Alert> out;
  const Job* j = st.last ? &*st.last : nullptr;
  for (const auto& e : events) {
    if (e.kind == JobEventKind::transition && e.to) {
      std::string from = status_text(e.from, nullptr), to = status_text(e.to, j);
      auto transition_facts = [&](Alert& a) {
        a.facts.push_back({"from", from});
        a.facts.push_back({"to", to});
        add_counts(a, e.task_done, e.task_num);
      };
      if (*e.to == JobStatus::doing) {
        auto a = job_alert(st, AlertName::job_started, AlertState::event, Severity::info, now);
        a.summary = who(st) +
                    (e.from == JobStatus::init ? " started" : " is running again after " + from) +
                    ": " + tasks_text(e.task_done, e.task_num) + " done.";
        transition_facts(a);
        out.push_back(std::move(a));
      } else if (*e.to == JobStatus::done) {
        auto a = job_alert(st, AlertName::job_succeeded, AlertState::event, Severity::info, now);
        a.summary = who(st) + " succeeded: " + tasks_text(e.task_done, e.task_num) + " done.";
        transition_facts(a);
        out.push_back(std::move(a));
      } else if (*e.to == JobStatus::failed) {
        auto a = job_alert(st, AlertName::job_failed, AlertState::event, Severity::critical, now);
        a.summary = who(st) + " failed with " + tasks_text(e.task_done, e.task_num) + " done.";
        transition_facts(a);
        out.push_back(std::move(a));
      }
    } else if (e.kind == JobEventKind::stopped || e.kind == JobEventKind::resumed) {
      bool stop = e.kind == JobEventKind::stopped;
      auto a = job_alert(st, stop ? AlertName::job_stopped : AlertName::job_resumed,
                         AlertState::event, stop ? Severity::warning : Severity::info, now);
      a.summary = who(st) + (stop ? " was stopped by a user at " : " was resumed at ") +
                  tasks_text(e.task_done, e.task_num) + " done.";
      a.facts.push_back({"status", status_text(e.to, j)});
      add_counts(a, e.task_done, e.task_num);
      out.push_back(std::move(a));
    } else if (e.kind == JobEventKind::regressed) {
      auto a = job_alert(st, AlertName::job_regressed, AlertState::event, Severity::warning, now);
      std::ostringstream os;
      os << who(st) << " went backwards: ";
      auto n = [](const std::optional<std::int64_t>& v) { return v ? std::to_string(*v) : "?"; };
      if (e.task_num != e.prev_task_num)
        os << "taskNum " << n(e.prev_task_num) << " -> " << n(e.task_num);
      if (e.task_done < e.prev_task_done) {
        if (e.task_num != e.prev_task_num) os << ", ";
        os << "taskDone " << n(e.prev_task_done) << " -> " << n(e.task_done);
      }
      os << '.';
      a.summary = os.str();
      if (e.prev_task_done) a.facts.push_back({"prev_task_done", *e.prev_task_done});
      if (e.prev_task_num) a.facts.push_back({"prev_task_num", *e.prev_task_num});
      add_counts(a, e.task_done, e.task_num);
      out.push_back(std::move(a));
    }
  }
  // (Checked first: this runs on every successful poll and usually nothing fires.)
  if (is_firing(AlertName::job_not_found, st.key)) {
    auto nf = job_alert(st, AlertName::job_not_found, AlertState::resolved, Severity::warning, now);
    nf.summary = who(st) + " exists again.";
    resolve(out, std::move(nf));
  }
  if (is_firing(AlertName::job_unreachable, st.key)) {
    auto un =
        job_alert(st, AlertName::job_unreachable, AlertState::resolved, Severity::warning, now);
    un.summary = "Polls of " + who(st) + " succeed again.";
    resolve(out, std::move(un));
  }
  return out;
}

std::vector<Alert> AlertPolicy::check_stall(const JobState& st, Millis stall_after, WallTime now) {
  std::vector<Alert> out;
  if (!st.last) return out;
  const Job& j = *st.last;
  bool running = j.status == JobStatus::doing && !j.stopped.value_or(false);
  bool stalled = running && st.last_progress && now - *st.last_progress >= stall_after &&
                 stall_after > Millis::zero();
  if (stalled && is_firing(AlertName::job_stalled, st.key)) {
    keep_firing(AlertName::job_stalled, st.key);
  } else if (stalled) {
    auto a = job_alert(st, AlertName::job_stalled, AlertState::firing, Severity::warning, now);
    a.summary = who(st) + " has made no progress for " +
                format_duration(duration_cast<Millis>(now - *st.last_progress)) + " at " +
                tasks_text(j.task_done, j.task_num) + " done, while running.";
    a.facts.push_back({"last_progress", rfc3339(*st.last_progress)});
    a.facts.push_back({"stall_after", format_duration(stall_after)});
    add_counts(a, j.task_done, j.task_num);
    fire(out, std::move(a));
  } else if (!stalled && is_firing(AlertName::job_stalled, st.key)) {
    auto a = job_alert(st, AlertName::job_stalled, AlertState::resolved, Severity::warning, now);
    std::string why = !running
                          ? (j.stopped.value_or(false) ? "was stopped" : "is no longer running")
                          : "progresses again";
    a.summary = who(st) + " " + why + " at " + tasks_text(j.task_done, j.task_num) + " done.";
    a.facts.push_back({"reason", !running ? (j.stopped.value_or(false) ? "stopped" : "not_running")
                                          : "progress"});
    add_counts(a, j.task_done, j.task_num);
    resolve(out, std::move(a));
  }
  return out;
}

std::vector<Alert> AlertPolicy::check_eta(const JobState& st, WallTime now) {
  std::vector<Alert> out;
  if (!st.last) return out;
  const Job& j = *st.last;
  bool stopped = j.stopped.value_or(false);
  bool running = j.status == JobStatus::doing && !stopped;
  bool firing = is_firing(AlertName::job_eta_at_risk, st.key);
  auto resolved = [&](const std::string& why, const std::string& reason) {
    auto a =
        job_alert(st, AlertName::job_eta_at_risk, AlertState::resolved, Severity::warning, now);
    a.summary = who(st) + " " + why + " at " + tasks_text(j.task_done, j.task_num) + " done.";
    a.facts.push_back({"reason", reason});
    if (j.eta_raw) a.facts.push_back({"eta", *j.eta_raw});
    add_counts(a, j.task_done, j.task_num);
    resolve(out, std::move(a));
  };
  if (!running || !j.eta) {
    if (!firing) return out;
    if (j.status == JobStatus::done)
      resolved("finished", "finished");
    else if (!j.eta)
      resolved("no longer has an eta", "no_eta");
    else if (stopped)
      resolved("was stopped", "stopped");
    else
      resolved("is no longer running", "not_running");
    return out;
  }
  if (!st.projected_completion) return out;  // nothing known: nothing changes
  auto late = *st.projected_completion - *j.eta;
  if (late > t_.eta_margin) {
    if (firing) {
      keep_firing(AlertName::job_eta_at_risk, st.key);
      return out;
    }
    auto a = job_alert(st, AlertName::job_eta_at_risk, AlertState::firing, Severity::warning, now);
    std::ostringstream os;
    os << who(st) << " is projected to finish at " << rfc3339(*st.projected_completion) << ", "
       << format_duration(duration_cast<Millis>(late)) << " after its eta "
       << j.eta_raw.value_or("?") << " (" << rfc3339(*j.eta) << "), at "
       << tasks_text(j.task_done, j.task_num) << " done";
    if (st.throughput) {
      char rate[32];
      std::snprintf(rate, sizeof rate, "%.1f", *st.throughput * 3600);
      os << " and " << rate << " tasks/h";
    }
    os << '.';
    a.summary = os.str();
    a.facts.push_back({"eta", j.eta_raw.value_or("")});
    a.facts.push_back({"eta_at", rfc3339(*j.eta)});
    a.facts.push_back({"projected_completion", rfc3339(*st.projected_completion)});
    a.facts.push_back({"late_seconds", duration<double>(late).count()});
    if (st.throughput) a.facts.push_back({"throughput_tasks_per_hour", *st.throughput * 3600});
    a.facts.push_back({"eta_margin", format_duration(t_.eta_margin)});
    add_counts(a, j.task_done, j.task_num);
    fire(out, std::move(a));
  } else if (firing) {
    resolved("is projected to finish by its eta again (" + rfc3339(*st.projected_completion) + ")",
             "recovered");
  }
  return out;
}

namespace {

std::int64_t fact_int(const Alert& a, std::string_view key) {
  for (const auto& f : a.facts)
    if (f.key == key)
      if (const auto* v = std::get_if<std::int64_t>(&f.value)) return *v;
  return 0;
}

}  // namespace

std::vector<Alert> AlertPolicy::check_tasks(const JobState& st, WallTime now) {
  std::vector<Alert> out;
  bool firing = is_firing(AlertName::job_tasks_failed, st.key);
  const Job* j = st.last ? &*st.last : nullptr;
  if (!st.tasks) {
    if (!firing || !j) return out;
    auto a =
        job_alert(st, AlertName::job_tasks_failed, AlertState::resolved, Severity::warning, now);
    bool done = j->status == JobStatus::done;
    a.summary = who(st) + (done ? " finished" : " is no longer running") + " (" +
                status_text(j->status, j) + ", " + tasks_text(j->task_done, j->task_num) +
                " done).";
    a.facts.push_back({"reason", std::string(done ? "finished" : "not_running")});
    add_counts(a, j->task_done, j->task_num);
    resolve(out, std::move(a));
    return out;
  }
  const TaskFailures& t = *st.tasks;
  std::int64_t total = t.total();
  if (total == 0) {
    if (!firing) return out;
    auto a =
        job_alert(st, AlertName::job_tasks_failed, AlertState::resolved, Severity::warning, now);
    a.summary = who(st) + " has no failed task any more.";
    a.facts.push_back({"reason", std::string("no_failed_tasks")});
    if (j) add_counts(a, j->task_done, j->task_num);
    resolve(out, std::move(a));
    return out;
  }
  if (firing) {
    keep_firing(AlertName::job_tasks_failed, st.key);
    auto said = firing_.find(CondKey{AlertName::job_tasks_failed, st.key});
    if (total <= fact_int(said->second.fired, "failed_tasks")) return out;
  }
  auto a = job_alert(st, AlertName::job_tasks_failed, AlertState::firing, Severity::warning, now);
  std::ostringstream os;
  os << who(st) << " is still running with " << total << " failed task" << (total == 1 ? "" : "s")
     << " (";
  bool first = true;
  for (auto p : kTaskPhases)
    if (auto n = t.failed[static_cast<std::size_t>(p)]) {
      os << (first ? "" : ", ") << to_string(p) << ' ' << n;
      first = false;
    }
  os << ')';
  for (std::size_t i = 0; i < t.first.size(); ++i) {
    const auto& f = t.first[i];
    os << (i == 0 ? ": " : "; ")
       << (f.source_table.empty() ? "task " + std::to_string(f.id) : f.source_table);
    if (!f.error.empty()) os << " - " << f.error;
  }
  if (auto named = static_cast<std::int64_t>(t.first.size()); named > 0 && named < total)
    os << "; and " << total - named << " more";
  os << '.';
  a.summary = os.str();
  a.facts.push_back({"failed_tasks", total});
  for (auto p : kTaskPhases)
    a.facts.push_back(
        {"failed_" + std::string(to_string(p)), t.failed[static_cast<std::size_t>(p)]});
  for (std::size_t i = 0; i < t.first.size(); ++i) {
    const auto& f = t.first[i];
    std::string k = "task" + std::to_string(i + 1) + "_";
    a.facts.push_back({k + "id", f.id});
    a.facts.push_back({k + "phase", std::string(to_string(f.phase))});
    if (!f.source_table.empty()) a.facts.push_back({k + "source", f.source_table});
    if (!f.destination_table.empty()) a.facts.push_back({k + "destination", f.destination_table});
    if (f.retries) a.facts.push_back({k + "retries", *f.retries});
    if (!f.error.empty()) a.facts.push_back({k + "error", f.error});
  }
  if (j) add_counts(a, j->task_done, j->task_num);
  if (firing) {
    a.facts.push_back(
        {"previously_failed",
         fact_int(firing_.find(CondKey{a.name, a.job})->second.fired, "failed_tasks")});
    update(out, std::move(a));
  } else {
    fire(out, std::move(a));
  }
  return out;
}

std::vector<Alert> AlertPolicy::on_datasources(const std::vector<DataSource>& sources,
                                               WallTime now) {
  std::vector<Alert> out;
  std::set<SourceId> listed;
  auto alert = [&](SourceId id, const DataSource* d, AlertState state) {
    Alert a = api_alert(AlertName::datasource_agent_offline, state, Severity::warning, now);
    a.job = JobKey{id, kSourceWide};
    std::string name =
        d && d->name ? *d->name + " (" + std::to_string(id.value) + ")" : std::to_string(id.value);
    if (d && d->name) a.facts.push_back({"source_name", *d->name});
    if (d && d->type) a.facts.push_back({"source_type", *d->type});
    if (d && d->region) a.facts.push_back({"region", *d->region});
    if (d && d->err_msg && !d->err_msg->empty())
      a.facts.push_back({"error", printable_excerpt(*d->err_msg, 400)});
    a.summary = "The agent of data source " + name +
                (state == AlertState::firing ? " is offline: its jobs cannot make progress."
                 : d                         ? " is online again."
                                             : " is gone from the list of data sources.");
    return a;
  };
  for (const auto& d : sources) {
    listed.insert(d.id);
    if (!d.agent_online) continue;
    bool firing = is_firing(AlertName::datasource_agent_offline, JobKey{d.id, kSourceWide});
    if (!*d.agent_online && !firing) {
      fire(out, alert(d.id, &d, AlertState::firing));
    } else if (!*d.agent_online) {
      keep_firing(AlertName::datasource_agent_offline, JobKey{d.id, kSourceWide});
    } else if (firing) {
      auto a = alert(d.id, &d, AlertState::resolved);
      a.facts.push_back({"reason", std::string("online")});
      resolve(out, std::move(a));
    }
  }
  std::vector<SourceId> gone;
  for (const auto& [k, c] : firing_)
    if (k.first == AlertName::datasource_agent_offline && k.second &&
        !listed.count(k.second->source))
      gone.push_back(k.second->source);
  for (auto id : gone) {
    auto a = alert(id, nullptr, AlertState::resolved);
    a.facts.push_back({"reason", std::string("gone")});
    resolve(out, std::move(a), true);
  }
  return out;
}

std::vector<Alert> AlertPolicy::on_failure(const JobState& st, const ApiError& e, WallTime now) {
  std::vector<Alert> out;
  if (e.reason == FailureReason::not_found) {
    auto a = job_alert(st, AlertName::job_not_found, AlertState::firing, Severity::warning, now);
    std::ostringstream os;
    os << "The MMS API says job " << st.key << " does not exist.";
    a.summary = os.str();
    add_error(a, e);
    fire(out, std::move(a));
    return out;
  }
  // Credentials are an API-wide problem (ApiAuthFailed), not one of this job.
  if (e.reason == FailureReason::auth) return out;
  // A failure while a JobUnreachable waits to resolve: the job is still flaky.
  keep_firing(AlertName::job_unreachable, st.key);
  if (st.failing_since && now - *st.failing_since >= t_.unreachable_after) {
    auto a = job_alert(st, AlertName::job_unreachable, AlertState::firing, Severity::warning, now);
    a.summary = "Polls of " + who(st) + " have failed for " +
                format_duration(duration_cast<Millis>(now - *st.failing_since)) + " (" +
                std::string(to_string(e.reason)) + ": " + e.message + ").";
    a.facts.push_back({"failures", static_cast<std::int64_t>(st.consecutive_failures)});
    add_error(a, e);
    fire(out, std::move(a));
  }
  return out;
}

std::vector<Alert> AlertPolicy::on_api_call(const ApiError* err, WallTime now) {
  std::vector<Alert> out;
  if (err && err->reason == FailureReason::auth) {
    auto a = api_alert(AlertName::api_auth_failed, AlertState::firing, Severity::critical, now);
    a.summary =
        "The MMS API rejects mmsmon's credentials or permissions (" +
        (err->code.empty() ? std::string("HTTP ") + std::to_string(err->http_status) : err->code) +
        ").";
    add_error(a, *err);
    fire(out, std::move(a));
  } else if (err == nullptr || err->reason != FailureReason::auth) {
    // Any answer that is not an auth failure shows the credentials work again... unless
    // the call never reached the API (network, timeout, TLS).
    bool reached = err == nullptr || err->http_status != 0;
    if (reached && is_firing(AlertName::api_auth_failed, std::nullopt)) {
      auto a = api_alert(AlertName::api_auth_failed, AlertState::resolved, Severity::critical, now);
      a.summary = "The MMS API accepts mmsmon's credentials again.";
      resolve(out, std::move(a));
    }
  }
  return out;
}

std::vector<Alert> AlertPolicy::on_pacing(Pacing pacing, const ApiError* cause, WallTime now) {
  std::vector<Alert> out;
  if (cause) throttle_cause_ = *cause;
  if (pacing == Pacing::throttled) {
    calm_since_.reset();
    if (!throttle_since_) throttle_since_ = now;
    if (now - *throttle_since_ >= t_.throttled_after) {
      auto a = api_alert(AlertName::api_throttled, AlertState::firing, Severity::warning, now);
      a.summary = "The MMS API has been throttling mmsmon for " +
                  format_duration(duration_cast<Millis>(now - *throttle_since_)) +
                  "; polling is slowed down.";
      if (throttle_cause_) {
        add_error(a, *throttle_cause_);
        if (throttle_cause_->retry_after)
          a.facts.push_back(
              {"retry_after_seconds", duration<double>(*throttle_cause_->retry_after).count()});
      }
      fire(out, std::move(a));
    }
    return out;
  }
  if (!throttle_since_) return out;
  if (!calm_since_) calm_since_ = now;
  if (now - *calm_since_ >= t_.throttled_after) {
    auto a = api_alert(AlertName::api_throttled, AlertState::resolved, Severity::warning, now);
    a.summary = "The MMS API no longer throttles mmsmon; polling is back to full speed.";
    resolve(out, std::move(a), true);  // its own calm period is the hold
    throttle_since_.reset();
    calm_since_.reset();
    throttle_cause_.reset();
  }
  return out;
}

std::vector<Alert> AlertPolicy::on_untracked(const JobState& st, WallTime now) {
  std::vector<Alert> out;
  for (const auto& name : firing_for(st.key)) {
    auto a = job_alert(st, name, AlertState::resolved, Severity::warning, now);
    a.summary = who(st) + " is no longer tracked.";
    a.facts.push_back({"reason", std::string("untracked")});
    resolve(out, std::move(a), true);
  }
  return out;
}

}  // namespace mmsmon

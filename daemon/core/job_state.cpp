#include "core/job_state.hpp"

namespace mmsmon {

std::string_view to_string(JobEventKind k) {
  switch (k) {
    case JobEventKind::transition:
      return "transition";
    case JobEventKind::stopped:
      return "stopped";
    case JobEventKind::resumed:
      return "resumed";
    case JobEventKind::regressed:
      return "regressed";
    case JobEventKind::progressed:
      return "progressed";
  }
  return "?";
}

std::ostream& operator<<(std::ostream& os, const JobEvent& e) {
  os << to_string(e.kind);
  if (e.from || e.to)
    os << ' ' << (e.from ? to_string(*e.from) : "-") << "->" << (e.to ? to_string(*e.to) : "-");
  auto n = [](const std::optional<std::int64_t>& v) { return v ? std::to_string(*v) : "-"; };
  return os << " done " << n(e.prev_task_done) << "->" << n(e.task_done) << " num "
            << n(e.prev_task_num) << "->" << n(e.task_num);
}

bool operator==(const JobEvent& a, const JobEvent& b) {
  return a.kind == b.kind && a.from == b.from && a.to == b.to &&
         a.prev_task_done == b.prev_task_done && a.prev_task_num == b.prev_task_num &&
         a.task_done == b.task_done && a.task_num == b.task_num;
}

std::optional<std::size_t> status_index(JobStatus s) {
  switch (s) {
    case JobStatus::init:
      return 0;
    case JobStatus::doing:
      return 1;
    case JobStatus::done:
      return 2;
    case JobStatus::failed:
      return 3;
    case JobStatus::unknown:
      break;
  }
  return std::nullopt;
}

std::vector<JobEvent> observe_snapshot(JobState& st, Job snap, WallTime now) {
  std::vector<JobEvent> events;
  st.polled = true;
  st.up = true;
  st.last_success = now;
  st.failing_since.reset();
  st.consecutive_failures = 0;
  if (!st.last) {
    st.last_progress = now;
    st.last = std::move(snap);
    return events;
  }
  const Job& prev = *st.last;
  auto base = [&](JobEventKind k) {
    JobEvent e;
    e.kind = k;
    e.from = prev.status;
    e.to = snap.status;
    e.prev_task_done = prev.task_done;
    e.prev_task_num = prev.task_num;
    e.task_done = snap.task_done;
    e.task_num = snap.task_num;
    return e;
  };
  // A status the API stopped sending (or one we cannot read) is not a transition.
  if (snap.status && prev.status &&
      (*snap.status != *prev.status ||
       (*snap.status == JobStatus::unknown && snap.status_raw != prev.status_raw))) {
    events.push_back(base(JobEventKind::transition));
    if (auto i = status_index(*snap.status)) ++st.transitions[*i];
  }
  if (snap.stopped && prev.stopped && *snap.stopped != *prev.stopped)
    events.push_back(base(*snap.stopped ? JobEventKind::stopped : JobEventKind::resumed));
  bool fell = snap.task_done && prev.task_done && *snap.task_done < *prev.task_done;
  bool resized = snap.task_num && prev.task_num && *snap.task_num != *prev.task_num;
  if (fell || resized) events.push_back(base(JobEventKind::regressed));
  if (snap.task_done && prev.task_done && *snap.task_done > *prev.task_done) {
    events.push_back(base(JobEventKind::progressed));
    st.last_progress = now;
  }
  st.last = std::move(snap);
  return events;
}

void observe_failure(JobState& st, const ApiError& error, WallTime now) {
  st.polled = true;
  st.up = false;
  if (!st.failing_since) st.failing_since = now;
  ++st.consecutive_failures;
  st.last_error = error;
}

}  // namespace mmsmon

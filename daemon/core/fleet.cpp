#include "core/fleet.hpp"

namespace mmsmon {

namespace {
constexpr auto kStaleWindow = std::chrono::minutes(5);
}  // namespace

bool Fleet::add(const JobKey& key, Millis interval, std::optional<Millis> stall_after) {
  auto [it, inserted] = jobs_.try_emplace(key);
  if (inserted) it->second.state.key = key;
  it->second.interval = interval;
  it->second.stall_after = stall_after;
  return inserted;
}

std::vector<Alert> Fleet::remove(const JobKey& key, WallTime now) {
  auto it = jobs_.find(key);
  if (it == jobs_.end()) return {};
  auto alerts = policy_.on_untracked(it->second.state, now);
  jobs_.erase(it);
  return alerts;
}

std::vector<Alert> Fleet::retain(const std::set<JobKey>& keep, WallTime now) {
  std::vector<JobKey> gone;
  for (const auto& [k, j] : jobs_)
    if (!keep.count(k)) gone.push_back(k);
  std::vector<Alert> out;
  for (const auto& k : gone) {
    auto a = remove(k, now);
    out.insert(out.end(), a.begin(), a.end());
  }
  return out;
}

FleetChange Fleet::on_snapshot(const JobKey& key, Job snapshot, WallTime now) {
  FleetChange ch;
  auto* j = find(key);
  if (!j) return ch;
  JobState& st = j->state;
  // A snapshot older than the one folded last (a page read before a poll that came back
  // first) would undo what is known: dropped. (By a few minutes at most: a wall clock set
  // back further must not freeze the job.)
  if (st.last_success && now < *st.last_success && *st.last_success - now < kStaleWindow) return ch;
  record_progress(st.progress, st.last ? &*st.last : nullptr, snapshot, now, tp_);
  ch.events = observe_snapshot(st, std::move(snapshot), now);
  bool finished = st.last->status == JobStatus::done || st.last->status == JobStatus::failed;
  j->finished_seen = finished ? std::min(j->finished_seen + 1, 1000u) : 0;
  if (!finished)
    j->finished_since.reset();
  else if (!j->finished_since)
    j->finished_since = now;
  st.throughput = estimate_throughput(st.progress, tp_);
  st.projected_completion = project_completion(st.progress, st.last->task_num, st.throughput);
  ch.alerts = policy_.on_snapshot(st, ch.events, now);
  auto stall =
      policy_.check_stall(st, j->stall_after.value_or(policy_.thresholds().stall_after), now);
  ch.alerts.insert(ch.alerts.end(), stall.begin(), stall.end());
  auto eta = policy_.check_eta(st, now);
  ch.alerts.insert(ch.alerts.end(), eta.begin(), eta.end());
  if (st.last->status != JobStatus::doing) {
    st.tasks.reset();  // failed tasks are those of a running job
    if (policy_.is_firing(AlertName::job_tasks_failed, key)) {
      auto t = policy_.check_tasks(st, now);
      ch.alerts.insert(ch.alerts.end(), t.begin(), t.end());
    }
  }
  return ch;
}

std::vector<Alert> Fleet::on_tasks(const JobKey& key, TaskFailures tasks) {
  auto* j = find(key);
  if (!j || !j->state.last || j->state.last->status != JobStatus::doing) return {};
  WallTime now = tasks.checked;
  j->state.tasks = std::move(tasks);
  return policy_.check_tasks(j->state, now);
}

FleetChange Fleet::on_failure(const JobKey& key, const ApiError& error, WallTime now) {
  FleetChange ch;
  auto* j = find(key);
  if (!j) return ch;
  observe_failure(j->state, error, now);
  ch.alerts = policy_.on_failure(j->state, error, now);
  return ch;
}

std::vector<Alert> Fleet::on_api_call(const ApiError* err, WallTime now) {
  return policy_.on_api_call(err, now);
}

std::vector<Alert> Fleet::on_pacing(Pacing pacing, const ApiError* cause, WallTime now) {
  return policy_.on_pacing(pacing, cause, now);
}

const TrackedJob* Fleet::find(const JobKey& key) const {
  auto it = jobs_.find(key);
  return it == jobs_.end() ? nullptr : &it->second;
}

TrackedJob* Fleet::find(const JobKey& key) {
  auto it = jobs_.find(key);
  return it == jobs_.end() ? nullptr : &it->second;
}

std::vector<const JobState*> Fleet::states() const {
  std::vector<const JobState*> v;
  v.reserve(jobs_.size());
  for (const auto& [k, j] : jobs_)
    v.push_back(&j.state);
  return v;
}

std::size_t Fleet::not_polled() const {
  std::size_t n = 0;
  for (const auto& [k, j] : jobs_)
    n += !j.state.polled;
  return n;
}

std::size_t Fleet::failing() const {
  std::size_t n = 0;
  for (const auto& [k, j] : jobs_)
    n += j.state.polled && !j.state.up;
  return n;
}

FleetState Fleet::save() const {
  FleetState s;
  s.jobs.reserve(jobs_.size());
  for (const auto& [k, j] : jobs_)
    s.jobs.push_back(j);
  s.firing = policy_.firing();
  return s;
}

void Fleet::restore(FleetState state) {
  jobs_.clear();
  for (auto& j : state.jobs) {
    JobKey k = j.state.key;
    j.state.polled = false;  // not by this run: /-/ready waits for a fresh poll
    jobs_.insert_or_assign(k, std::move(j));
  }
  policy_.restore_firing(state.firing);
}

}  // namespace mmsmon

#include "core/task_failures.hpp"

namespace mmsmon {

std::string_view to_string(TaskPhase p) {
  switch (p) {
    case TaskPhase::schema:
      return "schema";
    case TaskPhase::data:
      return "data";
    case TaskPhase::verification:
      return "verification";
  }
  return "?";
}

std::string_view failed_status_of(TaskPhase p) {
  switch (p) {
    case TaskPhase::schema:
      return "SCHEMA_FAILED";
    case TaskPhase::data:
      return "DATA_FAILED";
    case TaskPhase::verification:
      return "VERIFICATION_FAILED";
  }
  return "?";
}

std::optional<TaskPhase> phase_of_failed_status(std::string_view status) {
  for (auto p : kTaskPhases)
    if (failed_status_of(p) == status) return p;
  return std::nullopt;
}

namespace {

std::string dotted(const std::optional<std::string>& a, const std::optional<std::string>& b) {
  std::string out = a.value_or("");
  if (b) out += (out.empty() ? "" : ".") + *b;
  return clean_log_text(out, 200);
}

/// Length of the UTF-8 sequence starting at s[i] (0: not a valid one).
std::size_t utf8_length(std::string_view s, std::size_t i) {
  auto u = static_cast<unsigned char>(s[i]);
  std::size_t n = u < 0x80           ? 1
                  : (u >> 5) == 0x6  ? 2
                  : (u >> 4) == 0xE  ? 3
                  : (u >> 3) == 0x1E ? 4
                                     : 0;
  if (n == 0 || i + n > s.size()) return 0;
  for (std::size_t k = 1; k < n; ++k)
    if ((static_cast<unsigned char>(s[i + k]) >> 6) != 0x2) return 0;
  return n;
}

}  // namespace

FailedTaskInfo failed_task_info(const Task& t, TaskPhase fallback) {
  FailedTaskInfo f;
  f.id = t.id;
  f.phase = t.status ? phase_of_failed_status(*t.status).value_or(fallback) : fallback;
  f.source_table = dotted(t.src_db, t.src_table);
  f.destination_table = dotted(t.dst_db, t.dst_table);
  f.retries = t.retried_times;
  return f;
}

std::string latest_error(const std::vector<TaskLog>& log, std::size_t max_bytes) {
  const TaskLog* best = nullptr;
  for (const auto& l : log) {
    if (!l.msg || l.msg->empty()) continue;
    bool failed = l.status && l.status->ends_with("FAILED");
    if (failed || !best || !(best->status && best->status->ends_with("FAILED"))) best = &l;
  }
  return best ? clean_log_text(*best->msg, max_bytes) : std::string();
}

std::string clean_log_text(std::string_view s, std::size_t max_bytes) {
  std::string out;
  out.reserve(std::min(s.size(), max_bytes) + 3);
  bool space = true;  // drops leading spaces
  for (std::size_t i = 0; i < s.size();) {
    std::size_t n = utf8_length(s, i);
    std::string_view ch = n ? s.substr(i, n) : std::string_view("?");
    i += n ? n : 1;
    auto u = static_cast<unsigned char>(ch[0]);
    bool c1 = n == 2 && u == 0xC2 && static_cast<unsigned char>(ch[1]) < 0xA0;  // U+0080..9F
    bool blank = (n == 1 && (u < 0x20 || u == 0x7f || u == ' ')) || c1;
    if (blank) {
      if (space) continue;
      space = true;
      ch = " ";
    } else {
      space = false;
    }
    if (out.size() + ch.size() > max_bytes) {
      while (!out.empty() && out.back() == ' ')
        out.pop_back();
      return out + "...";
    }
    out += ch;
  }
  while (!out.empty() && out.back() == ' ')
    out.pop_back();
  return out;
}

bool sweep_pays(std::size_t jobs, std::int64_t pages_needed) {
  return jobs >= 2 && pages_needed < static_cast<std::int64_t>(3 * jobs);
}

FailedTaskSweep::FailedTaskSweep(const std::vector<JobId>& jobs) {
  for (auto j : jobs)
    found_[j];
}

std::optional<std::pair<TaskPhase, std::int64_t>> FailedTaskSweep::next() const {
  if (done_) return std::nullopt;
  return std::pair{kTaskPhases[phase_], page_};
}

void FailedTaskSweep::end_phase() {
  ++phase_;
  page_ = 1;
  total_.reset();
  seen_ = 0;
  ids_.clear();
  if (phase_ == kTaskPhases.size()) done_ = true;
}

void FailedTaskSweep::add(std::int64_t total, const std::vector<Task>& items) {
  if (done_) return;
  auto stop = [&] {
    complete_ = false;
    done_ = true;
  };
  total = std::max<std::int64_t>(total, 0);
  totals_[phase_] = std::max(totals_[phase_], total);
  if (total_ && *total_ != total) return stop();  // the listing moved under us
  total_ = total;
  const TaskPhase phase = kTaskPhases[phase_];
  for (const auto& t : items) {
    if (!t.job_id) return stop();  // cannot say whose it is
    if (!ids_.insert(t.id).second) continue;
    ++seen_;
    auto it = found_.find(JobId{*t.job_id});
    if (it == found_.end()) continue;  // a job not asked about (finished, not tracked)
    TaskFailures& f = it->second;
    ++f.failed[static_cast<std::size_t>(phase)];
    if (f.first.size() < kTasksNamed) f.first.push_back(failed_task_info(t, phase));
  }
  if (seen_ >= total) return end_phase();
  if (items.empty() || page_ >= kMaxPages) return stop();
  ++page_;
}

std::int64_t FailedTaskSweep::pages_needed() const {
  std::int64_t n = 0;
  for (auto t : totals_)
    n += std::max<std::int64_t>(1, (std::max<std::int64_t>(t, 0) + kPageSize - 1) / kPageSize);
  return n;
}

std::map<JobId, TaskFailures> FailedTaskSweep::result() const {
  if (!complete()) return {};
  return found_;
}

}  // namespace mmsmon

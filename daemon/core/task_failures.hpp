#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "core/types.hpp"

namespace mmsmon {

/// The phases a task can fail in, each its own ListMmsTasks status (the API has no plain
/// FAILED for tasks and takes one status per query).
enum class TaskPhase { schema, data, verification };
inline constexpr std::array<TaskPhase, 3> kTaskPhases{TaskPhase::schema, TaskPhase::data,
                                                      TaskPhase::verification};
std::string_view to_string(TaskPhase p);         ///< `schema`, `data`, `verification`
std::string_view failed_status_of(TaskPhase p);  ///< `SCHEMA_FAILED`, ...
std::optional<TaskPhase> phase_of_failed_status(std::string_view status);

/// One failed task, as an alert names it.
struct FailedTaskInfo {
  std::int64_t id = 0;
  TaskPhase phase = TaskPhase::data;
  std::string source_table;       ///< `db.table`, as far as known
  std::string destination_table;  ///< `project.table`, as far as known
  std::optional<std::int64_t> retries;
  std::string error;  ///< the latest error text of its log, cleaned (may be empty)
  friend bool operator==(const FailedTaskInfo&, const FailedTaskInfo&) = default;
};

/// What one check of a running job's tasks found.
struct TaskFailures {
  std::array<std::int64_t, 3> failed{};  ///< by TaskPhase
  std::vector<FailedTaskInfo> first;     ///< the first few failed tasks
  WallTime checked;
  std::int64_t total() const { return failed[0] + failed[1] + failed[2]; }
  friend bool operator==(const TaskFailures&, const TaskFailures&) = default;
};

/// How many failed tasks an alert names (and whose logs are read).
inline constexpr std::size_t kTasksNamed = 3;

/// A failed task from a ListMmsTasks item (its status decides the phase; `fallback` if the
/// status is missing or unknown).
FailedTaskInfo failed_task_info(const Task& t, TaskPhase fallback);

/// Whether one sweep of a data source's failed tasks (FailedTaskSweep, `pages_needed`
/// requests as far as known) is cheaper than checking `jobs` running jobs of it one by one
/// (one request per failed status each).
bool sweep_pays(std::size_t jobs, std::int64_t pages_needed);

/// Reads the failed tasks of one data source (ListMmsTasks by failed status, without a job
/// id: a few requests for all its jobs instead of three per job) page by page, and gives
/// each of `jobs` what a check of that job alone would have found (the named tasks without
/// their errors). The sweep is incomplete, and then says nothing about any job, when an
/// item has no job id, `total` changes between pages, a page comes back empty before
/// `total` is reached, or a status needs more than kMaxPages pages. Pure.
class FailedTaskSweep {
 public:
  static constexpr std::int64_t kPageSize = 100;
  static constexpr std::int64_t kMaxPages = 20;  ///< per failed status

  explicit FailedTaskSweep(const std::vector<JobId>& jobs);
  /// The next request: which failed status, which page; nothing when the sweep is over.
  std::optional<std::pair<TaskPhase, std::int64_t>> next() const;
  /// Folds the answer to next(): the listing's `total` and the page's items.
  void add(std::int64_t total, const std::vector<Task>& items);
  bool complete() const { return done_ && complete_; }
  /// Requests a complete sweep takes, as far as the totals seen tell (at least one a
  /// status): what the next sweep of this source is expected to cost.
  std::int64_t pages_needed() const;
  /// Each job's failures; empty unless complete().
  std::map<JobId, TaskFailures> result() const;

 private:
  void end_phase();
  std::map<JobId, TaskFailures> found_;
  std::size_t phase_ = 0;
  std::int64_t page_ = 1;
  std::optional<std::int64_t> total_;
  std::int64_t seen_ = 0;  ///< distinct tasks of this status so far
  std::set<std::int64_t> ids_;
  std::array<std::int64_t, 3> totals_{-1, -1, -1};
  bool done_ = false;
  bool complete_ = true;
};

/// The latest error text in a task's log: the `msg` of the last line whose status is a
/// failed one, else of the last line with a message; cleaned by clean_log_text.
std::string latest_error(const std::vector<TaskLog>& log, std::size_t max_bytes = 400);

/// Log text fit for an alert line: control characters become spaces, runs of spaces one,
/// cut to `max_bytes` at a UTF-8 character boundary (with "..." when cut); bytes that are
/// not UTF-8 become '?'.
std::string clean_log_text(std::string_view s, std::size_t max_bytes = 400);

}  // namespace mmsmon

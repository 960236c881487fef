#pragma once

#include <array>
#include <cstdint>
#include <optional>
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

/// The latest error text in a task's log: the `msg` of the last line whose status is a
/// failed one, else of the last line with a message; cleaned by clean_log_text.
std::string latest_error(const std::vector<TaskLog>& log, std::size_t max_bytes = 400);

/// Log text fit for an alert line: control characters become spaces, runs of spaces one,
/// cut to `max_bytes` at a UTF-8 character boundary (with "..." when cut); bytes that are
/// not UTF-8 become '?'.
std::string clean_log_text(std::string_view s, std::size_t max_bytes = 400);

}  // namespace mmsmon

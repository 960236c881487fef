#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

#include "core/api_error.hpp"
#include "core/task_failures.hpp"
#include "core/throughput.hpp"
#include "core/types.hpp"

namespace mmsmon {

/// What changed between two snapshots of a job.
enum class JobEventKind {
  transition,  ///< status changed (`from` → `to`)
  stopped,     ///< `stopped` false → true
  resumed,     ///< `stopped` true → false
  regressed,   ///< `taskDone` fell or `taskNum` changed
  progressed,  ///< `taskDone` rose
};

std::string_view to_string(JobEventKind k);

struct JobEvent {
  JobEventKind kind = JobEventKind::transition;
  std::optional<JobStatus> from;
  std::optional<JobStatus> to;
  std::optional<std::int64_t> prev_task_done, prev_task_num;
  std::optional<std::int64_t> task_done, task_num;
};
std::ostream& operator<<(std::ostream& os, const JobEvent& e);
bool operator==(const JobEvent& a, const JobEvent& b);

/// Everything mmsmon knows about one tracked job. Plain data: it can be saved and restored.
struct JobState {
  JobKey key;
  std::optional<Job> last;                ///< the last successfully decoded snapshot
  bool polled = false;                    ///< at least one poll finished (ok or not)
  bool up = false;                        ///< the last poll succeeded
  std::optional<WallTime> last_success;   ///< when the last poll succeeded
  std::optional<WallTime> last_progress;  ///< when taskDone was last seen to rise
  std::optional<WallTime> failing_since;  ///< start of the current run of failed polls
  std::optional<ApiError> last_error;     ///< the last failure (kept after recovery)
  std::uint64_t consecutive_failures = 0;
  /// Status transitions observed, by the status moved to (INIT, DOING, DONE, FAILED).
  std::array<std::uint64_t, 4> transitions{};
  /// The current run's progress (see record_progress), and what it gives.
  std::vector<ProgressSample> progress;
  std::optional<double> throughput;              ///< tasks per second
  std::optional<WallTime> projected_completion;  ///< at that rate
  /// The last check of its tasks while it ran (DOING); none once it no longer runs.
  std::optional<TaskFailures> tasks;
};

/// Folds a successful poll into `state` and returns what changed. The first snapshot
/// only sets the baseline (no events): mmsmon reports changes it saw, not history.
/// `last_progress` starts at the first snapshot and moves when taskDone rises. Pure.
std::vector<JobEvent> observe_snapshot(JobState& state, Job snapshot, WallTime now);

/// Folds a failed poll into `state`. Pure.
void observe_failure(JobState& state, const ApiError& error, WallTime now);

/// Index of a known status in `JobState::transitions`, or nullopt for `unknown`.
std::optional<std::size_t> status_index(JobStatus s);

}  // namespace mmsmon

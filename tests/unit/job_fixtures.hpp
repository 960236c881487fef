#pragma once

// Snapshots for the state machine and alert policy tests.

#include <chrono>
#include <string>

#include "core/types.hpp"

namespace mmsmon::test {

inline const JobKey kKey{SourceId{2}, JobId{10}};
inline const WallTime t0 = WallTime{} + std::chrono::hours(24 * 20000);

/// A snapshot of job 2/10 named "migrate_sales".
inline Job snap(JobStatus s, std::int64_t done, std::int64_t num, bool stopped = false) {
  Job j;
  j.key = kKey;
  j.name = "migrate_sales";
  j.status = s;
  j.status_raw = std::string(to_string(s));
  j.task_done = done;
  j.task_num = num;
  j.stopped = stopped;
  return j;
}

}  // namespace mmsmon::test

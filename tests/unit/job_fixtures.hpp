#pragma once

// Snapshots, failures and alert names for the state machine, alert policy and fleet tests.

#include <chrono>
#include <string>
#include <vector>

#include "core/alert_policy.hpp"
#include "core/api_error.hpp"
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

/// A classified API failure.
inline ApiError api_error(FailureReason r, unsigned status = 0, std::string code = "") {
  ApiError e;
  e.reason = r;
  e.http_status = status;
  e.code = std::move(code);
  e.message = "m";
  return e;
}

/// `JobStarted:event`, `JobUnreachable:firing`, ... for comparing alert sequences.
inline std::vector<std::string> alert_names(const std::vector<Alert>& v) {
  std::vector<std::string> out;
  for (const auto& a : v)
    out.push_back(std::string(to_string(a.name)) + ":" + std::string(to_string(a.state)));
  return out;
}

}  // namespace mmsmon::test

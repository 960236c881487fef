#pragma once

#include <cstddef>
#include <deque>
#include <map>
#include <optional>
#include <vector>

#include "core/alert_policy.hpp"

namespace mmsmon {

/// The alert lines of late, kept in memory for the status page and `/api/v1/alerts`:
/// the newest `kPerJob` of each job, and the newest `kOverall` of all (API-wide ones too).
/// Bounded whatever the alert rate; a job forgotten (untracked) takes its lines with it.
class RecentAlerts {
 public:
  static constexpr std::size_t kPerJob = 20;
  static constexpr std::size_t kOverall = 500;

  void add(const Alert& a);
  /// Newest first, at most `limit`: `job`'s lines, or every line when `job` is empty.
  std::vector<Alert> newest(const std::optional<JobKey>& job, std::size_t limit) const;
  /// Drops the lines of jobs no longer tracked (their own lines, not the overall ones).
  void forget(const JobKey& job) { by_job_.erase(job); }
  std::size_t jobs() const { return by_job_.size(); }

 private:
  std::deque<Alert> overall_;
  std::map<JobKey, std::deque<Alert>> by_job_;
};

}  // namespace mmsmon

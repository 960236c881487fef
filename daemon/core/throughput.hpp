#pragma once

#include <cstdint>
#include <optional>
#include <vector>

#include "core/duration.hpp"
#include "core/types.hpp"

namespace mmsmon {

/// One observation of a running job's progress.
struct ProgressSample {
  WallTime t;
  std::int64_t done = 0;
  friend bool operator==(const ProgressSample&, const ProgressSample&) = default;
};

struct ThroughputOptions {
  /// The estimate is the average rate over about this much of the latest running time.
  Millis window{60 * 60 * 1000};
  /// No estimate from less observed time than window / 12 (a first burst is not a rate).
  Millis min_span() const { return window / 12; }
};

/// Folds one successful poll into `samples`: while the job runs (DOING, not stopped) with
/// the same taskNum and a taskDone that does not fall, the newest observation is kept and
/// older ones are thinned to one per window/12 and dropped past the window; anything else
/// (a pause, a stop, a finish, a regression) starts over. Bounded: at most 14 samples. Pure.
/// `prev` is the job's previous snapshot, if any.
void record_progress(std::vector<ProgressSample>& samples, const Job* prev, const Job& job,
                     WallTime now, const ThroughputOptions& o);

/// Tasks per second over the samples, when they span at least min_span.
std::optional<double> estimate_throughput(const std::vector<ProgressSample>& samples,
                                          const ThroughputOptions& o);

/// When the job will have done all its tasks at `rate`, from the latest sample: the time of
/// that sample if nothing remains; none without a positive rate or counts.
std::optional<WallTime> project_completion(const std::vector<ProgressSample>& samples,
                                           std::optional<std::int64_t> task_num,
                                           std::optional<double> rate);

}  // namespace mmsmon

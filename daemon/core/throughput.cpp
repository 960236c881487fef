#include "core/throughput.hpp"

#include <cmath>

namespace mmsmon {
using namespace std::chrono;

namespace {

bool running(const Job& j) {
  return j.status == JobStatus::doing && !j.stopped.value_or(false) && j.task_done && j.task_num;
}

}  // namespace

void record_progress(std::vector<ProgressSample>& samples, const Job* prev, const Job& j,
                     WallTime now, const ThroughputOptions& o) {
  bool same_run =
      prev && running(*prev) && prev->task_num == j.task_num && j.task_done >= prev->task_done;
  if (!running(j) || !same_run) samples.clear();
  if (!running(j)) return;
  if (!samples.empty() && now <= samples.back().t) return;  // the clock went back: keep what is
  ProgressSample s{now, *j.task_done};
  // The newest observation always ends the list; the one before it is kept only when it is
  // at least min_span after its own predecessor.
  if (samples.size() >= 2 && samples.back().t - samples[samples.size() - 2].t < o.min_span())
    samples.back() = s;
  else
    samples.push_back(s);
  // Keep one sample at or before the window's start, none older.
  while (samples.size() > 2 && samples[1].t <= now - o.window)
    samples.erase(samples.begin());
}

std::optional<double> estimate_throughput(const std::vector<ProgressSample>& samples,
                                          const ThroughputOptions& o) {
  if (samples.size() < 2) return std::nullopt;
  const auto& a = samples.front();
  const auto& b = samples.back();
  auto span = b.t - a.t;
  if (span < o.min_span() || span <= WallTime::duration::zero()) return std::nullopt;
  return static_cast<double>(b.done - a.done) / duration<double>(span).count();
}

std::optional<WallTime> project_completion(const std::vector<ProgressSample>& samples,
                                           std::optional<std::int64_t> task_num,
                                           std::optional<double> rate) {
  if (samples.empty() || !task_num) return std::nullopt;
  const auto& last = samples.back();
  auto left = *task_num - last.done;
  if (left <= 0) return last.t;
  if (!rate || !(*rate > 0)) return std::nullopt;
  double secs = static_cast<double>(left) / *rate;
  if (!std::isfinite(secs) || secs > 100.0 * 365 * 86400) return std::nullopt;  // never, really
  return last.t + duration_cast<WallTime::duration>(duration<double>(secs));
}

}  // namespace mmsmon

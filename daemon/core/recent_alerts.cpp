#include "core/recent_alerts.hpp"

#include <algorithm>

namespace mmsmon {

namespace {

void push_bounded(std::deque<Alert>& q, const Alert& a, std::size_t cap) {
  q.push_back(a);
  while (q.size() > cap)
    q.pop_front();
}

}  // namespace

void RecentAlerts::add(const Alert& a) {
  push_bounded(overall_, a, kOverall);
  if (a.job) push_bounded(by_job_[*a.job], a, kPerJob);
}

std::vector<Alert> RecentAlerts::newest(const std::optional<JobKey>& job, std::size_t limit) const {
  const std::deque<Alert>* q = &overall_;
  if (job) {
    auto it = by_job_.find(*job);
    if (it == by_job_.end()) return {};
    q = &it->second;
  }
  std::vector<Alert> out;
  std::size_t n = std::min(limit, q->size());
  out.reserve(n);
  for (auto it = q->rbegin(); it != q->rend() && out.size() < n; ++it)
    out.push_back(*it);
  return out;
}

}  // namespace mmsmon

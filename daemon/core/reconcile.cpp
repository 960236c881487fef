#include "core/reconcile.hpp"

#include <algorithm>

namespace mmsmon {

ListingChanges reconcile_listing(const Fleet& fleet, SourceId source, const std::vector<Job>& jobs,
                                 bool complete, const std::set<JobKey>& retired,
                                 const std::vector<DiscoverRule>& rules, const ShardConfig& shard,
                                 WallTime now, Millis retention) {
  ListingChanges out;
  std::set<JobKey> listed;
  for (std::size_t i = 0; i < jobs.size(); ++i) {
    const Job& job = jobs[i];
    if (job.key.source != source || !listed.insert(job.key).second) continue;
    if (fleet.find(job.key)) {
      out.present.push_back(job.key);
      continue;
    }
    const DiscoverRule* rule = matching_rule(rules, job);
    if (!rule || !in_shard(job.key, shard)) continue;
    if (retired.count(job.key)) {
      bool finished = job.status == JobStatus::done || job.status == JobStatus::failed;
      if (finished) continue;  // still finished: stays withdrawn
      out.unretire.push_back(job.key);
    }
    out.add.emplace_back(i, rule);
  }
  for (const auto& [key, job] : fleet.jobs()) {
    if (!job.discovered || key.source != source) continue;
    if (job.finished_since && now - *job.finished_since >= retention) {
      out.retire.push_back(key);
      continue;
    }
    if (!complete || listed.count(key)) continue;
    (job.missing + 1 >= 2 ? out.withdraw : out.missing).push_back(key);
  }
  return out;
}

std::set<SourceId> refresh_sources(const Fleet& fleet,
                                   const std::map<SourceId, std::int64_t>& doing_total,
                                   std::int64_t page_size, bool enabled) {
  std::set<SourceId> out;
  if (!enabled) return out;
  page_size = std::max<std::int64_t>(page_size, 1);
  std::map<SourceId, std::int64_t> running;  // running or not polled yet
  for (const auto& [key, job] : fleet.jobs()) {
    const JobState& st = job.state;
    if ((st.last && st.last->status == JobStatus::doing) || (!st.last && !st.polled))
      ++running[key.source];
  }
  for (auto [source, n] : running) {
    auto seen = doing_total.find(source);
    std::int64_t pages = seen == doing_total.end() ? 1 : (seen->second + page_size - 1) / page_size;
    if (n >= 2 && std::max<std::int64_t>(pages, 1) < n) out.insert(source);
  }
  return out;
}

std::set<JobKey> jobs_kept(const Fleet& fleet, const Config& c) {
  std::set<JobKey> keep;
  for (const auto& j : c.jobs)
    keep.insert(j.key);
  for (const auto& [key, job] : fleet.jobs()) {
    if (!job.discovered || !in_shard(key, c.shard)) continue;
    const SourceId source = key.source;  // (clang 14 cannot capture a structured binding)
    bool picked = job.state.last
                      ? matching_rule(c.discover, *job.state.last) != nullptr
                      : std::any_of(c.discover.begin(), c.discover.end(),
                                    [&](const DiscoverRule& r) { return rule_covers(r, source); });
    if (picked) keep.insert(key);
  }
  return keep;
}

}  // namespace mmsmon

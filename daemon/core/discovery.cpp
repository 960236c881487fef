#include "core/discovery.hpp"

#include <algorithm>

namespace mmsmon {

bool glob_match(std::string_view p, std::string_view s) {
  // Iterative, with one backtrack point: linear enough for job names.
  std::size_t pi = 0, si = 0, star = std::string_view::npos, mark = 0;
  while (si < s.size()) {
    if (pi < p.size() && (p[pi] == '?' || p[pi] == s[si])) {
      ++pi;
      ++si;
    } else if (pi < p.size() && p[pi] == '*') {
      star = pi++;
      mark = si;
    } else if (star != std::string_view::npos) {
      pi = star + 1;
      si = ++mark;
    } else {
      return false;
    }
  }
  while (pi < p.size() && p[pi] == '*')
    ++pi;
  return pi == p.size();
}

bool rule_covers(const DiscoverRule& r, SourceId s) {
  return r.all_sources || (r.source && *r.source == s);
}

bool rule_matches(const DiscoverRule& r, const Job& j) {
  std::string_view name = j.name ? std::string_view(*j.name) : std::string_view();
  auto any = [&](const std::vector<std::string>& globs) {
    return std::any_of(globs.begin(), globs.end(),
                       [&](const std::string& g) { return glob_match(g, name); });
  };
  if (!r.include.empty() && !any(r.include)) return false;
  if (any(r.exclude)) return false;
  if (!r.status.empty()) {
    std::string st = j.status ? (j.status == JobStatus::unknown ? j.status_raw
                                                                : std::string(to_string(*j.status)))
                              : std::string();
    if (std::find(r.status.begin(), r.status.end(), st) == r.status.end()) return false;
  }
  if (r.stopped && j.stopped.value_or(false) != *r.stopped) return false;
  return true;
}

const DiscoverRule* matching_rule(const std::vector<DiscoverRule>& rules, const Job& j) {
  for (const auto& r : rules)
    if (rule_covers(r, j.key.source) && rule_matches(r, j)) return &r;
  return nullptr;
}

std::uint64_t job_hash(const JobKey& k) {
  // FNV-1a over the two ids' 8 little-endian bytes each: fixed by this code, not by the
  // standard library's std::hash.
  std::uint64_t h = 14695981039346656037ull;
  for (std::int64_t v : {k.source.value, k.job.value})
    for (int i = 0; i < 8; ++i) {
      h ^= static_cast<std::uint64_t>(v >> (8 * i)) & 0xff;
      h *= 1099511628211ull;
    }
  return h;
}

bool in_shard(const JobKey& k, const ShardConfig& s) {
  return s.count <= 1 || job_hash(k) % s.count == s.index;
}

bool PageWalk::add(std::int64_t total, std::int64_t page_size, std::vector<Job> items) {
  ++pages_read_;
  if (page_size <= 0) {
    if (page_ == 1)
      notes_.push_back("the answer's pageSize is " + std::to_string(page_size) +
                       "; using the size asked for");
  } else if (page_ == 1) {
    size_ = page_size;
  }
  if (total < 0) {
    notes_.push_back("the answer's total is negative");
    total = 0;
  }
  if (total_ && total != *total_) {
    notes_.push_back("total changed from " + std::to_string(*total_) + " to " +
                     std::to_string(total) + " while the pages were read");
    total_ = total;
    if (restarts_++ == 0) {  // read it all again once, keeping what was read
      page_ = 1;
      for (auto& j : items)
        if (seen_.insert(j.key.job.value).second) items_.push_back(std::move(j));
      return true;
    }
  }
  total_ = total;
  std::size_t fresh = 0;
  for (auto& j : items) {
    if (seen_.insert(j.key.job.value).second) {
      items_.push_back(std::move(j));
      ++fresh;
    } else {
      for (auto& have : items_)  // the newer snapshot wins
        if (have.key == j.key) have = std::move(j);
    }
  }
  if (fresh < items.size() && !items.empty())
    notes_.push_back("page " + std::to_string(page_) + " repeats " +
                     std::to_string(items.size() - fresh) + " jobs of earlier pages");
  bool last = page_ * size_ >= total;
  if (items.empty() && !last) {
    notes_.push_back("page " + std::to_string(page_) + " is empty before total " +
                     std::to_string(total) + " is reached");
    return false;  // incomplete
  }
  std::int64_t needed = (total + size_ - 1) / size_;
  if (last) {
    complete_ =
        static_cast<std::int64_t>(items_.size()) >= std::min<std::int64_t>(total, 1) || total == 0;
    return false;
  }
  if (pages_read_ > 2 * needed + 4 || pages_read_ > 100000) {
    notes_.push_back("more pages than total " + std::to_string(total) + " needs; stopped");
    return false;
  }
  ++page_;
  return true;
}

std::vector<Job> PageWalk::take() {
  return std::move(items_);
}

}  // namespace mmsmon

#pragma once

#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "core/duration.hpp"
#include "core/types.hpp"

namespace mmsmon {

/// One `discover` entry: which jobs of which data sources to track.
struct DiscoverRule {
  std::optional<SourceId> source;    ///< this data source...
  bool all_sources = false;          ///< ...or every one ListMmsDataSources returns
  std::vector<std::string> include;  ///< globs on the job name (`*`, `?`); empty: all
  std::vector<std::string> exclude;  ///< globs on the job name
  std::vector<std::string> status;   ///< INIT, DOING, DONE, FAILED; empty: all
  std::optional<bool> stopped;       ///< only stopped (true) or not stopped (false) jobs
  std::optional<Millis> interval;    ///< poll interval of the jobs found
  std::optional<Millis> stall_after;
  friend bool operator==(const DiscoverRule&, const DiscoverRule&) = default;
};

/// `shard`: this replica tracks the jobs whose stable hash falls on `index` of `count`.
struct ShardConfig {
  std::uint32_t index = 0;
  std::uint32_t count = 1;
  friend bool operator==(const ShardConfig&, const ShardConfig&) = default;
};

/// Shell-style glob: `*` any run, `?` one byte, anything else itself.
bool glob_match(std::string_view pattern, std::string_view s);

/// Whether `rule` covers data source `s` (before looking at its jobs).
bool rule_covers(const DiscoverRule& rule, SourceId s);
/// Whether `rule` picks job `j` (of a source it covers): name globs, status, stopped.
bool rule_matches(const DiscoverRule& rule, const Job& j);

/// The first rule that covers `j`'s source and picks it, if any.
const DiscoverRule* matching_rule(const std::vector<DiscoverRule>& rules, const Job& j);

/// A stable hash of (source id, job id): the same on every replica, build and run.
std::uint64_t job_hash(const JobKey& k);
bool in_shard(const JobKey& k, const ShardConfig& s);

/// Reads all of a ListMmsJobs listing page by page and keeps it consistent: items are keyed
/// by job id (a job seen twice, e.g. because others were created meanwhile and the pages
/// shifted, is kept once: its latest snapshot); when `total` changes between pages the walk
/// starts over once from page 1 (keeping what it has); an empty page before `total` is
/// reached, or more pages than `total` can need, ends the walk as incomplete. The page size
/// is the one the answer reports (the requested one when it reports 0 or less). Pure.
class PageWalk {
 public:
  explicit PageWalk(std::int64_t requested_size)
      : size_(std::max<std::int64_t>(1, requested_size)) {}
  std::int64_t next_page() const { return page_; }
  std::int64_t page_size() const { return size_; }
  /// Folds the answer for next_page(); false when the walk is over.
  bool add(std::int64_t total, std::int64_t page_size, std::vector<Job> items);
  /// Whether every page was read and agreed (a job missing from a complete walk is gone).
  bool complete() const { return complete_; }
  /// What was odd about the pages, one line each (for a log line and a counter).
  const std::vector<std::string>& notes() const { return notes_; }
  std::vector<Job> take();

 private:
  std::int64_t size_;
  std::int64_t page_ = 1;
  std::optional<std::int64_t> total_;
  int restarts_ = 0;
  std::int64_t pages_read_ = 0;
  bool complete_ = false;
  std::vector<Job> items_;
  std::set<std::int64_t> seen_;
  std::vector<std::string> notes_;
};

}  // namespace mmsmon

#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <set>
#include <utility>
#include <vector>

#include "core/config.hpp"
#include "core/discovery.hpp"
#include "core/fleet.hpp"

namespace mmsmon {

/// What one listing of a data source's jobs (discovery) changes in the set of tracked jobs.
struct ListingChanges {
  /// Jobs to start tracking: their index in the listing (their snapshot is the baseline)
  /// and the rule that picked them.
  std::vector<std::pair<std::size_t, const DiscoverRule*>> add;
  std::vector<JobKey> unretire;  ///< withdrawn when finished, running again: tracked again
  std::vector<JobKey> present;   ///< tracked and listed: no longer missing
  /// Discovered jobs finished for `finished_retention`: withdrawn, and not found again while
  /// they stay finished.
  std::vector<JobKey> retire;
  std::vector<JobKey> missing;   ///< discovered, missing from this complete listing (once more)
  std::vector<JobKey> withdraw;  ///< discovered, missing from two complete listings in a row
};

/// Reconciles a listing of `source` (`complete`: every page read and agreed) with the fleet:
/// jobs `rules` pick in this `shard` and not tracked yet are added (unless withdrawn when
/// finished and still finished: `retired`); discovered jobs of the source finished for
/// `retention` are retired; discovered jobs missing from two complete listings in a row are
/// withdrawn (one odd listing is never enough; an incomplete one withdraws nothing).
/// Configured jobs (not discovered) are never withdrawn. Pure.
ListingChanges reconcile_listing(const Fleet& fleet, SourceId source, const std::vector<Job>& jobs,
                                 bool complete, const std::set<JobKey>& retired,
                                 const std::vector<DiscoverRule>& rules, const ShardConfig& shard,
                                 WallTime now, Millis retention);

/// The data sources worth refreshing by pages (`poll.page_refresh`): those with at least two
/// tracked running jobs and a DOING listing (its size as last seen in `doing_total`; one page
/// when never seen) of fewer pages than they have running jobs. Jobs not polled yet count as
/// running: on a first start the listing finds the running ones before their own first poll
/// (the others are polled on their own, as jobs that left the listing). Pure.
std::set<SourceId> refresh_sources(const Fleet& fleet,
                                   const std::map<SourceId, std::int64_t>& doing_total,
                                   std::int64_t page_size, bool enabled);

/// The jobs `c` keeps: its `jobs`, and the discovered ones its `discover` still picks in this
/// shard (by their last snapshot; by their source when never polled). Pure.
std::set<JobKey> jobs_kept(const Fleet& fleet, const Config& c);

}  // namespace mmsmon

#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <functional>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "core/api_error.hpp"
#include "core/duration.hpp"
#include "core/pacing.hpp"
#include "core/result.hpp"
#include "core/types.hpp"

namespace mmsmon {

class MmsClient;
class Poller;

/// Lists data sources and their jobs for discovery: every `interval()` (and at once when
/// kicked), ListMmsDataSources page by page, then ListMmsJobs page by page (PageWalk) for
/// each source to walk, one request at a time, each holding one of the poller's in-flight
/// slots and yielding in the request budget to polls of running jobs.
class Discoverer {
 public:
  /// Discovery lists data sources, then all jobs of the sources; refresh lists only the
  /// running (DOING) jobs of the sources in `sources`, to refresh tracked jobs by pages.
  enum class Mode { discover, refresh };
  struct Plan {
    std::set<SourceId> sources;  ///< sources whose jobs to list
    bool all_sources = false;    ///< and every source ListMmsDataSources returns (discover)
    std::int64_t page_size = 100;
    Millis interval{5 * 60 * 1000};
  };
  struct SourceListing {
    SourceId source;
    Result<std::vector<Job>, ApiError> jobs;
    bool complete = false;           ///< every page read and consistent
    std::vector<std::string> notes;  ///< oddities of the pages
    std::int64_t requests = 0;
    WallTime fetched_at;  ///< when the first page was asked for (the snapshots are as new)
  };
  using PlanFn = std::function<Plan()>;
  using OnSources = std::function<void(Result<std::vector<DataSource>, ApiError>)>;
  using OnListing = std::function<void(SourceListing)>;

  Discoverer(boost::asio::any_io_executor ex, MmsClient& client, ThrottleGovernor& governor,
             Poller& poller, PlanFn plan, OnSources on_sources, OnListing on_listing,
             Mode mode = Mode::discover);
  ~Discoverer();
  Discoverer(const Discoverer&) = delete;
  Discoverer& operator=(const Discoverer&) = delete;

  void start();
  /// Runs a round now (a reload changed what to discover).
  void kick();
  void stop();
  void set_crash_observer(std::function<void(const std::string&)> f);

  struct Impl;

 private:
  std::shared_ptr<Impl> impl_;
};

}  // namespace mmsmon

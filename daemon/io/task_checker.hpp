#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "core/api_error.hpp"
#include "core/pacing.hpp"
#include "core/result.hpp"
#include "core/task_failures.hpp"
#include "core/types.hpp"

namespace mmsmon {

class MmsClient;
class Poller;

/// Checks the failed tasks of running jobs: once a second it asks `due` which jobs need a
/// check, and checks them one request at a time, each holding one of the poller's in-flight
/// slots and paced by the throttle governor. The jobs of one data source are checked by one
/// sweep of its failed tasks (ListMmsTasks per failed status without a job id, paged) when
/// that takes fewer requests than checking them one by one (ListMmsTasks per failed status
/// with the job id: `total` counts them, the first page names the first few), and one by one
/// otherwise or when the sweep cannot attribute every task. Then ListMmsTaskLogs for named
/// tasks not seen before. Results go to `on_result`. A failed log read leaves that task's
/// error text empty; a failed task query fails the check (of every job of the sweep).
class TaskChecker {
 public:
  /// The jobs due for a check now, with what the previous check found (to reuse its logs).
  struct DueJob {
    JobKey key;
    std::optional<TaskFailures> previous;
  };
  using Due = std::function<std::vector<DueJob>()>;
  using OnResult = std::function<void(const JobKey&, Result<TaskFailures, ApiError>)>;

  /// `client`, `governor` and `poller` must outlive the checker.
  TaskChecker(boost::asio::any_io_executor ex, MmsClient& client, ThrottleGovernor& governor,
              Poller& poller, Due due, OnResult on_result);
  ~TaskChecker();
  TaskChecker(const TaskChecker&) = delete;
  TaskChecker& operator=(const TaskChecker&) = delete;

  void start();
  /// Told what an internal error in the loop was (the loop then starts again).
  void set_crash_observer(std::function<void(const std::string&)> f);
  /// Ends the loop; a check under way is abandoned at its next step.
  void stop();

  struct Impl;

 private:
  std::shared_ptr<Impl> impl_;
};

}  // namespace mmsmon

#include "io/task_checker.hpp"

#include <map>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "io/crash.hpp"
#include "io/mms_client.hpp"
#include "io/poller.hpp"

namespace mmsmon {
namespace asio = boost::asio;
using asio::awaitable;
using std::chrono::steady_clock;
using std::chrono::system_clock;
constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);

struct TaskChecker::Impl {
  Impl(asio::any_io_executor e, MmsClient& c, ThrottleGovernor& g, Poller& p, Due d, OnResult r)
      : timer(e), client(c), governor(g), poller(p), due(std::move(d)), on_result(std::move(r)) {}

  asio::steady_timer timer;
  MmsClient& client;
  ThrottleGovernor& governor;
  Poller& poller;
  Due due;
  OnResult on_result;
  std::function<void(const std::string&)> on_crash;
  bool stopping = false;

  /// A slot and a go from the budget and the governor (task checks yield to polls of
  /// running jobs when the budget is short); false when stopping.
  awaitable<bool> paced(Poller::Slot& slot) { return poller.paced(timer, slot, true, stopping); }

  /// Reads the logs of the named tasks whose error is not known from the previous check;
  /// false when stopping. A failed log read leaves that error empty.
  awaitable<bool> fill_errors(const DueJob& job, TaskFailures& out) {
    for (auto& f : out.first) {
      if (job.previous)
        for (const auto& p : job.previous->first)
          if (p.id == f.id && p.phase == f.phase && p.retries == f.retries) f.error = p.error;
      if (!f.error.empty()) continue;
      Poller::Slot slot;
      if (!co_await paced(slot)) co_return false;
      auto log = co_await client.list_task_logs(job.key.source, f.id);
      if (log) f.error = latest_error(*log);
    }
    co_return true;
  }

  /// One job on its own: ListMmsTasks with its job id, once per failed status.
  awaitable<std::optional<Result<TaskFailures, ApiError>>> check(const DueJob& job) {
    TaskFailures out;
    for (auto phase : kTaskPhases) {
      Poller::Slot slot;
      if (!co_await paced(slot)) co_return std::nullopt;
      ListTasksQuery q;
      q.job_id = job.key.job.value;
      q.status = std::string(failed_status_of(phase));
      q.page_num = 1;
      q.page_size = 10;
      auto page = co_await client.list_tasks(job.key.source, q);
      if (!page) co_return Result<TaskFailures, ApiError>(Failure{page.error()});
      // `total` counts them; a page that holds more than it says is believed instead.
      std::int64_t n = std::max<std::int64_t>(page->total, 0);
      std::int64_t listed = 0;
      for (const auto& t : page->items) {
        if (t.job_id && *t.job_id != job.key.job.value) continue;  // not ours: ignored
        ++listed;
        if (out.first.size() < kTasksNamed) out.first.push_back(failed_task_info(t, phase));
      }
      out.failed[static_cast<std::size_t>(phase)] = std::max(n, listed);
    }
    if (!co_await fill_errors(job, out)) co_return std::nullopt;
    out.checked = system_clock::now();
    co_return Result<TaskFailures, ApiError>(std::move(out));
  }

  /// Requests a sweep of each data source is expected to take (from its last sweep).
  std::map<SourceId, std::int64_t> sweep_cost;

  /// All failed tasks of `source` at once (FailedTaskSweep); nullopt when stopping, an
  /// empty map when the sweep could not attribute every task (then each job is checked on
  /// its own).
  using Swept = Result<std::map<JobId, TaskFailures>, ApiError>;
  awaitable<std::optional<Swept>> sweep(SourceId source, const std::vector<JobId>& jobs) {
    FailedTaskSweep s(jobs);
    while (auto step = s.next()) {
      Poller::Slot slot;
      if (!co_await paced(slot)) co_return std::nullopt;
      ListTasksQuery q;
      q.status = std::string(failed_status_of(step->first));
      q.page_num = step->second;
      q.page_size = FailedTaskSweep::kPageSize;
      auto page = co_await client.list_tasks(source, q);
      if (!page) co_return Swept(Failure{page.error()});
      s.add(page->total, page->items);
    }
    // An incomplete sweep is not tried again until it would pay for more jobs than now.
    sweep_cost[source] =
        s.complete()
            ? s.pages_needed()
            : std::max<std::int64_t>(s.pages_needed(), 3 * static_cast<std::int64_t>(jobs.size()));
    co_return Swept(s.result());
  }

  /// Checks `jobs` (all of one data source): by one sweep when it pays, else one by one.
  /// False when stopping.
  awaitable<bool> check_source(SourceId source, const std::vector<DueJob>& jobs) {
    auto cost = sweep_cost.find(source);
    if (sweep_pays(jobs.size(), cost == sweep_cost.end() ? 3 : cost->second)) {
      std::vector<JobId> ids;
      for (const auto& j : jobs)
        ids.push_back(j.key.job);
      auto r = co_await sweep(source, ids);
      if (!r || stopping) co_return false;
      if (!*r) {
        for (const auto& j : jobs)
          on_result(j.key, Failure{r->error()});
        co_return true;
      }
      auto found = std::move(*r).value();
      if (!found.empty()) {
        for (const auto& j : jobs) {
          TaskFailures f = std::move(found[j.key.job]);
          if (!co_await fill_errors(j, f) || stopping) co_return false;
          f.checked = system_clock::now();
          on_result(j.key, std::move(f));
        }
        co_return true;
      }
    }
    for (const auto& j : jobs) {
      auto r = co_await check(j);
      if (!r || stopping) co_return false;
      on_result(j.key, std::move(*r));
    }
    co_return true;
  }

  /// Runs the loop; one that throws is reported and started again (after its 1 s wait).
  static void spawn(const std::shared_ptr<Impl>& self) {
    asio::co_spawn(self->timer.get_executor(), self->loop(), [self](std::exception_ptr e) {
      if (!e || self->stopping) return;
      if (self->on_crash) self->on_crash(crash_what(e));
      spawn(self);
    });
  }

  awaitable<void> loop() {
    while (!stopping) {
      timer.expires_after(std::chrono::seconds(1));
      co_await timer.async_wait(use_tuple);
      if (stopping) break;
      std::map<SourceId, std::vector<DueJob>> by_source;
      for (auto& job : due())
        by_source[job.key.source].push_back(std::move(job));
      for (const auto& [source, jobs] : by_source)
        if (!co_await check_source(source, jobs)) break;
    }
  }
};

TaskChecker::TaskChecker(asio::any_io_executor ex, MmsClient& client, ThrottleGovernor& governor,
                         Poller& poller, Due due, OnResult on_result)
    : impl_(std::make_shared<Impl>(std::move(ex), client, governor, poller, std::move(due),
                                   std::move(on_result))) {}

TaskChecker::~TaskChecker() {
  stop();
}

void TaskChecker::start() {
  Impl::spawn(impl_);
}

void TaskChecker::set_crash_observer(std::function<void(const std::string&)> f) {
  impl_->on_crash = std::move(f);
}

void TaskChecker::stop() {
  impl_->stopping = true;
  impl_->timer.cancel();
}

}  // namespace mmsmon

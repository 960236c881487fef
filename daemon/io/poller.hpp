#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "core/api_error.hpp"
#include "core/duration.hpp"
#include "core/pacing.hpp"
#include "core/result.hpp"
#include "core/types.hpp"

namespace mmsmon {

class MmsClient;

/// Polls jobs with GetMmsJob: one small coroutine per job that sleeps on the job's timer,
/// waits for one of `max_in_flight` slots and for the throttle governor, calls the API and
/// hands the result to `on_result`, which folds it and says when the job is due next. A
/// slot is released on every path, exceptions included. A job's poller that throws is
/// reported through `on_crash`, counted, marked down, and restarted after a backoff (1 s,
/// doubling up to 1 min, reset by a poll that completes). Single-threaded, like the
/// executor it runs on.
class Poller {
 public:
  /// Folds a finished poll; returns the wait before the job's next poll.
  using OnResult = std::function<Millis(const JobKey&, Result<Job, ApiError>&)>;
  /// A job's poller died with `what`; it restarts after `restart_in`.
  using OnCrash = std::function<void(const JobKey&, const std::string& what, Millis restart_in)>;

  struct Options {
    std::size_t max_in_flight = 8;
    /// Whether a job's poll waits its turn in the request budget (running jobs) rather than
    /// yielding to those that do (empty: all wait their turn).
    std::function<bool(const JobKey&)> urgent = {};
    /// Whether a job's poll goes ahead of the others waiting for a slot (jobs known to run;
    /// the others still get every fifth slot). Empty: first come, first served.
    std::function<bool(const JobKey&)> first = {};
    Millis first_restart{1'000};
    Millis max_restart{60'000};
  };

  /// `client` and `governor` must outlive the poller.
  Poller(boost::asio::any_io_executor ex, MmsClient& client, ThrottleGovernor& governor,
         Options opt, OnResult on_result, OnCrash on_crash);
  ~Poller();
  Poller(const Poller&) = delete;
  Poller& operator=(const Poller&) = delete;

  /// Starts polling `key`, first after `first_in`. A key already polled is left alone.
  void add(const JobKey& key, Millis first_in);
  /// Stops polling `key`; a poll under way finishes, its result is dropped. (So are failed
  /// polls that end after stop(): they were cancelled.)
  void remove(const JobKey& key);
  /// A new cap on polls under way (a reload); a higher one lets waiting jobs go at once.
  void set_max_in_flight(std::size_t n);
  /// Waits, on the caller's own `timer`, for one of the `max_in_flight` slots, for requests
  /// other than polls (task checks) that share the cap; `first`: ahead of the others, as
  /// Options::first. False when stopping (no slot held). A slot acquired must be given back
  /// with release_slot().
  boost::asio::awaitable<bool> acquire_slot(boost::asio::steady_timer& timer, bool first = false);
  void release_slot();

  /// A slot held for a request other than a poll; given back when it goes out of scope.
  class Slot {
   public:
    Slot() = default;
    ~Slot();
    Slot(const Slot&) = delete;
    Slot& operator=(const Slot&) = delete;

   private:
    friend class Poller;
    Poller* poller_ = nullptr;
  };
  /// Everything a request other than a poll waits for, on the caller's `timer`: when
  /// `yield` (it is less urgent than polls of running jobs), a free token of the request
  /// budget; then a slot (held in `slot`; ahead of the others when not `yield`); then the
  /// throttle governor's go. False when
  /// `stopping` turned true meanwhile or the poller stops.
  boost::asio::awaitable<bool> paced(boost::asio::steady_timer& timer, Slot& slot, bool yield,
                                     const bool& stopping);
  /// Stops every job's poller; `on_idle` runs once the last one has ended and no slot is
  /// held any more (at once if none is running).
  void stop(std::function<void()> on_idle);

  std::size_t running() const;     ///< job pollers alive (sleeping, queued or polling)
  std::size_t down() const;        ///< job pollers dead and waiting for their restart
  std::size_t in_flight() const;   ///< slots held
  std::uint64_t restarts() const;  ///< job pollers restarted after a crash, in total

  struct Impl;

 private:
  std::shared_ptr<Impl> impl_;
};

}  // namespace mmsmon

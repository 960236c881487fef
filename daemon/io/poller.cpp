#include "io/poller.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <deque>
#include <map>

#include "core/schedule.hpp"
#include "io/crash.hpp"
#include "io/mms_client.hpp"

namespace mmsmon {
namespace asio = boost::asio;
using asio::awaitable;
using std::chrono::steady_clock;
constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);

namespace {

/// `when` rounded up to the next 50 ms tick: polls due close together wake the loop once
/// instead of once each.
steady_clock::time_point on_tick(steady_clock::time_point when) {
  constexpr auto tick = std::chrono::duration_cast<steady_clock::duration>(Millis{50});
  auto since = when.time_since_epoch();
  return steady_clock::time_point{((since + tick - steady_clock::duration{1}) / tick) * tick};
}

}  // namespace

struct Poller::Impl {
  /// One job's poller. Everything it waits for (its next poll, a slot, the governor, a
  /// restart) it waits for on its one timer, so 10,000 sleeping jobs are 10,000 small
  /// frames and timers.
  struct Entry {
    Entry(asio::any_io_executor ex, JobKey k) : timer(ex), key(k) {}
    asio::steady_timer timer;
    JobKey key;
    bool handed_slot = false;  ///< woken by release_slot() with its slot
    bool removed = false;
    bool down = false;
    unsigned crashes = 0;  ///< crashes since the last poll that completed
  };
  using EntryPtr = std::shared_ptr<Entry>;

  /// A held in-flight slot, released once: on purpose after the call, or by unwinding.
  struct Slot {
    Impl* impl;
    bool held = true;
    void release() {
      if (held) impl->release_slot();
      held = false;
    }
    ~Slot() { release(); }
  };

  Impl(asio::any_io_executor e, MmsClient& c, ThrottleGovernor& g, Options o, OnResult r,
       OnCrash cr)
      : ex(std::move(e)),
        client(c),
        governor(g),
        opt(o),
        on_result(std::move(r)),
        on_crash(std::move(cr)) {}

  asio::any_io_executor ex;
  MmsClient& client;
  ThrottleGovernor& governor;
  Options opt;
  OnResult on_result;
  OnCrash on_crash;
  std::map<JobKey, EntryPtr> entries;
  /// Waiting for a slot: a job due for a poll, or another user of the slots (task checks);
  /// each waits on its own timer and is told by its flag that it was handed a slot. Those
  /// that go first (polls of jobs known to run, refresh listings) wait in `first_waiters`;
  /// the others (jobs not polled yet, the rest) get every fifth slot while both wait.
  struct Waiter {
    asio::steady_timer* timer;
    bool* handed;
  };
  std::deque<Waiter> first_waiters, waiters;
  unsigned passed_over = 0;  ///< slots handed to first_waiters while `waiters` waited
  static constexpr unsigned kPassOver = 4;
  std::size_t in_flight = 0, running = 0, down = 0;
  std::uint64_t restarts = 0;
  bool stopping = false;
  std::function<void()> on_idle;

  bool anyone_waiting() const { return !first_waiters.empty() || !waiters.empty(); }

  /// Hands the slot of a finished poll to the next job waiting for one, if any: those that
  /// go first, unless the others have been passed over kPassOver times in a row.
  void release_slot() {
    if (!anyone_waiting() || stopping) {
      --in_flight;
      maybe_idle();
      return;
    }
    bool first = !first_waiters.empty() && (waiters.empty() || passed_over < kPassOver);
    passed_over = first && !waiters.empty() ? passed_over + 1 : 0;
    auto& queue = first ? first_waiters : waiters;
    Waiter next = queue.front();  // in_flight stays the same
    queue.pop_front();
    *next.handed = true;
    next.timer->cancel();
  }

  void wait_for_slot(asio::steady_timer& timer, bool* handed, bool first) {
    (first ? first_waiters : waiters).push_back({&timer, handed});
    timer.expires_at(steady_clock::time_point::max());
  }

  /// Stopping, and nothing runs or holds a slot any more: tells on_idle.
  void maybe_idle() {
    if (stopping && running == 0 && in_flight == 0 && on_idle) std::exchange(on_idle, nullptr)();
  }

  /// Forgets the waiter that waits on `timer` (removed, or woken without a slot).
  void forget_waiter(const asio::steady_timer* timer) {
    auto same = [timer](const Waiter& w) { return w.timer == timer; };
    std::erase_if(first_waiters, same);
    std::erase_if(waiters, same);
  }

  awaitable<bool> acquire(asio::steady_timer& timer, bool first) {
    if (stopping) co_return false;
    if (in_flight < opt.max_in_flight) {
      ++in_flight;
      co_return true;
    }
    bool handed = false;
    wait_for_slot(timer, &handed, first);
    co_await timer.async_wait(use_tuple);
    if (!handed) {
      forget_waiter(&timer);
      co_return false;
    }
    if (stopping) {
      release_slot();
      co_return false;
    }
    co_return true;
  }

  static void spawn(const std::shared_ptr<Impl>& self, const EntryPtr& e,
                    steady_clock::time_point first) {
    ++self->running;
    asio::co_spawn(self->ex, self->loop(*e, first),
                   [self, e](std::exception_ptr ex) { self->ended(self, e, ex); });
  }

  awaitable<void> loop(Entry& e, steady_clock::time_point first) {
    e.timer.expires_at(on_tick(first));
    for (;;) {
      co_await e.timer.async_wait(use_tuple);  // sleeping, or queued for a slot
      if (!e.handed_slot && !stopping && !e.removed && opt.urgent && !opt.urgent(e.key) &&
          !governor.try_take_budget(steady_clock::now())) {
        // Not running, and the budget is short: after the running jobs.
        e.timer.expires_after(governor.budget_retry(steady_clock::now()));
        continue;
      }
      if (e.handed_slot) {
        e.handed_slot = false;  // release_slot() passed us its slot
        if (stopping || e.removed) {
          release_slot();
          break;
        }
      } else if (stopping || e.removed) {
        break;
      } else if (in_flight < opt.max_in_flight) {
        ++in_flight;
      } else {
        wait_for_slot(e.timer, &e.handed_slot, opt.first && opt.first(e.key));
        continue;
      }
      Slot slot{this};
      Millis delay = co_await poll_once(e, slot);
      if (stopping || e.removed) break;
      e.crashes = 0;
      // A job not to be polled again (a finished one) sleeps until removed or stopped.
      e.timer.expires_at(delay >= kNever ? steady_clock::time_point::max()
                                         : on_tick(steady_clock::now() + delay));
    }
  }

  /// One poll, holding a slot: waits for the throttle governor, calls the API, releases
  /// the slot, and hands the result on. The decoded job stays in plain functions, out of
  /// the coroutine frames.
  awaitable<Millis> poll_once(Entry& e, Slot& slot) {
    auto at = governor.reserve(steady_clock::now());
    if (at > steady_clock::now()) {
      e.timer.expires_at(at);
      co_await e.timer.async_wait(use_tuple);
    }
    if (stopping || e.removed) co_return Millis{0};
    CallOutcome out;
    auto body = co_await client.fetch(get_mms_job_call(e.key), out);
    slot.release();
    co_return finish(e, std::move(body), out);
  }

  Millis finish(Entry& e, Result<std::string, ApiError> body, CallOutcome& out) {
    auto r = client.finish_get_job(std::move(body), out, e.key);
    if (e.removed || (stopping && !r)) return Millis{0};
    return on_result(e.key, r);
  }

  void ended(const std::shared_ptr<Impl>& self, const EntryPtr& e, std::exception_ptr ex) {
    --running;
    if (ex && !stopping && !e->removed) {
      std::string what = crash_what(ex);
      Millis wait =
          std::min(opt.max_restart, Millis{opt.first_restart.count() << std::min(e->crashes, 16u)});
      ++e->crashes;
      ++restarts;
      ++down;
      e->down = true;
      if (on_crash) on_crash(e->key, what, wait);
      e->timer.expires_after(wait);
      e->timer.async_wait([self, e](const boost::system::error_code&) { self->restart(self, e); });
    }
    maybe_idle();
  }

  void restart(const std::shared_ptr<Impl>& self, const EntryPtr& e) {
    if (e->down) {
      e->down = false;
      --down;
    }
    if (stopping || e->removed) return;
    spawn(self, e, steady_clock::now());
  }
};

Poller::Poller(asio::any_io_executor ex, MmsClient& client, ThrottleGovernor& governor, Options opt,
               OnResult on_result, OnCrash on_crash)
    : impl_(std::make_shared<Impl>(std::move(ex), client, governor, opt, std::move(on_result),
                                   std::move(on_crash))) {}

Poller::~Poller() {
  for (auto& [k, e] : impl_->entries) {
    e->removed = true;
    e->timer.cancel();
  }
}

void Poller::add(const JobKey& key, Millis first_in) {
  if (impl_->stopping || impl_->entries.count(key)) return;
  auto e = std::make_shared<Impl::Entry>(impl_->ex, key);
  impl_->entries.emplace(key, e);
  Impl::spawn(impl_, e, steady_clock::now() + first_in);
}

void Poller::remove(const JobKey& key) {
  auto it = impl_->entries.find(key);
  if (it == impl_->entries.end()) return;
  Impl::Entry* e = it->second.get();
  e->removed = true;
  impl_->forget_waiter(&e->timer);
  e->timer.cancel();
  impl_->entries.erase(it);
}

void Poller::set_max_in_flight(std::size_t n) {
  auto& i = *impl_;
  i.opt.max_in_flight = n;
  while (i.anyone_waiting() && i.in_flight < n) {
    ++i.in_flight;
    i.release_slot();  // hands the new slot to the next waiter
  }
}

void Poller::stop(std::function<void()> on_idle) {
  auto& i = *impl_;
  i.stopping = true;
  for (auto* queue : {&i.first_waiters, &i.waiters})
    for (auto& w : std::exchange(*queue, {}))
      w.timer->cancel();
  for (auto& [k, e] : i.entries)
    e->timer.cancel();
  if (i.running == 0 && i.in_flight == 0) {
    if (on_idle) on_idle();
    return;
  }
  i.on_idle = std::move(on_idle);
}

awaitable<bool> Poller::acquire_slot(asio::steady_timer& timer, bool first) {
  co_return co_await impl_->acquire(timer, first);
}

void Poller::release_slot() {
  impl_->release_slot();
}

Poller::Slot::~Slot() {
  if (poller_) poller_->release_slot();
}

awaitable<bool> Poller::paced(asio::steady_timer& timer, Slot& slot, bool yield,
                              const bool& stopping) {
  ThrottleGovernor& governor = impl_->governor;
  while (yield && !governor.try_take_budget(steady_clock::now())) {
    timer.expires_after(governor.budget_retry(steady_clock::now()));
    co_await timer.async_wait(use_tuple);
    if (stopping) co_return false;
  }
  if (!co_await acquire_slot(timer, !yield)) co_return false;
  slot.poller_ = this;
  if (stopping) co_return false;
  auto at = governor.reserve(steady_clock::now());
  if (at > steady_clock::now()) {
    timer.expires_at(at);
    co_await timer.async_wait(use_tuple);
  }
  co_return !stopping;
}

std::size_t Poller::running() const {
  return impl_->running;
}
std::size_t Poller::down() const {
  return impl_->down;
}
std::size_t Poller::in_flight() const {
  return impl_->in_flight;
}
std::uint64_t Poller::restarts() const {
  return impl_->restarts;
}

}  // namespace mmsmon

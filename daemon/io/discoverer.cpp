#include "io/discoverer.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "core/discovery.hpp"
#include "io/crash.hpp"
#include "io/mms_client.hpp"
#include "io/poller.hpp"

namespace mmsmon {
namespace asio = boost::asio;
using asio::awaitable;
using std::chrono::steady_clock;
constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);

struct Discoverer::Impl {
  Impl(asio::any_io_executor e, MmsClient& c, ThrottleGovernor& g, Poller& p, PlanFn pl,
       OnSources os, OnListing ol, Mode m)
      : mode(m),
        timer(e),
        client(c),
        governor(g),
        poller(p),
        plan(std::move(pl)),
        on_sources(std::move(os)),
        on_listing(std::move(ol)) {}

  Mode mode;
  asio::steady_timer timer;
  MmsClient& client;
  ThrottleGovernor& governor;
  Poller& poller;
  PlanFn plan;
  OnSources on_sources;
  OnListing on_listing;
  std::function<void(const std::string&)> on_crash;
  bool stopping = false, kicked = false, sleeping = false;

  /// A slot and a go from the budget and the governor; false when stopping. Refreshing
  /// running jobs is as urgent as polling them; discovery yields.
  awaitable<bool> paced(Poller::Slot& slot) {
    return poller.paced(timer, slot, mode == Mode::discover, stopping);
  }

  /// Every data source, page by page; nullopt when stopping.
  awaitable<std::optional<Result<std::vector<DataSource>, ApiError>>> list_sources(
      std::int64_t size) {
    std::vector<DataSource> all;
    std::set<std::int64_t> seen;
    for (std::int64_t page = 1; page <= 1000; ++page) {
      Poller::Slot slot;
      if (!co_await paced(slot)) co_return std::nullopt;
      auto r = co_await client.list_data_sources(page, size);
      if (!r) co_return Result<std::vector<DataSource>, ApiError>(Failure{r.error()});
      for (auto& d : r->items)
        if (seen.insert(d.id.value).second) all.push_back(std::move(d));
      std::int64_t got = r->page_size > 0 ? r->page_size : size;
      if (r->items.empty() || page * got >= r->total) break;
    }
    co_return Result<std::vector<DataSource>, ApiError>(std::move(all));
  }

  /// One source's jobs; nullopt when stopping.
  awaitable<std::optional<SourceListing>> list_jobs(SourceId source, std::int64_t size) {
    PageWalk walk(size);
    SourceListing out{source, std::vector<Job>{}, false, {}, 0, std::chrono::system_clock::now()};
    for (;;) {
      Poller::Slot slot;
      if (!co_await paced(slot)) co_return std::nullopt;
      ListJobsQuery q;
      q.page_num = walk.next_page();
      q.page_size = walk.page_size();
      if (mode == Mode::refresh) q.status = "DOING";
      auto r = co_await client.list_jobs(source, q);
      ++out.requests;
      if (!r) {
        out.jobs = Failure{r.error()};
        co_return out;
      }
      for (const auto& e : r->item_errors)
        out.notes.push_back("an item could not be read: " + e);
      if (!walk.add(r->total, r->page_size, std::move(r->items))) break;
    }
    out.complete = walk.complete() && out.notes.empty();
    out.notes.insert(out.notes.end(), walk.notes().begin(), walk.notes().end());
    out.jobs = walk.take();
    co_return out;
  }

  awaitable<void> loop() {
    for (;;) {
      Plan p = plan();
      std::set<SourceId> sources = p.sources;
      if (sources.empty() && !p.all_sources) {  // nothing to discover (yet: a reload may kick)
        sleeping = true;
        timer.expires_after(p.interval);
        co_await timer.async_wait(use_tuple);
        sleeping = false;
        kicked = false;
        if (stopping) break;
        continue;
      }
      if (mode == Mode::discover) {
        auto listed = co_await list_sources(p.page_size);
        if (!listed || stopping) break;
        if (*listed && p.all_sources)
          for (const auto& d : listed->value())
            sources.insert(d.id);
        on_sources(std::move(*listed));
      }
      auto round = steady_clock::now();
      for (const auto& s : sources) {
        auto l = co_await list_jobs(s, p.page_size);
        if (!l || stopping) co_return;
        on_listing(std::move(*l));
      }
      if (kicked) {
        kicked = false;
        continue;
      }
      sleeping = true;
      timer.expires_at(round + p.interval);  // a round every interval, however long it took
      co_await timer.async_wait(use_tuple);
      sleeping = false;
      kicked = false;
      if (stopping) break;
    }
  }

  static void spawn(const std::shared_ptr<Impl>& self) {
    asio::co_spawn(self->timer.get_executor(), self->loop(), [self](std::exception_ptr e) {
      if (!e || self->stopping) return;
      if (self->on_crash) self->on_crash(crash_what(e));
      self->timer.expires_after(std::chrono::seconds(1));
      self->timer.async_wait([self](const boost::system::error_code&) {
        if (!self->stopping) spawn(self);
      });
    });
  }
};

Discoverer::Discoverer(asio::any_io_executor ex, MmsClient& client, ThrottleGovernor& governor,
                       Poller& poller, PlanFn plan, OnSources on_sources, OnListing on_listing,
                       Mode mode)
    : impl_(std::make_shared<Impl>(std::move(ex), client, governor, poller, std::move(plan),
                                   std::move(on_sources), std::move(on_listing), mode)) {}

Discoverer::~Discoverer() {
  stop();
}

void Discoverer::start() {
  Impl::spawn(impl_);
}

void Discoverer::kick() {
  impl_->kicked = true;
  if (impl_->sleeping) impl_->timer.cancel();
}

void Discoverer::stop() {
  impl_->stopping = true;
  impl_->timer.cancel();
}

void Discoverer::set_crash_observer(std::function<void(const std::string&)> f) {
  impl_->on_crash = std::move(f);
}

}  // namespace mmsmon

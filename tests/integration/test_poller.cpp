// The poller against mms-sim, in process: slots, restarts after a crash, removal.
#include <doctest/doctest.h>

#include <boost/asio/steady_timer.hpp>
#include <map>

#include "io/mms_client.hpp"
#include "io/poller.hpp"
#include "sim_process.hpp"

using namespace mmsmon;
using namespace mmsmon::test;
using namespace std::chrono_literals;

namespace {

const char* kPollerScenario = R"({
  "credentials": [{"access_key_id": "p-id", "access_key_secret": "p-secret"}],
  "jobs": [{"source_id": 7, "job_id": 1, "task_num": 10}, {"source_id": 7, "job_id": 2, "task_num": 10},
           {"source_id": 7, "job_id": 3, "task_num": 10}]})";

JobKey job(std::int64_t id) {
  return JobKey{SourceId{7}, JobId{id}};
}

/// A poller over a real client stack, run until `done` says so (bounded).
struct PollerWorld {
  boost::asio::io_context io;
  std::unique_ptr<HttpClient> http;
  std::unique_ptr<MmsClient> client;
  ThrottleGovernor governor;
  std::unique_ptr<Poller> poller;
  std::map<std::int64_t, int> polls, ok;
  std::vector<std::string> crashes;
  std::size_t max_in_flight_seen = 0;
  std::function<void(const JobKey&)> hook;
  std::function<bool()> done;

  PollerWorld(const std::string& url, std::size_t max_in_flight) {
    auto ep = parse_endpoint(url);
    auto h = HttpClient::create(io.get_executor(), *ep, {});
    REQUIRE(h.ok());
    http = std::move(h).value();
    Credentials c;
    c.access_key_id = "p-id";
    c.access_key_secret = Secret("p-secret");
    client = std::make_unique<MmsClient>(*http, std::move(c), MmsClient::Options{});
    Poller::Options opt;
    opt.max_in_flight = max_in_flight;
    opt.first_restart = 50ms;
    poller = std::make_unique<Poller>(
        io.get_executor(), *client, governor, opt,
        [this](const JobKey& k, Result<Job, ApiError>& r) {
          max_in_flight_seen = std::max(max_in_flight_seen, poller->in_flight());
          ++polls[k.job.value];
          if (hook) hook(k);  // may throw: the poll dies holding its slot
          ok[k.job.value] += r.ok();
          if (done && done()) poller->stop([this] { io.stop(); });
          return Millis{20};
        },
        [this](const JobKey& k, const std::string& what, Millis) {
          crashes.push_back(std::to_string(k.job.value) + ": " + what);
        });
  }

  void run(std::chrono::seconds limit) {
    boost::asio::steady_timer guard(io, limit);
    bool timed_out = false;
    guard.async_wait([&](const boost::system::error_code& ec) {
      if (!ec) {
        timed_out = true;
        io.stop();
      }
    });
    io.run();
    CHECK_MESSAGE(!timed_out, "the poller did not reach its goal within " << limit.count() << "s");
  }
};

}  // namespace

TEST_CASE("poller: a poll that throws holds no slot, the others go on and it restarts") {
  SimProcess sim(kPollerScenario);
  PollerWorld w(sim.url(), 1);
  int throws_left = 2;
  w.hook = [&](const JobKey& k) {
    if (k.job.value == 1 && throws_left > 0) {
      --throws_left;
      throw std::runtime_error("injected failure");
    }
  };
  w.done = [&] { return w.ok[1] >= 3 && w.ok[2] >= 10 && w.ok[3] >= 10; };
  for (int i = 1; i <= 3; ++i)
    w.poller->add(job(i), 0ms);
  w.run(20s);
  CHECK(w.crashes == std::vector<std::string>{"1: injected failure", "1: injected failure"});
  CHECK(w.poller->restarts() == 2);
  CHECK(w.poller->down() == 0);
  CHECK(w.ok[1] >= 3);  // recovered
  CHECK(w.ok[2] >= 10);
  CHECK(w.ok[3] >= 10);
  CHECK(w.max_in_flight_seen == 1);
  CHECK(w.poller->in_flight() == 0);
  CHECK(w.poller->running() == 0);
}

TEST_CASE("poller: while a job's poller is down it counts as down, and is restarted") {
  SimProcess sim(kPollerScenario);
  PollerWorld w(sim.url(), 2);
  w.poller = nullptr;  // rebuilt with a long restart delay
  Poller::Options opt;
  opt.max_in_flight = 2;
  opt.first_restart = 300ms;
  std::size_t down_seen = 0;
  int polls_of_2 = 0;
  bool thrown = false;
  w.poller = std::make_unique<Poller>(
      w.io.get_executor(), *w.client, w.governor, opt,
      [&](const JobKey& k, Result<Job, ApiError>&) {
        if (k.job.value == 1 && !thrown) {
          thrown = true;
          throw std::runtime_error("boom");
        }
        if (k.job.value == 2) {
          ++polls_of_2;
          down_seen = std::max(down_seen, w.poller->down());
        }
        if (k.job.value == 1 && thrown) w.poller->stop([&] { w.io.stop(); });
        return Millis{20};
      },
      [](const JobKey&, const std::string&, Millis restart_in) { CHECK(restart_in == 300ms); });
  w.poller->add(job(1), 0ms);
  w.poller->add(job(2), 0ms);
  w.run(20s);
  CHECK(down_seen == 1);  // job 2 kept being polled while job 1's poller was down
  CHECK(polls_of_2 >= 3);
  CHECK(w.poller->down() == 0);
  CHECK(w.poller->restarts() == 1);
}

TEST_CASE("poller: a removed job is no longer polled, and stop ends every job poller") {
  SimProcess sim(kPollerScenario);
  PollerWorld w(sim.url(), 2);
  bool removed = false;
  int after_removal = 0;
  w.hook = [&](const JobKey& k) {
    if (removed && k.job.value == 1) ++after_removal;
    if (!removed && w.polls[1] >= 2) {
      w.poller->remove(job(1));
      removed = true;
    }
  };
  w.done = [&] { return removed && w.polls[2] >= 15; };
  w.poller->add(job(1), 0ms);
  w.poller->add(job(2), 0ms);
  w.poller->add(job(2), 0ms);  // already polled: left alone
  w.run(20s);
  CHECK(removed);
  CHECK(after_removal <= 1);  // at most the poll that was already under way
  CHECK(w.poller->running() == 0);
  CHECK(w.poller->in_flight() == 0);
}

TEST_CASE("poller: polls of jobs known to run go first for a slot, the others get every fifth") {
  // One slot. Job 12's poll holds it (the simulator answers it after 300 ms) while jobs 1-6
  // (known to run: first) and 7-11 (the others) queue for it. Then: four of the first, one
  // of the others (so they never starve), the two first left, the others.
  std::string jobs;
  for (int i = 1; i <= 12; ++i)
    jobs += (i > 1 ? "," : "") + std::string(R"({"source_id": 7, "job_id": )") + std::to_string(i) +
            R"(, "task_num": 10})";
  SimProcess sim(R"({"credentials": [{"access_key_id": "p-id", "access_key_secret": "p-secret"}],
                     "jobs": [)" +
                 jobs + "]}");
  sim.admin("POST", "/admin/faults",
            R"({"job": {"source_id": 7, "job_id": 12}, "delay": 0.3, "count": 1})");
  PollerWorld w(sim.url(), 1);
  w.poller = nullptr;  // rebuilt with jobs 1-6 first
  Poller::Options opt;
  opt.max_in_flight = 1;
  opt.first = [](const JobKey& k) { return k.job.value <= 6; };
  std::string order;
  w.poller = std::make_unique<Poller>(
      w.io.get_executor(), *w.client, w.governor, opt,
      [&](const JobKey& k, Result<Job, ApiError>&) {
        order += k.job.value == 12 ? 'S' : k.job.value <= 6 ? 'F' : 'O';
        if (order.size() == 12) w.poller->stop([&] { w.io.stop(); });
        return Millis{60'000};
      },
      [](const JobKey&, const std::string&, Millis) {});
  w.poller->add(job(12), 0ms);
  for (int i = 1; i <= 11; ++i)
    w.poller->add(job(i), 100ms);
  w.run(30s);
  CHECK(order == "SFFFFOFFOOOO");
}

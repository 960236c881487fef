#include "app/once.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/json.hpp>
#include <iomanip>
#include <set>
#include <sstream>

#include "app/api_stack.hpp"
#include "core/discovery.hpp"
#include "core/job_json.hpp"

namespace mmsmon {
namespace asio = boost::asio;
namespace json = boost::json;

namespace {

struct Outcome {
  JobKey key;
  std::optional<Result<Job, ApiError>> result;
};

asio::awaitable<void> worker(MmsClient& client, std::vector<Outcome>& outcomes, std::size_t& next) {
  while (next < outcomes.size()) {
    auto& o = outcomes[next++];
    if (!o.result) o.result = co_await client.get_job(o.key);  // discovered: already listed
  }
}

/// The jobs `discover` picks (in this shard) that are not configured, from one listing of
/// each data source it covers, with their listed snapshots; a listing that fails is added
/// to `problems`.
asio::awaitable<void> discover(MmsClient& client, const Config& cfg, std::vector<Outcome>& outcomes,
                               std::vector<std::string>& problems) {
  std::set<SourceId> sources;
  bool all = false;
  for (const auto& r : cfg.discover) {
    if (r.source) sources.insert(*r.source);
    all = all || r.all_sources;
  }
  auto size = static_cast<std::int64_t>(cfg.poll.page_size);
  if (all) {
    for (std::int64_t page = 1; page <= 1000; ++page) {
      auto r = co_await client.list_data_sources(page, size);
      if (!r) {
        problems.push_back("listing the data sources failed: " + r.error().describe());
        break;
      }
      for (const auto& d : r->items)
        sources.insert(d.id);
      std::int64_t got = r->page_size > 0 ? r->page_size : size;
      if (r->items.empty() || page * got >= r->total) break;
    }
  }
  std::set<JobKey> known;
  for (const auto& o : outcomes)
    known.insert(o.key);
  for (auto source : sources) {
    PageWalk walk(size);
    bool failed = false;
    for (;;) {
      ListJobsQuery q;
      q.page_num = walk.next_page();
      q.page_size = walk.page_size();
      auto r = co_await client.list_jobs(source, q);
      if (!r) {
        problems.push_back("listing the jobs of data source " + std::to_string(source.value) +
                           " failed: " + r.error().describe());
        failed = true;
        break;
      }
      if (!walk.add(r->total, r->page_size, std::move(r->items))) break;
    }
    if (failed) continue;
    for (auto& j : walk.take())
      if (!known.count(j.key) && matching_rule(cfg.discover, j) && in_shard(j.key, cfg.shard)) {
        known.insert(j.key);
        JobKey key = j.key;
        outcomes.push_back({key, Result<Job, ApiError>(std::move(j))});
      }
  }
}

/// API text for a terminal: control characters (escape sequences) shown as '?'.
std::string opt_str(const std::optional<std::string>& s) {
  return s ? printable_excerpt(*s, 1024) : "-";
}

}  // namespace

int run_once(const Config& cfg, Credentials creds, OnceFormat format, std::ostream& out,
             std::ostream& err) {
  asio::io_context io;
  auto stack = make_api_stack(io.get_executor(), cfg, std::move(creds));
  if (!stack) {
    err << "mmsmon: " << stack.error() << '\n';
    return 1;
  }
  MmsClient& client = *stack->client;

  std::vector<Outcome> outcomes;
  for (const auto& j : cfg.jobs)
    outcomes.push_back({j.key, std::nullopt});
  std::vector<std::string> problems;
  auto on_crash = [&err](const std::string& m) { err << "mmsmon: " << m << '\n'; };
  if (!cfg.discover.empty()) {
    asio::co_spawn(io, discover(client, cfg, outcomes, problems),
                   report_crash("--once discovery", on_crash));
    io.run();
    io.restart();
  }
  std::size_t next = 0;
  std::size_t workers = std::min<std::size_t>(cfg.api.max_connections, outcomes.size());
  for (std::size_t i = 0; i < workers; ++i)
    asio::co_spawn(io, worker(client, outcomes, next), report_crash("a --once worker", on_crash));
  io.run();
  for (const auto& p : problems)
    err << "mmsmon: discovery: " << p << '\n';

  int failed = 0;
  if (format == OnceFormat::json) {
    json::array arr;
    for (const auto& o : outcomes) {
      json::object obj;
      obj["source_id"] = o.key.source.value;
      obj["job_id"] = o.key.job.value;
      bool ok = o.result && o.result->ok();
      obj["ok"] = ok;
      if (ok) {
        for (auto& kv : job_to_json(o.result->value()))
          obj[kv.key()] = kv.value();
      } else {
        ++failed;
        obj["error"] = o.result ? error_to_json(o.result->error())
                                : json::object{{"reason", "network"}, {"message", "not polled"}};
      }
      arr.push_back(std::move(obj));
    }
    out << json::serialize(arr) << '\n';
  } else {
    out << std::left << std::setw(10) << "SOURCE" << std::setw(8) << "JOB" << std::setw(24)
        << "NAME" << std::setw(8) << "STATUS" << std::setw(8) << "STOPPED" << std::setw(14)
        << "DONE/TOTAL" << std::setw(9) << "PROGRESS"
        << "ERROR\n";
    for (const auto& o : outcomes) {
      out << std::left << std::setw(10) << o.key.source.value << std::setw(8) << o.key.job.value;
      if (o.result && o.result->ok()) {
        const Job& j = o.result->value();
        std::string status =
            j.status ? (j.status == JobStatus::unknown ? printable_excerpt(j.status_raw, 64)
                                                       : std::string(to_string(*j.status)))
                     : "-";
        std::string done = (j.task_done ? std::to_string(*j.task_done) : "-") + "/" +
                           (j.task_num ? std::to_string(*j.task_num) : "-");
        std::ostringstream pct;
        if (j.task_num && j.task_done && *j.task_num > 0)
          pct << std::fixed << std::setprecision(1)
              << 100.0 * static_cast<double>(*j.task_done) / static_cast<double>(*j.task_num)
              << '%';
        else
          pct << '-';
        out << std::setw(24) << opt_str(j.name).substr(0, 23) << std::setw(8) << status
            << std::setw(8) << (j.stopped ? (*j.stopped ? "yes" : "no") : "-") << std::setw(14)
            << done << std::setw(9) << pct.str();
        for (std::size_t i = 0; i < j.anomalies.size(); ++i)
          out << (i ? "; " : "note: ") << printable_excerpt(j.anomalies[i], 1024);
        out << '\n';
      } else {
        ++failed;
        out << std::setw(24) << "-" << std::setw(8) << "-" << std::setw(8) << "-" << std::setw(14)
            << "-" << std::setw(9) << "-"
            << (o.result ? o.result->error().describe() : std::string("not polled")) << '\n';
      }
    }
  }
  if (failed) err << "mmsmon: " << failed << " of " << outcomes.size() << " polls failed\n";
  return failed || !problems.empty() ? 1 : 0;
}

}  // namespace mmsmon

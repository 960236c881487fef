#include "app/once.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/json.hpp>
#include <iomanip>
#include <sstream>

#include "app/api_stack.hpp"
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
    o.result = co_await client.get_job(o.key);
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
  std::size_t next = 0;
  std::size_t workers = std::min<std::size_t>(cfg.api.max_connections, outcomes.size());
  for (std::size_t i = 0; i < workers; ++i)
    asio::co_spawn(io, worker(client, outcomes, next),
                   report_crash("a --once worker",
                                [&err](const std::string& m) { err << "mmsmon: " << m << '\n'; }));
  io.run();

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
  return failed ? 1 : 0;
}

}  // namespace mmsmon

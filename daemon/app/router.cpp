#include "app/router.hpp"

#include <charconv>

#include <boost/json.hpp>

#include "app/ui_assets.hpp"
#include "core/alert_policy.hpp"
#include "core/job_json.hpp"
#include "obs/metrics.hpp"
#include "version.hpp"

namespace mmsmon {
namespace json = boost::json;

namespace {

constexpr std::string_view kText = "text/plain; charset=utf-8";

ServerResponse text(unsigned status, std::string body) {
  return {status, std::string(kText), std::move(body)};
}

std::string json_time(const std::optional<WallTime>& t) {
  return t ? rfc3339(*t) : std::string();
}

/// One job of /api/v1/jobs: its identity, poll facts, the API's fields, its last error and
/// its firing alerts.
json::object job_json(const TrackedJob& t, const Fleet& fleet) {
  const JobState& s = t.state;
  json::object o{{"source_id", s.key.source.value},
                 {"job_id", s.key.job.value},
                 {"polled", s.polled},
                 {"up", s.up},
                 {"interval_seconds", std::chrono::duration<double>(t.interval).count()}};
  if (s.last)
    for (auto& kv : job_to_json(*s.last))
      o[kv.key()] = kv.value();
  if (s.last_success) o["last_success"] = json_time(s.last_success);
  if (s.last_progress) o["last_progress"] = json_time(s.last_progress);
  if (s.throughput) o["throughput_tasks_per_hour"] = *s.throughput * 3600;
  if (s.projected_completion) o["projected_completion"] = json_time(s.projected_completion);
  if (s.failing_since) o["failing_since"] = json_time(s.failing_since);
  o["consecutive_failures"] = s.consecutive_failures;
  if (s.last_error) o["last_error"] = error_to_json(*s.last_error);
  json::array firing;
  for (auto n : fleet.firing_for(s.key))
    firing.emplace_back(to_string(n));
  o["firing_alerts"] = std::move(firing);
  return o;
}

ServerResponse healthy(const RouterView& v) {
  if (v.stopping) return text(503, "mmsmon is stopping\n");
  if (v.pollers_down > 0)
    return text(
        503, std::to_string(v.pollers_down) + " job pollers are down, waiting for their restart\n");
  return text(200, "mmsmon is healthy\n");
}

ServerResponse ready(const RouterView& v) {
  std::size_t waiting = v.fleet.not_polled();
  if (waiting == 0) return text(200, "mmsmon is ready\n");
  return text(503, std::to_string(waiting) + " of " + std::to_string(v.fleet.size()) +
                       " jobs not polled yet\n");
}

ServerResponse jobs(const ServerRequest&, const RouterView& v) {
  json::array arr;
  arr.reserve(v.fleet.size());
  for (const auto& [k, j] : v.fleet.jobs())
    arr.push_back(job_json(j, v.fleet));
  return {200, "application/json", json::serialize(arr) + "\n"};
}

/// The fleet in a few numbers (the status page's summary; handy with curl too).
ServerResponse status(const ServerRequest&, const RouterView& v) {
  json::object by_status{{"INIT", 0}, {"DOING", 0}, {"DONE", 0}, {"FAILED", 0}, {"UNKNOWN", 0}};
  std::uint64_t done = 0, total = 0, stopped = 0;
  for (const auto& [k, j] : v.fleet.jobs()) {
    const auto& last = j.state.last;
    if (!last) continue;
    if (last->status) {
      auto name = *last->status == JobStatus::unknown ? std::string_view("UNKNOWN")
                                                      : to_string(*last->status);
      by_status[name] = by_status[name].as_int64() + 1;
    }
    if (last->stopped.value_or(false)) ++stopped;
    if (last->task_num && last->task_done && *last->task_num > 0) {
      total += static_cast<std::uint64_t>(*last->task_num);
      done += static_cast<std::uint64_t>(std::min(*last->task_done, *last->task_num));
    }
  }
  json::array firing;
  for (const auto& f : v.fleet.firing()) {
    json::object o{{"alert", to_string(f.alert)}, {"since", rfc3339(f.since)}};
    if (f.job) {
      o["source_id"] = f.job->source.value;
      o["job_id"] = f.job->job.value;
    }
    firing.push_back(std::move(o));
  }
  json::object o{{"version", kVersion},
                 {"now", rfc3339(v.now)},
                 {"stopping", v.stopping},
                 {"pollers_down", v.pollers_down},
                 {"jobs", v.fleet.size()},
                 {"not_polled", v.fleet.not_polled()},
                 {"failing", v.fleet.failing()},
                 {"stopped", stopped},
                 {"by_status", std::move(by_status)},
                 {"tasks_done", done},
                 {"tasks_total", total},
                 {"firing", std::move(firing)}};
  if (total > 0) o["progress_ratio"] = static_cast<double>(done) / static_cast<double>(total);
  return {200, "application/json", json::serialize(o) + "\n"};
}

/// The value of query parameter `name` in `target`, if present.
std::optional<std::string_view> query_param(std::string_view target, std::string_view name) {
  auto q = target.find('?');
  if (q == std::string_view::npos) return std::nullopt;
  std::string_view rest = target.substr(q + 1);
  while (!rest.empty()) {
    auto amp = rest.find('&');
    std::string_view pair = rest.substr(0, amp);
    auto eq = pair.find('=');
    if (pair.substr(0, eq) == name)
      return eq == std::string_view::npos ? std::string_view() : pair.substr(eq + 1);
    if (amp == std::string_view::npos) break;
    rest = rest.substr(amp + 1);
  }
  return std::nullopt;
}

/// A positive decimal number, or nullopt.
std::optional<std::uint64_t> positive(std::string_view s) {
  std::uint64_t n = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), n);
  if (ec != std::errc() || p != s.data() + s.size() || n == 0) return std::nullopt;
  return n;
}

/// The newest alert lines, all or one job's (`?source_id=&job_id=`), `?limit=` (default 100).
ServerResponse alerts(const ServerRequest& req, const RouterView& v) {
  auto src = query_param(req.target, "source_id"), job = query_param(req.target, "job_id");
  auto lim = query_param(req.target, "limit");
  std::optional<JobKey> key;
  if (src || job) {
    auto s = positive(src.value_or("")), j = positive(job.value_or(""));
    if (!s || !j) return text(400, "source_id and job_id must both be positive integers\n");
    key = JobKey{SourceId{static_cast<std::int64_t>(*s)}, JobId{static_cast<std::int64_t>(*j)}};
  }
  std::size_t limit = 100;
  if (lim) {
    auto n = positive(*lim);
    if (!n) return text(400, "limit must be a positive integer\n");
    limit = static_cast<std::size_t>(std::min<std::uint64_t>(*n, RecentAlerts::kOverall));
  }
  std::string body = "[";
  if (v.alerts)
    for (const auto& a : v.alerts->newest(key, limit)) {
      if (body.size() > 1) body += ",";
      body += format_alert_json(a);
    }
  body += "]\n";
  return {200, "application/json", std::move(body)};
}

/// The status page and its files. The page runs only its own script and style, talks only
/// to this server, and cannot be framed.
ServerResponse ui(const UiAsset& a) {
  ServerResponse r{200, std::string(a.content_type), std::string(a.body)};
  r.headers = {{"Content-Security-Policy",
                "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
                "connect-src 'self'; base-uri 'none'; form-action 'none'; "
                "frame-ancestors 'none'"},
               {"Referrer-Policy", "no-referrer"},
               {"X-Frame-Options", "DENY"}};
  return r;
}

}  // namespace

ServerResponse route(const ServerRequest& req, const RouterView& v) {
  std::string_view path = req.target.substr(0, req.target.find('?'));
  bool get = req.method == "GET" || req.method == "HEAD";
  if (path == "/-/reload") {
    if (req.method != "POST") return text(405, "use POST\n");
    if (!v.reload) return text(503, "reload is not available\n");
    auto problems = v.reload();
    if (problems.empty()) return text(200, "configuration reloaded\n");
    std::string body = "configuration not reloaded; the old one stays:\n";
    for (const auto& p : problems)
      body += p + "\n";
    return text(400, std::move(body));
  }
  struct Route {
    std::string_view path;
    ServerResponse (*handler)(const ServerRequest&, const RouterView&);
  };
  static constexpr Route routes[] = {
      {"/metrics",
       [](const ServerRequest&, const RouterView& v) -> ServerResponse {
         return {200, "text/plain; version=0.0.4; charset=utf-8",
                 v.metrics.render(v.fleet.states())};
       }},
      {"/-/healthy", [](const ServerRequest&, const RouterView& v) { return healthy(v); }},
      {"/-/ready", [](const ServerRequest&, const RouterView& v) { return ready(v); }},
      {"/api/v1/jobs", jobs},
      {"/api/v1/status", status},
      {"/api/v1/alerts", alerts},
  };
  for (const auto& r : routes) {
    if (r.path != path) continue;
    if (!get) return text(405, "use GET or HEAD\n");
    return r.handler(req, v);
  }
  if (const UiAsset* a = find_ui_asset(path)) {
    if (!get) return text(405, "use GET or HEAD\n");
    return ui(*a);
  }
  if (!get && req.method != "POST") return text(405, "method not allowed\n");
  return text(404, "not found\n");
}

}  // namespace mmsmon

#include "app/router.hpp"

#include <boost/json.hpp>

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

ServerResponse jobs(const RouterView& v) {
  json::array arr;
  for (const auto& [k, j] : v.fleet.jobs())
    arr.push_back(job_json(j, v.fleet));
  return {200, "application/json", json::serialize(arr) + "\n"};
}

ServerResponse index(const RouterView& v) {
  return {200, "text/html; charset=utf-8",
          std::string("<!doctype html><html><head><title>mmsmon</title></head><body>"
                      "<h1>mmsmon ") +
              kVersion + "</h1><p>Watching " + std::to_string(v.fleet.size()) +
              " MaxCompute Migration Service jobs.</p><ul>"
              "<li><a href=\"/metrics\">/metrics</a></li>"
              "<li><a href=\"/api/v1/jobs\">/api/v1/jobs</a></li>"
              "<li><a href=\"/-/healthy\">/-/healthy</a></li>"
              "<li><a href=\"/-/ready\">/-/ready</a></li></ul></body></html>\n"};
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
    ServerResponse (*handler)(const RouterView&);
  };
  static constexpr Route routes[] = {
      {"/metrics",
       [](const RouterView& v) -> ServerResponse {
         return {200, "text/plain; version=0.0.4; charset=utf-8",
                 v.metrics.render(v.fleet.states())};
       }},
      {"/-/healthy", healthy},
      {"/-/ready", ready},
      {"/api/v1/jobs", jobs},
      {"/", index},
  };
  for (const auto& r : routes) {
    if (r.path != path) continue;
    if (!get) return text(405, "use GET or HEAD\n");
    return r.handler(v);
  }
  if (!get && req.method != "POST") return text(405, "method not allowed\n");
  return text(404, "not found\n");
}

}  // namespace mmsmon

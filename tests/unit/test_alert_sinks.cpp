// What the alert sinks send: Alertmanager's v2 alerts, webhook bodies, the descriptions
// (the same words as README's alert catalog), and the sink config.
#include <doctest/doctest.h>

#include <boost/json.hpp>
#include <fstream>
#include <sstream>

#include "core/alert_sinks.hpp"
#include "core/config.hpp"
#include "job_fixtures.hpp"

using namespace mmsmon;
using namespace mmsmon::test;
using namespace std::chrono_literals;
namespace json = boost::json;

namespace {

Alert stalled() {
  Alert a;
  a.name = AlertName::job_stalled;
  a.state = AlertState::firing;
  a.severity = Severity::warning;
  a.ts = t0;
  a.job = kKey;
  a.job_name = "migrate_sales";
  a.summary = "Job migrate_sales (2/10) has made no progress for 30m.";
  a.facts = {{"task_done", std::int64_t{5}}, {"reminder", true}, {"stall_after", "30m"}};
  return a;
}

}  // namespace

TEST_CASE("an Alertmanager alert: labels, annotations, times, generatorURL") {
  AlertmanagerFormat f{"http://mmsmon:9854/api/v1/jobs", {{"cluster", "prod"}, {"severity", "x"}}};
  auto v = json::parse(alertmanager_alert_json(stalled(), t0 - 1h, t0 + 4min, f)).as_object();
  const auto& l = v.at("labels").as_object();
  CHECK(l.at("alertname") == "JobStalled");
  CHECK(l.at("severity") == "warning");  // an extra label cannot override the fixed ones
  CHECK(l.at("source_id") == "2");
  CHECK(l.at("job_id") == "10");
  CHECK(l.at("job_name") == "migrate_sales");
  CHECK(l.at("cluster") == "prod");
  const auto& n = v.at("annotations").as_object();
  CHECK(n.at("summary") == "Job migrate_sales (2/10) has made no progress for 30m.");
  CHECK(n.at("description").as_string() == alert_description(AlertName::job_stalled));
  CHECK(n.at("task_done") == "5");      // annotations are strings
  CHECK_FALSE(n.contains("reminder"));  // a marker of the line, not of the alert
  CHECK(v.at("startsAt").as_string() == rfc3339(t0 - 1h));
  CHECK(v.at("endsAt").as_string() == rfc3339(t0 + 4min));
  CHECK(v.at("generatorURL") == "http://mmsmon:9854/api/v1/jobs");
  CHECK_FALSE(json::parse(alertmanager_alert_json(stalled(), t0, std::nullopt, f))
                  .as_object()
                  .contains("endsAt"));
  CHECK(alertmanager_key(stalled()) == "JobStalled/2/10");
}

TEST_CASE("a webhook body is the alert line plus its description") {
  auto v = json::parse(webhook_json(stalled())).as_object();
  CHECK(v.at("alert") == "JobStalled");
  CHECK(v.at("state") == "firing");
  CHECK(v.at("reminder") == true);
  CHECK(v.at("description").as_string() == alert_description(AlertName::job_stalled));
}

TEST_CASE("severity filter of a sink") {
  Alert a = stalled();
  CHECK(severe_enough(a, "info"));
  CHECK(severe_enough(a, "warning"));
  CHECK_FALSE(severe_enough(a, "critical"));
}

TEST_CASE("README's alert catalog has each alert's description, word for word") {
  std::ifstream in(MMSMON_SOURCE_DIR "/README.md");
  std::stringstream ss;
  ss << in.rdbuf();
  std::string readme = ss.str();
  for (int i = 0; i <= static_cast<int>(kLastAlertName); ++i) {
    auto n = static_cast<AlertName>(i);
    CAPTURE(to_string(n));
    CHECK(!alert_description(n).empty());
    CHECK(readme.find(std::string(alert_description(n))) != std::string::npos);
  }
}

TEST_CASE("the shipped Prometheus rules describe their alerts in README's words") {
  auto slurp = [](const char* path) {
    std::ifstream in(path);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
  };
  const std::string rules = slurp(MMSMON_SOURCE_DIR "/deploy/prometheus/mmsmon-rules.yml");
  const std::string readme = slurp(MMSMON_SOURCE_DIR "/README.md");
  // Every alert mmsmon itself says that the rules also cover uses the same description.
  for (auto n : {AlertName::job_failed, AlertName::job_stalled, AlertName::job_eta_at_risk,
                 AlertName::job_tasks_failed, AlertName::job_unreachable,
                 AlertName::datasource_agent_offline, AlertName::api_throttled,
                 AlertName::api_auth_failed}) {
    CAPTURE(to_string(n));
    CHECK(rules.find("description: \"" + std::string(alert_description(n)) + "\"") !=
          std::string::npos);
  }
  // Every description of the rules file is in README's catalog, after the alert's name.
  std::size_t descriptions = 0;
  std::string alert;
  std::istringstream lines(rules);
  for (std::string line; std::getline(lines, line);) {
    if (auto a = line.find("- alert: "); a != std::string::npos) alert = line.substr(a + 9);
    auto d = line.find("description: \"");
    if (d == std::string::npos) continue;
    ++descriptions;
    std::string text = line.substr(d + 14);
    REQUIRE(!text.empty());
    text.pop_back();  // the closing quote
    CAPTURE(alert);
    CHECK(readme.find("- `" + alert + "`: " + text) != std::string::npos);
  }
  CHECK(descriptions >= 14);
}

TEST_CASE("every alert of the shipped Prometheus rules has a promtool unit test") {
  auto slurp = [](const std::string& path) {
    std::ifstream in(path);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
  };
  const std::string rules = slurp(MMSMON_SOURCE_DIR "/deploy/prometheus/mmsmon-rules.yml");
  std::string tests;
  for (const char* f :
       {"recording_test.yml", "jobs_test.yml", "datasource_test.yml", "daemon_test.yml"})
    tests += slurp(std::string(MMSMON_SOURCE_DIR "/tests/rules/") + f);
  std::istringstream lines(rules);
  std::size_t alerts = 0;
  for (std::string line; std::getline(lines, line);) {
    auto a = line.find("- alert: ");
    if (a == std::string::npos) continue;
    ++alerts;
    std::string name = line.substr(a + 9);
    CAPTURE(name);
    CHECK(tests.find("alertname: " + name + "\n") != std::string::npos);
  }
  CHECK(alerts >= 14);
}

TEST_CASE("alerts.sinks: decoded with defaults, and every problem named") {
  auto ok = parse_config(R"({"api": {"region": "x"}, "jobs": [{"source_id": 1, "job_id": 2}],
    "alerts": {"sinks": [{"type": "alertmanager", "url": "http://127.0.0.1:9093"},
                         {"type": "webhook", "url": "https://hooks.example/x/y", "name": "ops",
                          "headers": {"X-Token": "t"}, "timeout": "5s",
                          "basic_auth": {"username": "u", "password_file": "/run/p"}}]}})",
                         "c.json");
  REQUIRE(ok.ok());
  const auto& s = ok->alerts.sinks;
  REQUIRE(s.size() == 2);
  CHECK(s[0].type == SinkConfig::Type::alertmanager);
  CHECK(s[0].name == "alertmanager-0");
  CHECK(s[0].resend_interval == 1min);
  CHECK(s[0].min_severity == "warning");
  CHECK(s[0].queue_size == 1000);
  CHECK(s[1].name == "ops");
  CHECK(s[1].headers == std::vector<std::pair<std::string, std::string>>{{"X-Token", "t"}});
  CHECK(s[1].password_file == "/run/p");
  CHECK(s[1].timeout == 5s);
  auto bad = parse_config(R"({"api": {"region": "x"}, "jobs": [{"source_id": 1, "job_id": 2}],
    "alerts": {"sinks": [{"type": "pagerduty", "url": "ftp://x"},
                         {"url": "http://a", "basic_auth": {"username": "u"}},
                         {"type": "webhook", "url": "http://a", "min_severity": "loud",
                          "name": "x", "headers": {"A": 1}},
                         {"type": "webhook", "url": "http://b", "name": "x"}]}})",
                          "c.json");
  REQUIRE_FALSE(bad.ok());
  std::vector<std::string> paths;
  for (const auto& e : bad.error())
    paths.push_back(e.path);
  for (const char* p : {"alerts.sinks[0].type", "alerts.sinks[0].url", "alerts.sinks[1]",
                        "alerts.sinks[1].basic_auth", "alerts.sinks[2].min_severity",
                        "alerts.sinks[2].headers.A", "alerts.sinks[3].name"}) {
    CAPTURE(p);
    CHECK(std::find(paths.begin(), paths.end(), p) != paths.end());
  }
}

// README's configuration reference states a default for each key: the code must agree.
#include <doctest/doctest.h>

#include <fstream>
#include <functional>
#include <map>
#include <sstream>

#include "core/config.hpp"
#include "core/credential_sources.hpp"

using namespace mmsmon;

namespace {

/// (key, default) of each row of README's configuration table, backticks removed.
std::vector<std::pair<std::string, std::string>> readme_defaults() {
  std::ifstream in(MMSMON_SOURCE_DIR "/README.md");
  REQUIRE(in);
  std::vector<std::pair<std::string, std::string>> rows;
  bool in_table = false;
  for (std::string line; std::getline(in, line);) {
    if (line.starts_with("| key | default | meaning |")) {
      in_table = true;
      continue;
    }
    if (!in_table) continue;
    if (!line.starts_with("|")) break;
    if (line.starts_with("|---")) continue;
    std::vector<std::string> cells;
    std::stringstream ss(line.substr(1));
    for (std::string cell; std::getline(ss, cell, '|');) {
      auto strip = [](std::string s) {
        std::string out;
        for (char c : s)
          if (c != '`') out += c;
        auto b = out.find_first_not_of(' '), e = out.find_last_not_of(' ');
        return b == std::string::npos ? std::string() : out.substr(b, e - b + 1);
      };
      cells.push_back(strip(cell));
    }
    if (cells.size() >= 2) rows.emplace_back(cells[0], cells[1]);
  }
  return rows;
}

std::string number(double v) {
  std::ostringstream os;
  os << v;
  return os.str();
}

}  // namespace

TEST_CASE("every default README states is the default of the code") {
  auto parsed =
      parse_config(R"({"api": {"region": "cn-hangzhou"}, "jobs": [{"source_id": 1, "job_id": 2}]})",
                   "minimal.json");
  REQUIRE(parsed.ok());
  const Config& c = parsed.value();
  std::map<std::string, std::function<std::string()>> actual{
      {"api.timeout", [&] { return format_duration(c.api.timeout); }},
      {"api.max_response_bytes", [&] { return std::to_string(c.api.max_response_bytes); }},
      {"api.time_zone", [&] { return c.api.utc_offset == std::chrono::hours(8) ? "+08:00" : "?"; }},
      {"api.max_connections", [&] { return std::to_string(c.api.max_connections); }},
      {"poll.interval", [&] { return format_duration(c.poll.interval); }},
      {"poll.jitter", [&] { return number(c.poll.jitter); }},
      {"poll.pending_interval", [&] { return format_duration(c.poll.pending_interval); }},
      {"poll.finished_interval", [&] { return format_duration(c.poll.finished_interval); }},
      {"poll.max_in_flight", [&] { return std::to_string(c.poll.max_in_flight); }},
      {"listen", [&] { return c.listen; }},
      {"alerts.file", [&] { return c.alerts.file; }},
      {"alerts.format",
       [&] { return c.alerts.format == AlertsConfig::Format::json ? "json" : "logfmt"; }},
      {"alerts.unreachable_after", [&] { return format_duration(c.alerts.unreachable_after); }},
      {"alerts.throttled_after", [&] { return format_duration(c.alerts.throttled_after); }},
      {"alerts.stall_after", [&] { return format_duration(c.alerts.stall_after); }},
      {"alerts.eta_margin", [&] { return format_duration(c.alerts.eta_margin); }},
      {"alerts.eta_window", [&] { return format_duration(c.alerts.eta_window); }},
      {"alerts.repeat_interval", [&] { return format_duration(c.alerts.repeat_interval); }},
      {"alerts.resolve_hold", [&] { return format_duration(c.alerts.resolve_hold); }},
      {"alerts.sinks[].name", [] { return std::string("<type>-<index>"); }},  // test_alert_sinks
      {"alerts.sinks[].timeout", [] { return format_duration(SinkConfig{}.timeout); }},
      {"alerts.sinks[].resend_interval",
       [] { return format_duration(SinkConfig{}.resend_interval); }},
      {"alerts.sinks[].min_severity", [] { return SinkConfig{}.min_severity; }},
      {"alerts.sinks[].queue_size", [] { return std::to_string(SinkConfig{}.queue_size); }},
      {"discover_interval", [&] { return format_duration(c.discover_interval); }},
      {"poll.finished_retention", [&] { return format_duration(c.poll.finished_retention); }},
      {"poll.page_refresh", [&] { return c.poll.page_refresh ? "true" : "false"; }},
      {"poll.page_size", [&] { return std::to_string(c.poll.page_size); }},
      {"tasks.interval", [&] { return format_duration(c.tasks.interval); }},
      {"log_level", [&] { return c.log_level; }},
      {"state_save_interval", [&] { return format_duration(c.state_save_interval); }},
      {"api.allow_insecure_http", [] { return std::string("false"); }},  // test_config.cpp
      {"web.health_without_auth", [&] { return c.web.health_without_auth ? "true" : "false"; }},
      // Resolved where credentials are looked up (test_credentials.cpp checks it).
      {"credentials.config_file", [] { return std::string("~/.aliyun/config.json"); }},
      {"credentials.credentials_file", [] { return std::string("~/.alibabacloud/credentials"); }},
      // The defaults of an OIDC source (OidcSource), used when the config leaves them out.
      {"credentials.role_session_name", [] { return OidcSource{}.session_name; }},
      {"credentials.sts_endpoint", [] { return OidcSource{}.sts_endpoint; }},
      {"credentials.duration",
       [] { return format_duration(std::chrono::duration_cast<Millis>(OidcSource{}.duration)); }},
  };
  auto rows = readme_defaults();
  REQUIRE(rows.size() >= 15);
  std::size_t checked = 0;
  for (const auto& [key, documented] : rows) {
    if (documented == "—" || documented == "-") continue;
    CAPTURE(key);
    auto it = actual.find(key);
    REQUIRE_MESSAGE(it != actual.end(),
                    "README documents a default for " << key << " that no test checks");
    std::string value = it->second();
    auto d1 = parse_duration(value), d2 = parse_duration(documented);
    if (d1.ok() && d2.ok())
      CHECK(d1.value() == d2.value());  // `60s` and `1m` are the same duration
    else
      CHECK(value == documented);
    ++checked;
  }
  CHECK(checked == actual.size());
}

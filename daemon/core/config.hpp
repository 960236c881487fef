#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/discovery.hpp"
#include "core/duration.hpp"
#include "core/result.hpp"
#include "core/types.hpp"

namespace mmsmon {

using namespace std::chrono_literals;

/// Where and how to reach the MMS OpenAPI.
struct ApiConfig {
  std::optional<std::string> region;    ///< → https://maxcompute.<region>.aliyuncs.com
  std::optional<std::string> endpoint;  ///< overrides region; scheme://host[:port]
  Millis timeout = 10s;                 ///< deadline of each network step and of a whole call
  std::optional<std::string> ca_file;   ///< extra CA bundle (PEM) trusted besides the system's
  std::size_t max_response_bytes = 8u << 20;  ///< larger bodies are cut off with an error
  std::chrono::minutes utc_offset = 8h;       ///< zone of `createTime`/`eta` ("+08:00")
  std::size_t max_connections = 4;            ///< kept-alive connections to the API
  std::optional<double> rate_limit;           ///< requests per second over every request
  std::optional<double> rate_burst;           ///< requests at once (default: 1 s of rate_limit)
};

/// Where credentials come from (see README: the default chain).
struct CredentialsConfig {
  std::optional<std::string> profile;      ///< use only this Aliyun CLI profile
  std::optional<std::string> config_file;  ///< the Aliyun CLI config file
  /// Use only this source: `ecs_ram_role`, `oidc` or `credentials_uri`.
  std::optional<std::string> type;
  std::optional<std::string> role_name;          ///< ecs_ram_role (empty: ask the service)
  std::optional<std::string> role_arn;           ///< oidc
  std::optional<std::string> oidc_provider_arn;  ///< oidc
  std::optional<std::string> oidc_token_file;    ///< oidc
  std::optional<std::string> role_session_name;  ///< oidc
  std::optional<std::string> sts_endpoint;       ///< oidc: an STS URL of one's own
  std::optional<Millis> duration;                ///< oidc: DurationSeconds
  std::optional<std::string> uri;                ///< credentials_uri
  std::optional<std::string> credentials_file;   ///< the shared credentials file (INI)
  friend bool operator==(const CredentialsConfig&, const CredentialsConfig&) = default;
};

struct PollConfig {
  Millis interval = 60s;
  double jitter = 0.1;              ///< 0..1, fraction of the interval
  std::size_t max_in_flight = 8;    ///< API requests outstanding at once, over all jobs
  Millis pending_interval = 5min;   ///< jobs not started (INIT)
  Millis finished_interval = 0s;    ///< finished jobs, once confirmed (0: never; see README)
  std::size_t page_size = 100;      ///< pageSize asked of list calls (the answer's is used)
  bool page_refresh = true;         ///< refresh running jobs by ListMmsJobs pages when cheaper
  Millis finished_retention = 24h;  ///< discovered finished jobs are withdrawn after this
};

/// One job to watch.
struct JobRef {
  JobKey key;
  std::optional<Millis> interval;          ///< overrides poll.interval for this job
  std::optional<Millis> stall_after = {};  ///< overrides alerts.stall_after for this job
};

/// TLS and basic auth of mmsmon's HTTP server, with the key names of Prometheus's
/// exporter-toolkit web config (`tls_server_config`, `basic_auth_users`).
struct WebConfig {
  enum class ClientAuth { none, request, require_any, verify_if_given, require_and_verify };
  struct Tls {
    std::string cert_file;
    std::string key_file;
    std::optional<std::string> client_ca_file;
    ClientAuth client_auth = ClientAuth::none;
    bool tls13_only = false;  ///< min_version TLS13 (default TLS12)
    friend bool operator==(const Tls&, const Tls&) = default;
  };
  std::optional<Tls> tls;
  /// user -> bcrypt hash (`$2y$`, `$2b$`, `$2a$`); empty: no authentication.
  std::vector<std::pair<std::string, std::string>> basic_auth_users;
  /// /-/healthy answers without authentication (for load balancers and probes).
  bool health_without_auth = false;
  friend bool operator==(const WebConfig&, const WebConfig&) = default;
};

/// Where alerts are pushed besides the alert log (`alerts.sinks`).
struct SinkConfig {
  enum class Type { alertmanager, webhook };
  Type type = Type::webhook;
  std::string name;  ///< the `sink` label of its metrics; default `<type>-<index>`
  std::string url;   ///< Alertmanager: its base URL (`/api/v2/alerts` is added); webhook: as is
  std::vector<std::pair<std::string, std::string>> headers;  ///< sent with every request
  std::optional<std::string> username;                       ///< basic auth
  std::optional<std::string> password;                       ///< basic auth (or password_file)
  std::optional<std::string> password_file;                  ///< read at start and reload
  std::optional<std::string> ca_file;                        ///< extra CA bundle for https
  Millis timeout = 10s;                                      ///< of one request
  Millis resend_interval = 1min;         ///< Alertmanager: firing alerts are sent again this often
  std::string min_severity = "warning";  ///< `info`, `warning` or `critical`
  std::vector<std::pair<std::string, std::string>> labels;  ///< Alertmanager: extra labels
  std::size_t queue_size = 1000;  ///< alerts waiting; beyond, the oldest are dropped (counted)
  friend bool operator==(const SinkConfig&, const SinkConfig&) = default;
};

struct AlertsConfig {
  enum class Format { json, logfmt };
  std::string file = "/var/log/mmsmon/alerts.log";
  Format format = Format::json;
  Millis unreachable_after = 5min;  ///< JobUnreachable after polls fail this long
  Millis throttled_after = 1min;    ///< ApiThrottled after throttling this long
  Millis stall_after = 30min;       ///< JobStalled after no progress this long (0: never)
  Millis eta_margin = 1h;           ///< JobEtaAtRisk when projected later than eta by more
  Millis eta_window = 1h;           ///< throughput is the average over this much running time
  Millis repeat_interval = 4h;      ///< reminders of firing alerts (0: never)
  Millis resolve_hold = 2min;       ///< a condition resolves after being clear this long
  std::vector<SinkConfig> sinks;
  /// How users reach mmsmon (Alertmanager's generatorURL); default from `listen`.
  std::optional<std::string> external_url;
};

/// Checks of running jobs' failed tasks (JobTasksFailed).
struct TasksConfig {
  Millis interval = 2min;  ///< how often each running job's failed tasks are checked (0: never)
};

/// The whole configuration, plain data with defaults (house style rule 5).
struct Config {
  ApiConfig api;
  CredentialsConfig credentials;
  PollConfig poll;
  std::vector<JobRef> jobs;
  std::vector<DiscoverRule> discover;
  Millis discover_interval = 5min;
  ShardConfig shard;
  std::string listen = "127.0.0.1:9854";
  WebConfig web;
  AlertsConfig alerts;
  TasksConfig tasks;
  std::string log_level = "info";  ///< trace, debug, info, warn, error
  /// Where the fleet's state survives restarts; unset: `$STATE_DIRECTORY/state.json` under
  /// systemd (StateDirectory=), else no state file.
  std::optional<std::string> state_file;
  Millis state_save_interval = 5s;  ///< the state is saved at most this often (and at stop)
};

/// One problem found in a config file.
struct ConfigError {
  std::string file;
  std::size_t line = 0;
  std::size_t column = 0;
  std::string path;  ///< key path, e.g. `jobs[1].job_id`; empty for syntax errors
  std::string message;
  /// `file:line:column: path: message`
  std::string to_string() const;
};

/// Decodes and validates a config text; `file` is only used in error messages.
/// Every problem is reported, not just the first.
Result<Config, std::vector<ConfigError>> parse_config(std::string_view text, std::string_view file);

/// Reads and parses a config file; an unreadable file is one error.
Result<Config, std::vector<ConfigError>> load_config_file(const std::string& path);

/// The HTTPS base URL that `api` designates (`endpoint` if set, else from `region`).
std::string api_base_url(const ApiConfig& api);

/// The key among `candidates` closest to `key`, if close enough to be a likely typo.
std::optional<std::string> did_you_mean(std::string_view key,
                                        const std::vector<std::string_view>& candidates);

}  // namespace mmsmon

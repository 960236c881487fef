#pragma once

// The MMS simulator's model: jobs that progress over simulated time, data sources, tasks and
// their logs, credentials, faults and counters. Pure: the server feeds it requests and the
// time; it answers with what to send (and which fault to act out).

#include <boost/json/value.hpp>
#include <chrono>
#include <cstdint>
#include <deque>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <unordered_map>
#include <vector>

#include "core/result.hpp"
#include "core/signer.hpp"
#include "core/types.hpp"

namespace mmsmon::sim {

using Clock = std::chrono::steady_clock;
using Seconds = std::chrono::duration<double>;

struct SimCredential {
  std::string access_key_id;
  std::string access_key_secret;
  std::string security_token;             ///< when set, requests must carry it
  std::optional<double> expires_at = {};  ///< wall seconds after which it is refused (issued)
};

/// The services that hand out temporary credentials: the ECS metadata service, STS
/// AssumeRoleWithOIDC and a credentials URI. Each answer issues a new key pair and token
/// that the API accepts until it expires.
struct CredentialServices {
  bool enabled = false;
  bool available = true;        ///< false: every answer is a 503 (a service gone away)
  std::uint64_t fail_next = 0;  ///< the next this many requests get a 503
  bool token_endpoint = true;   ///< false: an old metadata service without PUT /latest/api/token
  double lifetime = 3600;       ///< seconds an issued credential lives
  std::string role = "mmsmon-role";           ///< the ECS RAM role
  bool require_token = true;                  ///< metadata: refuse requests without a session token
  std::string oidc_token = "sim-oidc-token";  ///< the token AssumeRoleWithOIDC accepts
  std::string role_arn = "acs:ram::1:role/mmsmon";
  std::string uri_path = "/credentials";  ///< where the credentials URI answers
  std::string answer;                     ///< a bad answer to give instead: "garbage", "no_token",
                                          ///< "code", "expired"
  std::uint64_t issued = 0;
};

struct FailedTask {
  std::int64_t at = 0;  ///< the task index that fails (it fails once processing reaches it)
  std::string table;
  std::string status = "DATA_FAILED";
  std::string msg = "task failed";
  std::int64_t retries = 0;
};

struct SimJob {
  std::int64_t source_id = 0;
  std::int64_t id = 0;
  std::string name;
  std::string status = "DOING";  ///< may be any text (to test unknown statuses)
  std::string type = "Tables";
  std::string src_db = "default";
  std::string dst_db = "mms_target";
  std::int64_t task_num = 100;
  double processed = 0;  ///< tasks processed, failed ones included
  double rate = 0;       ///< tasks per simulated second while DOING and not stopped
  bool stopped = false;
  std::optional<std::int64_t> fail_at;  ///< the job fails when processing reaches this
  std::optional<std::int64_t> stop_at;  ///< a user stops the job when processing reaches this
  std::optional<double> resume_after;   ///< seconds after such a stop the user resumes it
  std::optional<double> start_after;    ///< INIT → DOING after this many seconds
  std::vector<FailedTask> failed_tasks;
  std::string create_time = "2026-11-20 10:00:00";
  std::string eta;
  /// Replaces the computed `data` object as is (malformed-field tests); null = computed.
  boost::json::value raw_override;
  // progression bookkeeping
  double last_update = 0;  ///< simulated seconds
  std::optional<double> stopped_since;
  bool stop_fired = false;

  std::int64_t processed_tasks() const { return static_cast<std::int64_t>(processed); }
  std::int64_t task_done() const;
};

struct SimDataSource {
  std::int64_t id = 0;
  std::string name;
  std::string type = "HIVE";
  std::string region = "cn-hangzhou";
  std::string status = "DONE";
  bool agent_online = true;
};

/// A fault to act out, globally or for one job.
struct Fault {
  std::optional<JobKey> job;          ///< empty: every API request
  std::optional<std::string> action;  ///< only requests of this action
  unsigned status = 0;                ///< with `code`: an Alibaba-style error response
  std::string code;
  std::string message;
  double delay = 0;  ///< seconds before answering
  bool malformed = false;
  bool truncated = false;
  bool reset = false;
  std::uint64_t huge_body = 0;  ///< stream a body this large
  std::string endless;  ///< `chunk_ext` or `trailer`: chunked framing that never ends (64 MB)
  std::optional<std::int64_t> remaining;  ///< apply to this many requests, then vanish
  bool sticky = false;                    ///< not removed by DELETE /admin/faults
};

/// A token bucket shared by all API requests, announced with x-ratelimit-* headers.
struct RateLimitRule {
  double per_second = 0;
  double burst = 1;
  double tokens = 1;
  double last = 0;
};

/// One API request as the server saw it.
struct SimRequest {
  std::string method;
  std::string target;  ///< as on the wire
  Params headers;      ///< names lower-cased
  std::string body;
};

/// What to send back, and how.
struct SimResponse {
  unsigned status = 200;
  Params headers;
  std::string body;
  double delay = 0;
  bool reset = false;
  bool truncated = false;
  std::uint64_t huge_body = 0;
  std::string endless;
};

struct Stats {
  std::uint64_t requests = 0;  ///< API requests (admin excluded)
  std::uint64_t connections = 0;
  std::uint64_t auth_failures = 0;
  std::uint64_t throttled = 0;
  std::map<std::string, std::uint64_t> by_action;
  std::map<std::string, std::uint64_t> by_job;            ///< GetMmsJob requests per "source/job"
  std::map<std::string, std::uint64_t> faults_by_action;  ///< requests a fault was acted out on
  std::uint64_t answered = 0;       ///< API answers written whole (faults that cut them aside)
  std::uint64_t abandoned = 0;      ///< requests whose client hung up before the answer was due
  std::uint64_t in_flight = 0;      ///< API requests read and not yet answered
  std::uint64_t max_in_flight = 0;  ///< the most at any one time
  std::set<std::string> sni_names;  ///< host names TLS clients sent (SNI)
  std::string last_tls_version;     ///< the TLS version of the last handshake
};

/// An API request routed: its action, the ids in its path, its query.
struct ApiRoute {
  std::string action;                  ///< e.g. `GetMmsJob`
  std::optional<std::int64_t> source;  ///< the data source id in the path
  std::optional<std::int64_t> sub;     ///< the job or task id in the path
  std::map<std::string, std::string> query;
};
/// Routes an API path; nullopt for paths the API does not have.
std::optional<ApiRoute> route_api(const SimRequest& req);

class Model {
 public:
  /// Loads a scenario (see tests/sim/README.md); errors name the problem.
  static Result<Model> from_scenario(const boost::json::value& scenario);

  /// Answers one API request at simulated time `now` (seconds) and wall time `wall`.
  SimResponse handle_api(const SimRequest& req, double now, WallTime wall);
  /// Answers a request to the credential services, if it is one (metadata paths, STS,
  /// the credentials URI).
  std::optional<SimResponse> handle_credential_service(const SimRequest& req, WallTime wall);
  /// Answers one admin request (`/admin/...`).
  SimResponse handle_admin(const SimRequest& req, double now);

  bool verify_signatures = true;
  double time_scale = 1.0;  ///< simulated seconds per real second
  double clock_offset = 0;  ///< added to simulated time (admin "advance")
  double wall_skew = 0;     ///< seconds added to the wall clock used for x-acs-date checks
  Stats stats;

 private:
  /// What an action's handler answers: `data` for the envelope, or an error response.
  struct Answer {
    boost::json::value data;
    std::optional<SimResponse> error;
  };
  /// One task of a job as the task actions list it.
  struct SimTask {
    const SimJob* job;
    std::int64_t id;
    std::string status;
    std::string table;
    const FailedTask* failed;
  };

  std::optional<SimResponse> check_auth(const SimRequest& req, std::string_view action,
                                        WallTime wall);
  /// A throttling answer when the rate-limit rule has no token left.
  std::optional<SimResponse> take_rate_limit_token(double elapsed, WallTime wall);
  /// Applies the fault that matches, if any: fills `shape` (delay, reset, ...) and returns
  /// the whole answer when the fault decides it.
  std::optional<SimResponse> act_out_fault(const ApiRoute& route, SimResponse& shape);
  Answer get_job(const ApiRoute& route, double now);
  Answer list_jobs(const ApiRoute& route, double now);
  Answer list_data_sources(const ApiRoute& route, double now);
  Answer get_data_source(const ApiRoute& route, double now);
  Answer list_tasks(const ApiRoute& route, double now);
  Answer get_task(const ApiRoute& route, double now);
  Answer list_task_logs(const ApiRoute& route, double now);
  boost::json::array data_sources_json(std::optional<std::int64_t> only) const;
  std::vector<SimTask> tasks_of(const ApiRoute& route, double now);
  static boost::json::object task_json(const SimTask& t);
  void advance(SimJob& j, double now);
  boost::json::object job_json(const SimJob& j) const;
  Fault* find_fault(const std::optional<JobKey>& key, std::string_view action);
  SimResponse error(unsigned status, std::string code, std::string message);
  std::string next_request_id();

  std::map<JobKey, SimJob> jobs_;
  std::map<std::int64_t, SimDataSource> sources_;
  std::vector<SimCredential> credentials_;
  CredentialServices cred_services_;
  std::set<std::string> metadata_tokens_;
  void configure_credential_services(const boost::json::object& o);
  /// A new temporary credential, accepted by the API until it expires.
  boost::json::object issue_credential(WallTime wall);
  std::deque<Fault> faults_;
  std::optional<RateLimitRule> rate_limit_;
  std::unordered_map<std::string, double> nonces_;  ///< nonce → wall seconds when seen
  std::deque<std::pair<double, std::string>> nonce_order_;
  std::uint64_t request_seq_ = 0;
};

/// Parses a job object of a scenario or of an admin update onto `j`.
Result<bool> apply_job_fields(SimJob& j, const boost::json::object& o);

}  // namespace mmsmon::sim

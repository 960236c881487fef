#pragma once

#include <boost/json/fwd.hpp>
#include <chrono>
#include <optional>
#include <ostream>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.hpp"
#include "core/signer.hpp"
#include "core/types.hpp"

namespace mmsmon {

/// Why an API call failed; these are the `reason` label values of
/// `mmsmon_api_request_failures_total` and so are fixed.
enum class FailureReason {
  throttled,
  auth,
  not_found,
  client,
  server,
  timeout,
  network,
  tls,
  decode
};

std::string_view to_string(FailureReason r);
std::ostream& operator<<(std::ostream& os, FailureReason r);

/// Whether a call that failed this way is worth retrying after a pause.
bool is_retryable(FailureReason r);

/// One `x-ratelimit-*` header: `Limit:1,Remain:0,TimeLeft:2000,Reset:1234`.
struct RateLimit {
  std::optional<long long> limit;
  std::optional<long long> remain;
  std::optional<std::chrono::milliseconds> time_left;
  std::optional<long long> reset;
};
/// Parses a rate-limit header value; fields it does not know are ignored.
std::optional<RateLimit> parse_rate_limit(std::string_view header);

/// A failed API call, classified. No secret ever goes into it.
struct ApiError {
  FailureReason reason = FailureReason::network;
  unsigned http_status = 0;  ///< 0 when no response was received
  std::string code;          ///< the API's `Code`, if any
  std::string message;       ///< the API's `Message` or our own description
  std::string request_id;    ///< the API's `RequestId`, for support tickets
  std::optional<std::chrono::milliseconds> retry_after;  ///< from `TimeLeft` when throttled
  /// One line for logs: `auth: HTTP 400 SignatureDoesNotMatch: ... (request id X)`.
  std::string describe() const;
};
std::ostream& operator<<(std::ostream& os, const ApiError& e);

/// Classifies an HTTP error response by its `Code` first, the status second, and the
/// rate-limit headers (`x-ratelimit-user-api`, `x-ratelimit-user`) third.
ApiError classify_error_response(unsigned status, std::string_view body,
                                 const std::optional<RateLimit>& user_api,
                                 const std::optional<RateLimit>& user);

/// What one finished API call looked like, for metrics and throttling decisions.
struct CallOutcome {
  std::string action;
  std::optional<FailureReason> failure;  ///< empty on success
  std::chrono::duration<double> duration{};
  std::optional<RateLimit> rate_limit;  ///< the tighter of the x-ratelimit-* headers, if any
};

/// Options for decoding.
struct DecodeOptions {
  std::chrono::minutes utc_offset{8 * 60};  ///< zone of createTime / eta
  std::size_t max_string_bytes = 1024;      ///< longer strings are cut and flagged
};

/// Decodes a GetMmsJob body. The job must be `expected` (when data.id/sourceId are given).
Result<Job, ApiError> decode_get_job(std::string_view body, const JobKey& expected,
                                     const DecodeOptions& opt = {});
/// Decodes one job object (a GetMmsJob `data` or a ListMmsJobs item); `path` prefixes errors.
/// `source` and `job` stand in for `sourceId` and `id` when the object lacks them.
Result<Job, std::string> decode_job(const boost::json::value& v, std::string_view path,
                                    std::optional<SourceId> source, const DecodeOptions& opt,
                                    std::optional<JobId> job = std::nullopt);
Result<Page<Job>, ApiError> decode_list_jobs(std::string_view body, SourceId source,
                                             const DecodeOptions& opt = {});
Result<Page<DataSource>, ApiError> decode_list_data_sources(std::string_view body,
                                                            const DecodeOptions& opt = {});
Result<Page<Task>, ApiError> decode_list_tasks(std::string_view body,
                                               const DecodeOptions& opt = {});
Result<std::vector<TaskLog>, ApiError> decode_list_task_logs(std::string_view body,
                                                             const DecodeOptions& opt = {});

/// Parses `yyyy-MM-dd HH:mm:ss` (or `yyyy-MM-dd`, meaning the end of that day when
/// `date_means_end_of_day`) in a zone `utc_offset` east of UTC.
std::optional<WallTime> parse_api_time(std::string_view s, std::chrono::minutes utc_offset,
                                       bool date_means_end_of_day);

// ---- requests ----

/// One API call before signing: action, raw path segments joined, query.
struct ApiCall {
  std::string action;
  std::string method = "GET";
  std::string raw_path;  ///< unencoded, e.g. /api/v1/mms/datasources/2000015/jobs/10
  Params query;
};

struct ListJobsQuery {
  std::int64_t page_num = 1;
  std::int64_t page_size = 100;
  std::optional<std::string> status;
  std::optional<bool> stopped;
  std::optional<std::string> name;
};
struct ListTasksQuery {
  std::optional<std::int64_t> job_id;
  std::optional<std::string> status;
  std::int64_t page_num = 1;
  std::int64_t page_size = 100;
};

ApiCall get_mms_job_call(const JobKey& key);
ApiCall list_mms_jobs_call(SourceId source, const ListJobsQuery& q);
ApiCall list_mms_data_sources_call(std::int64_t page_num, std::int64_t page_size);
ApiCall list_mms_tasks_call(SourceId source, const ListTasksQuery& q);
ApiCall list_mms_task_logs_call(SourceId source, std::int64_t task_id);

/// The API version all MMS actions use.
inline constexpr std::string_view kApiVersion = "2022-01-04";

/// A request ready for the wire: target (encoded path + query) and headers, Authorization
/// included.
struct PreparedRequest {
  std::string method;
  std::string target;
  Params headers;
};

/// Key material for signing. Kept apart from anything printable.
struct SigningKey {
  std::string_view access_key_id;
  std::string_view access_key_secret;
  std::string_view security_token;  ///< empty unless STS
};

/// Formats `now` as `yyyy-MM-ddTHH:mm:ssZ`.
std::string format_acs_date(WallTime now);

/// Builds and signs a request for `call` (empty body). Pure: `now` and `nonce` are inputs.
PreparedRequest prepare_request(const ApiCall& call, std::string_view host_header,
                                const SigningKey& key, WallTime now, std::string_view nonce,
                                std::string_view user_agent);

}  // namespace mmsmon

#pragma once

// Building API requests: the call of each action, and the signed request for the wire.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "core/signer.hpp"
#include "core/types.hpp"

namespace mmsmon {

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

#pragma once

// Decoding of API response bodies into the types of core/types.hpp.

#include <boost/json/fwd.hpp>
#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/api_error.hpp"
#include "core/result.hpp"
#include "core/types.hpp"

namespace mmsmon {

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

/// What a bare date (`yyyy-MM-dd`, no time) stands for.
enum class BareDate { start_of_day, end_of_day };

/// Parses `yyyy-MM-dd HH:mm:ss` (or a bare `yyyy-MM-dd`, read as `bare`) in a zone
/// `utc_offset` east of UTC.
std::optional<WallTime> parse_api_time(std::string_view s, std::chrono::minutes utc_offset,
                                       BareDate bare = BareDate::start_of_day);

}  // namespace mmsmon

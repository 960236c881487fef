#pragma once

#include <chrono>
#include <compare>
#include <cstdint>
#include <optional>
#include <ostream>
#include <string>
#include <string_view>
#include <vector>

namespace mmsmon {

/// Strongly typed identifier: a data source of MMS.
struct SourceId {
  std::int64_t value = 0;
  auto operator<=>(const SourceId&) const = default;
};

/// Strongly typed identifier: a migration job within a data source.
struct JobId {
  std::int64_t value = 0;
  auto operator<=>(const JobId&) const = default;
};

/// A job is identified by its data source and its id within it.
struct JobKey {
  SourceId source;
  JobId job;
  auto operator<=>(const JobKey&) const = default;
};

inline std::ostream& operator<<(std::ostream& os, SourceId s) {
  return os << s.value;
}
inline std::ostream& operator<<(std::ostream& os, JobId j) {
  return os << j.value;
}
inline std::ostream& operator<<(std::ostream& os, const JobKey& k) {
  return os << k.source.value << '/' << k.job.value;
}

/// Job status as reported by the API. `unknown` keeps the job usable when the service
/// introduces a status this build does not know; the raw text is kept beside it.
enum class JobStatus { init, doing, done, failed, unknown };

std::string_view to_string(JobStatus s);
/// Parses `INIT`, `DOING`, `DONE`, `FAILED`; anything else is `unknown`.
JobStatus parse_job_status(std::string_view s);
std::ostream& operator<<(std::ostream& os, JobStatus s);

using WallTime = std::chrono::system_clock::time_point;

/// One snapshot of a job, as decoded from GetMmsJob or a ListMmsJobs item.
/// Fields the API did not give are empty optionals, never zero.
struct Job {
  JobKey key;
  std::optional<std::string> name;
  std::optional<std::int64_t> db_id;
  std::optional<std::string> source_name;
  std::optional<std::string> src_db;
  std::optional<std::string> src_schema;
  std::optional<std::string> dst_db;
  std::optional<std::string> dst_schema;
  std::optional<JobStatus> status;
  std::string status_raw;  ///< the status text as sent, for `unknown`
  std::optional<std::string> type;
  std::optional<std::int64_t> task_num;
  std::optional<std::int64_t> task_done;
  std::optional<bool> stopped;
  std::optional<WallTime> create_time;
  std::optional<std::string> eta_raw;
  std::optional<WallTime> eta;  ///< end of the `eta` day in the configured zone
  /// Inconsistencies found while decoding (e.g. taskDone > taskNum); the values are kept.
  std::vector<std::string> anomalies;
};

/// A data source as listed by ListMmsDataSources.
struct DataSource {
  SourceId id;
  std::optional<std::string> name;
  std::optional<std::string> region;
  std::optional<std::string> type;
  std::optional<std::string> status;
  std::optional<bool> agent_online;
  std::optional<std::string> err_msg;
  /// Tables and partitions by migration state: doing, done, failed.
  std::optional<std::int64_t> tables_doing, tables_done, tables_failed;
  std::optional<std::int64_t> partitions_doing, partitions_done, partitions_failed;
  std::optional<std::string> scan_status;
};

/// A task (one table or batch of partitions) as listed by ListMmsTasks.
struct Task {
  std::int64_t id = 0;
  std::optional<std::int64_t> job_id;
  std::optional<std::string> job_name;
  std::optional<std::string> src_db;
  std::optional<std::string> src_table;
  std::optional<std::string> dst_db;
  std::optional<std::string> dst_table;
  std::optional<std::string> status;
  std::optional<bool> stopped;
  std::optional<bool> running;
  std::optional<std::int64_t> retried_times;
};

/// One line of a task's log as listed by ListMmsTaskLogs.
struct TaskLog {
  std::int64_t id = 0;
  std::optional<std::int64_t> task_id;
  std::optional<std::string> status;
  std::optional<std::string> action;
  std::optional<std::string> msg;
  std::optional<std::string> create_time;
};

/// One page of a paged list.
template <class T>
struct Page {
  std::int64_t total = 0;
  std::int64_t page_num = 1;
  std::int64_t page_size = 0;
  std::vector<T> items;
  /// Items that could not be decoded, with the reason; the rest of the page is kept.
  std::vector<std::string> item_errors;
};

}  // namespace mmsmon

#include "core/types.hpp"

namespace mmsmon {

std::string_view to_string(JobStatus s) {
  switch (s) {
    case JobStatus::init:
      return "INIT";
    case JobStatus::doing:
      return "DOING";
    case JobStatus::done:
      return "DONE";
    case JobStatus::failed:
      return "FAILED";
    case JobStatus::unknown:
      break;
  }
  return "UNKNOWN";
}

JobStatus parse_job_status(std::string_view s) {
  if (s == "INIT") return JobStatus::init;
  if (s == "DOING") return JobStatus::doing;
  if (s == "DONE") return JobStatus::done;
  if (s == "FAILED") return JobStatus::failed;
  return JobStatus::unknown;
}

std::ostream& operator<<(std::ostream& os, JobStatus s) {
  return os << to_string(s);
}

}  // namespace mmsmon

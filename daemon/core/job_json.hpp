#pragma once

#include <boost/json/object.hpp>

#include "core/api_error.hpp"
#include "core/types.hpp"

namespace mmsmon {

/// A job's fields as JSON for people and scripts (`--once --format json`, /api/v1/jobs):
/// only what the API gave, with statuses as text and times in RFC 3339.
boost::json::object job_to_json(const Job& j);

/// A failed call as JSON: `reason`, `message`, and `code`, `http_status`, `request_id`
/// when known. Never contains a secret (ApiError holds none).
boost::json::object error_to_json(const ApiError& e);

}  // namespace mmsmon

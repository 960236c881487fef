#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/alert_policy.hpp"

namespace mmsmon {

/// What an alert means and what an operator should do: the `description` annotation of
/// every sink, and the same words in README's alert catalog.
std::string_view alert_description(AlertName n);

/// Whether `a` is at least `min_severity` (`info`, `warning`, `critical`).
bool severe_enough(const Alert& a, std::string_view min_severity);

/// How alerts are told to Alertmanager.
struct AlertmanagerFormat {
  std::string generator_url;  ///< e.g. `http://mmsmon:9854/api/v1/jobs`
  std::vector<std::pair<std::string, std::string>> labels;  ///< extra labels
};

/// The identity of an alert in Alertmanager: its name and job (conditions and events alike).
std::string alertmanager_key(const Alert& a);

/// One alert of Alertmanager's v2 API (`POST /api/v2/alerts` takes an array of them):
/// labels alertname, severity, source_id, job_id, job_name (plus the extra ones);
/// annotations summary, description and the alert's facts; startsAt; endsAt when given;
/// generatorURL. `starts` is when the condition began (a reminder's or update's first line).
std::string alertmanager_alert_json(const Alert& a, WallTime starts, std::optional<WallTime> ends,
                                    const AlertmanagerFormat& f);

/// A webhook's body for one alert: the alert line's JSON object plus `description`.
std::string webhook_json(const Alert& a);

}  // namespace mmsmon

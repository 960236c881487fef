#pragma once

#include <chrono>
#include <string>
#include <string_view>

#include "core/result.hpp"

namespace mmsmon {

using Millis = std::chrono::milliseconds;

/// Parses a Prometheus-style duration: one or more `<digits><unit>` terms, units `ms`, `s`,
/// `m`, `h`, `d`, `w` in decreasing order, e.g. `500ms`, `30s`, `1h30m`. `0` alone is zero.
/// Errors are human sentences naming what is wrong.
Result<Millis> parse_duration(std::string_view text);

/// Formats a duration in the same syntax, largest units first (`1h30m`, `250ms`, `0s`).
std::string format_duration(Millis d);

}  // namespace mmsmon

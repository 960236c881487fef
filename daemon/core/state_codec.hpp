#pragma once

#include <string>
#include <string_view>

#include "core/fleet.hpp"
#include "core/result.hpp"

namespace mmsmon {

/// The version of the state file's format. A file of another version is set aside and the
/// daemon starts fresh (README: "State file").
inline constexpr int kStateVersion = 1;

/// The fleet's state as the text of the state file (JSON): each job's last snapshot, poll
/// facts and transition counters, and the firing alerts with their start times. Times are
/// milliseconds since the epoch. Holds no secret. Pure.
std::string encode_state(const FleetState& state, WallTime written);

struct DecodedState {
  FleetState state;
  WallTime written;  ///< when the file was written
};

/// Reads a state file's text back. Every problem (syntax, wrong version, a missing or
/// mistyped field) is an error naming it; nothing is partly restored. Pure.
Result<DecodedState> decode_state(std::string_view text);

}  // namespace mmsmon

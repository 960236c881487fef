#pragma once

#include <optional>
#include <string>

#include "core/result.hpp"
#include "core/state_codec.hpp"

namespace mmsmon {

/// The state file on disk. Saves are atomic: a temporary file beside it is written and
/// fsync'ed, renamed over the old one, and the directory fsync'ed, so that a crash at any
/// moment leaves either the old file or the new one, whole.
class StateStore {
 public:
  explicit StateStore(std::string path) : path_(std::move(path)) {}
  const std::string& path() const { return path_; }

  struct Loaded {
    std::optional<DecodedState> state;   ///< empty when there is no file, or it was set aside
    std::optional<std::string> problem;  ///< why the file was set aside (and where it went)
  };
  /// Loads the file. One that cannot be used (unreadable, corrupt, another format version)
  /// is renamed to `<path>.bad-<unix seconds>` and the daemon starts fresh.
  Loaded load(WallTime now) const;

  /// Writes `state` atomically. Fails with a message naming the file and the reason.
  Result<bool> save(const FleetState& state, WallTime now) const;

 private:
  std::string path_;
};

}  // namespace mmsmon

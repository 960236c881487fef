#pragma once

#include <exception>
#include <string>

namespace mmsmon {

/// What the exception that ended a coroutine (a bug) said: its what(), or "unknown
/// exception" when it is not a std::exception. `e` must not be null.
inline std::string crash_what(std::exception_ptr e) {
  try {
    std::rethrow_exception(e);
  } catch (const std::exception& x) {
    return x.what();
  } catch (...) {
  }
  return "unknown exception";
}

}  // namespace mmsmon

#pragma once

#include <string_view>

namespace mmsmon {

/// One file of the status page, compiled into the binary from daemon/ui/ (CMake generates
/// the table: cmake/embed_ui.cmake).
struct UiAsset {
  std::string_view path;  ///< where it is served: "/" for the page, "/ui/app.js", ...
  std::string_view content_type;
  std::string_view body;
};

/// The asset served at `path`, or nullptr.
const UiAsset* find_ui_asset(std::string_view path);

}  // namespace mmsmon

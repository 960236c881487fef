#pragma once

#include <cstddef>
#include <functional>
#include <string>
#include <vector>

#include "core/fleet.hpp"
#include "core/recent_alerts.hpp"
#include "io/http_message.hpp"

namespace mmsmon {

class Metrics;

/// What the endpoints show, read-only: the fleet, the metrics, and the daemon's status.
struct RouterView {
  const Fleet& fleet;
  const Metrics& metrics;
  bool stopping = false;
  std::size_t pollers_down = 0;  ///< job pollers dead and waiting for their restart
  /// POST /-/reload: reloads the configuration; returns the problems (none: success).
  std::function<std::vector<std::string>()> reload = {};
  /// The alert lines of late (/api/v1/alerts, the status page); none when null.
  const RecentAlerts* alerts = nullptr;
  /// The time of the answer (`now` of /api/v1/status, against which the page tells ages).
  WallTime now = {};
};

/// Answers one request to mmsmon's HTTP server (README: "HTTP endpoints"). Pure but for
/// the view's one action (reload): the same request and view give the same answer,
/// `/metrics`' process_* values aside.
ServerResponse route(const ServerRequest& req, const RouterView& view);

}  // namespace mmsmon

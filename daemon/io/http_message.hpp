#pragma once

#include <string>
#include <string_view>

namespace mmsmon {

/// A request to mmsmon's HTTP server, as the router sees it (no Asio, no Beast).
struct ServerRequest {
  std::string_view method;
  std::string_view target;
};

/// The router's answer. The server adds framing headers and drops the body for HEAD.
struct ServerResponse {
  unsigned status = 200;
  std::string content_type = "text/plain; charset=utf-8";
  std::string body;
};

}  // namespace mmsmon

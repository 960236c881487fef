#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace mmsmon {

/// Whether two header field names are the same (ASCII, case-insensitive).
bool field_name_equals(std::string_view a, std::string_view b);

/// A response to mmsmon's HTTP client.
struct HttpResponse {
  unsigned status = 0;
  std::string fields;  ///< the header fields as "name\0value\0" pairs, as received
  std::string body;
  /// The value of the first field of that name (compared case-insensitively).
  std::optional<std::string_view> header(std::string_view name) const;
};

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
  /// Further header fields (Content-Security-Policy, ...), sent as they are.
  std::vector<std::pair<std::string, std::string>> headers = {};
};

}  // namespace mmsmon

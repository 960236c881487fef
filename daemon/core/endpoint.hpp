#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "core/result.hpp"

namespace mmsmon {

/// An API endpoint: `https://host[:port]` or `http://host[:port]` (no path).
struct Endpoint {
  bool tls = true;
  std::string host;  ///< name or address, without brackets
  std::uint16_t port = 443;
  /// The value of the `host` header: the host, plus `:port` when not the scheme's default.
  std::string host_header() const;
  /// `scheme://host[:port]`, for messages.
  std::string url() const;
};

/// Whether `host` is an IPv4 or IPv6 address literal (no brackets).
bool is_ip_address(std::string_view host);
/// Whether `host` names this machine only: `localhost`, 127.0.0.0/8 or ::1.
bool is_loopback_host(std::string_view host);

/// Parses an endpoint URL. `http://` is allowed (the simulator, loopback tests).
Result<Endpoint> parse_endpoint(std::string_view url);

}  // namespace mmsmon

#include "core/endpoint.hpp"

#include <arpa/inet.h>

#include <algorithm>

namespace mmsmon {

bool is_ip_address(std::string_view host) {
  std::string h(host);
  unsigned char buf[16];
  return inet_pton(AF_INET, h.c_str(), buf) == 1 || inet_pton(AF_INET6, h.c_str(), buf) == 1;
}

bool is_loopback_host(std::string_view host) {
  if (host == "localhost" || host == "::1") return true;
  std::string h(host);
  unsigned char v4[4];
  return inet_pton(AF_INET, h.c_str(), v4) == 1 && v4[0] == 127;
}

std::string Endpoint::host_header() const {
  std::string h = host.find(':') != std::string::npos ? "[" + host + "]" : host;
  if (port != (tls ? 443 : 80)) h += ":" + std::to_string(port);
  return h;
}

std::string Endpoint::url() const {
  return std::string(tls ? "https://" : "http://") + host_header();
}

Result<Endpoint> parse_endpoint(std::string_view url) {
  Endpoint ep;
  std::string_view rest;
  if (url.starts_with("https://")) {
    rest = url.substr(8);
  } else if (url.starts_with("http://")) {
    ep.tls = false;
    ep.port = 80;
    rest = url.substr(7);
  } else {
    return Failure{std::string("endpoint \"") + std::string(url) +
                   "\" must start with https:// (or http:// for a local simulator)"};
  }
  if (!rest.empty() && rest.back() == '/') rest.remove_suffix(1);
  if (rest.find_first_of("/?#@") != std::string_view::npos)
    return Failure{std::string("endpoint \"") + std::string(url) +
                   "\" must be scheme://host[:port] without path, query or user info"};
  std::string_view port;
  if (rest.starts_with("[")) {
    auto close = rest.find(']');
    if (close == std::string_view::npos)
      return Failure{std::string("endpoint \"") + std::string(url) + "\": unclosed '['"};
    ep.host = std::string(rest.substr(1, close - 1));
    auto after = rest.substr(close + 1);
    if (after.starts_with(":"))
      port = after.substr(1);
    else if (!after.empty())
      return Failure{std::string("endpoint \"") + std::string(url) + "\": junk after ']'"};
  } else {
    auto colon = rest.find(':');
    ep.host = std::string(rest.substr(0, colon));
    if (colon != std::string_view::npos) port = rest.substr(colon + 1);
  }
  if (ep.host.empty())
    return Failure{std::string("endpoint \"") + std::string(url) + "\" has no host"};
  if (!port.empty() || rest.ends_with(":")) {
    bool digits =
        !port.empty() && port.size() <= 5 &&
        std::all_of(port.begin(), port.end(), [](char c) { return c >= '0' && c <= '9'; });
    int n = digits ? std::stoi(std::string(port)) : 0;
    if (!digits || n < 1 || n > 65535)
      return Failure{std::string("endpoint \"") + std::string(url) + "\" has an invalid port"};
    ep.port = static_cast<std::uint16_t>(n);
  }
  return ep;
}

}  // namespace mmsmon

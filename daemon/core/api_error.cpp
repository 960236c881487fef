#include "core/api_error.hpp"

#include <boost/json.hpp>
#include <charconv>

namespace mmsmon {
namespace json = boost::json;
using namespace std::chrono;

std::string_view to_string(FailureReason r) {
  switch (r) {
    case FailureReason::throttled:
      return "throttled";
    case FailureReason::auth:
      return "auth";
    case FailureReason::not_found:
      return "not_found";
    case FailureReason::client:
      return "client";
    case FailureReason::server:
      return "server";
    case FailureReason::timeout:
      return "timeout";
    case FailureReason::network:
      return "network";
    case FailureReason::tls:
      return "tls";
    case FailureReason::decode:
      return "decode";
  }
  return "unknown";
}

std::ostream& operator<<(std::ostream& os, FailureReason r) {
  return os << to_string(r);
}

bool is_retryable(FailureReason r) {
  return r == FailureReason::throttled || r == FailureReason::server ||
         r == FailureReason::timeout || r == FailureReason::network;
}

std::optional<RateLimit> parse_rate_limit(std::string_view h) {
  RateLimit rl;
  bool any = false;
  while (!h.empty()) {
    auto comma = h.find(',');
    auto part = h.substr(0, comma);
    h = comma == std::string_view::npos ? std::string_view{} : h.substr(comma + 1);
    while (!part.empty() && part.front() == ' ')
      part.remove_prefix(1);
    auto colon = part.find(':');
    if (colon == std::string_view::npos) continue;
    auto key = part.substr(0, colon);
    auto val = part.substr(colon + 1);
    long long n = 0;
    auto [p, ec] = std::from_chars(val.data(), val.data() + val.size(), n);
    if (ec != std::errc{} || p != val.data() + val.size()) continue;
    if (key == "Limit") rl.limit = n, any = true;
    if (key == "Remain") rl.remain = n, any = true;
    if (key == "TimeLeft" && n >= 0) rl.time_left = milliseconds{n}, any = true;
    if (key == "Reset") rl.reset = n, any = true;
  }
  if (!any) return std::nullopt;
  return rl;
}

std::string ApiError::describe() const {
  std::ostringstream os;
  os << to_string(reason) << ": ";
  if (http_status) os << "HTTP " << http_status << ' ';
  if (!code.empty()) os << code << ": ";
  os << message;
  if (!request_id.empty()) os << " (request id " << request_id << ')';
  return os.str();
}

std::ostream& operator<<(std::ostream& os, const ApiError& e) {
  return os << e.describe();
}

/// Keeps text printable and short: control bytes become '?', at most `max` bytes.
std::string printable_excerpt(std::string_view s, std::size_t max) {
  std::string out;
  for (char c : s.substr(0, max)) {
    auto u = static_cast<unsigned char>(c);
    out += (u < 0x20 || u == 0x7f) ? '?' : c;
  }
  if (s.size() > max) out += "...";
  return out;
}

namespace {

const json::value* member(const json::object& o, std::string_view upper, std::string_view lower) {
  if (auto* v = o.if_contains(upper)) return v;
  return o.if_contains(lower);
}

}  // namespace

std::string api_string_member(const json::object& o, std::string_view upper,
                              std::string_view lower) {
  if (auto* v = member(o, upper, lower))
    if (auto* s = v->if_string()) return printable_excerpt(*s);
  return {};
}

namespace {

bool is_auth_code(std::string_view c) {
  return c.starts_with("InvalidAccessKeyId") || c == "SignatureDoesNotMatch" ||
         c == "IncompleteSignature" || c.starts_with("InvalidTimeStamp") ||
         c.starts_with("InvalidSecurityToken") || c.starts_with("Forbidden") ||
         c == "NoPermission" || c.starts_with("Unauthorized") || c == "InvalidAuthorization";
}

}  // namespace

ApiError classify_error_response(unsigned status, std::string_view body,
                                 const std::optional<RateLimit>& user_api,
                                 const std::optional<RateLimit>& user) {
  ApiError e;
  e.http_status = status;
  boost::system::error_code ec;
  json::value v = json::parse(json::string_view(body.data(), body.size()), ec);
  if (!ec && v.is_object()) {
    const auto& o = v.get_object();
    e.code = api_string_member(o, "Code", "code");
    e.message = api_string_member(o, "Message", "message");
    e.request_id = api_string_member(o, "RequestId", "requestId");
  } else if (!body.empty()) {
    e.message = "non-JSON error body: " + printable_excerpt(body, 120);
  }
  if (e.message.empty()) e.message = "HTTP " + std::to_string(status) + " without a message";

  std::optional<milliseconds> wait;
  bool exhausted = false;
  for (const auto* rl : {&user_api, &user}) {
    if (*rl && (*rl)->remain && *(*rl)->remain <= 0) {
      exhausted = true;
      if ((*rl)->time_left && (!wait || *(*rl)->time_left > *wait)) wait = (*rl)->time_left;
    }
  }
  const std::string& c = e.code;
  if (c.starts_with("Throttling") || status == 429 || exhausted) {
    e.reason = FailureReason::throttled;
    e.retry_after = wait;
  } else if (is_auth_code(c) || (c.empty() && (status == 401 || status == 403))) {
    e.reason = FailureReason::auth;
  } else if (c == "InvalidApi.NotFound" || c == "SignatureNonceUsed") {
    e.reason = FailureReason::client;
  } else if (c.ends_with("NotFound") || c.find("NotExist") != std::string::npos ||
             (c.empty() && status == 404)) {
    e.reason = FailureReason::not_found;
  } else if (status >= 500 || c == "InternalError" || c == "ServiceUnavailable") {
    e.reason = FailureReason::server;
  } else {
    e.reason = FailureReason::client;
  }
  return e;
}

}  // namespace mmsmon

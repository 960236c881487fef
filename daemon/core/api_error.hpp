#pragma once

// API failures: their classification, the rate-limit headers, what a call looked like.

#include <boost/json/fwd.hpp>
#include <chrono>
#include <optional>
#include <ostream>
#include <string>
#include <string_view>

namespace mmsmon {

/// Why an API call failed; these are the `reason` label values of
/// `mmsmon_api_request_failures_total` and so are fixed.
enum class FailureReason {
  throttled,
  auth,
  not_found,
  client,
  server,
  timeout,
  network,
  tls,
  decode
};

std::string_view to_string(FailureReason r);
std::ostream& operator<<(std::ostream& os, FailureReason r);

/// Whether a call that failed this way is worth retrying after a pause.
bool is_retryable(FailureReason r);

/// One `x-ratelimit-*` header: `Limit:1,Remain:0,TimeLeft:2000,Reset:1234`.
struct RateLimit {
  std::optional<long long> limit;
  std::optional<long long> remain;
  std::optional<std::chrono::milliseconds> time_left;
  std::optional<long long> reset;
};
/// Parses a rate-limit header value; fields it does not know are ignored.
std::optional<RateLimit> parse_rate_limit(std::string_view header);

/// A failed API call, classified. No secret ever goes into it.
struct ApiError {
  FailureReason reason = FailureReason::network;
  unsigned http_status = 0;  ///< 0 when no response was received
  std::string code;          ///< the API's `Code`, if any
  std::string message;       ///< the API's `Message` or our own description
  std::string request_id;    ///< the API's `RequestId`, for support tickets
  std::optional<std::chrono::milliseconds> retry_after;  ///< from `TimeLeft` when throttled
  /// One line for logs: `auth: HTTP 400 SignatureDoesNotMatch: ... (request id X)`.
  std::string describe() const;
};
std::ostream& operator<<(std::ostream& os, const ApiError& e);

/// Keeps text printable and short: control bytes become '?', at most `max` bytes (then "...").
std::string printable_excerpt(std::string_view s, std::size_t max = 300);

/// The string member `upper` or `lower` of an API object (the API spells keys both ways),
/// made printable; empty when absent or not a string.
std::string api_string_member(const boost::json::object& o, std::string_view upper,
                              std::string_view lower);

/// Classifies an HTTP error response by its `Code` first, the status second, and the
/// rate-limit headers (`x-ratelimit-user-api`, `x-ratelimit-user`) third.
ApiError classify_error_response(unsigned status, std::string_view body,
                                 const std::optional<RateLimit>& user_api,
                                 const std::optional<RateLimit>& user);

/// What one finished API call looked like, for metrics and throttling decisions.
struct CallOutcome {
  std::string action;
  std::optional<FailureReason> failure;  ///< empty on success
  std::chrono::duration<double> duration{};
  std::optional<RateLimit> rate_limit;  ///< the tighter of the x-ratelimit-* headers, if any
};

}  // namespace mmsmon

#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "core/duration.hpp"
#include "core/endpoint.hpp"
#include "core/result.hpp"
#include "core/signer.hpp"
#include "io/http_message.hpp"

namespace mmsmon {

struct HttpRequest {
  std::string method = "GET";
  std::string target;  ///< encoded path and query
  Params headers;
  std::string body;
};

/// Why a request got no usable response.
enum class TransportFailure { timeout, network, tls, too_large, protocol };

struct TransportError {
  TransportFailure kind = TransportFailure::network;
  std::string message;
  /// The request went out on a kept-alive connection that turned out closed, before any
  /// answer: the caller may send it again (signed anew) on a fresh connection.
  bool stale_connection = false;
};

struct HttpClientOptions {
  /// Deadline of each step: resolve, connect, TLS, write, read. Enforced by a periodic
  /// sweep, so a step may run up to a quarter of it (at most 250 ms) longer.
  Millis timeout{10'000};
  std::optional<std::string> ca_file;  ///< PEM bundle trusted in addition to the system store
  std::size_t max_body = 8u << 20;     ///< a larger response body is an error, never buffered
  std::size_t max_idle = 4;            ///< kept-alive connections held for reuse
};

/// An HTTP/1.1 client for one endpoint with a pool of kept-alive connections.
/// HTTPS verifies the peer against the system CA store (plus `ca_file`), checks the host
/// name, sends SNI and requires TLS 1.2 or later. Single-threaded: use it from the
/// executor it was made on.
class HttpClient {
 public:
  /// Fails when the TLS context cannot be set up (e.g. an unreadable `ca_file`).
  static Result<std::unique_ptr<HttpClient>> create(boost::asio::any_io_executor ex,
                                                    Endpoint endpoint, HttpClientOptions opt);
  ~HttpClient();
  HttpClient(const HttpClient&) = delete;
  HttpClient& operator=(const HttpClient&) = delete;

  /// Sends one request. Never throws for network conditions. A failure on a reused
  /// connection before any answer is flagged `stale_connection` (and that connection is
  /// dropped, so a new attempt opens a fresh one).
  /// `deadline`, when given, bounds the whole exchange as well: every step ends by it.
  boost::asio::awaitable<Result<HttpResponse, TransportError>> send(
      HttpRequest req, std::optional<std::chrono::steady_clock::time_point> deadline = {});
  /// api.timeout: the deadline of each step.
  Millis timeout() const;

  /// Ends every exchange under way at once (as if its deadline had passed): for shutdown.
  void cancel_all();

  /// Connections opened so far (for tests and metrics).
  std::uint64_t connections_opened() const;
  const Endpoint& endpoint() const;

  struct Impl;

 private:
  explicit HttpClient(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace mmsmon

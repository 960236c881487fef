#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "core/config.hpp"
#include "core/result.hpp"
#include "io/http_message.hpp"

namespace mmsmon {

/// Limits of the HTTP server: what one connection may hold, and for how long.
struct HttpServerLimits {
  std::size_t max_connections = 64;
  /// Bytes a connection may buffer (request line, headers, chunk sizes and extensions,
  /// body): a request that needs more is refused and the connection closed.
  std::size_t max_buffer = 96 * 1024;
  std::size_t max_header = 16 * 1024;
  std::size_t max_body = 64 * 1024;
  std::chrono::milliseconds request_timeout{10'000};  ///< to read a request once it began
  std::chrono::milliseconds idle_timeout{60'000};     ///< kept alive between requests
  std::chrono::milliseconds write_timeout{30'000};    ///< to write a response
  std::chrono::milliseconds accept_pause{100};        ///< after an accept error (EMFILE)
};

/// A small HTTP/1.1 server on the event loop for /metrics and friends. Every connection
/// has deadlines and a bounded buffer. When all `max_connections` are taken, a new one
/// replaces the connection that has been idle the longest (a scrape gets through while idle
/// or slow clients hold the rest); if none is idle, the new one is closed. HEAD answers with
/// the real Content-Length and no body. With `web.tls_server_config` it speaks HTTPS only
/// (TLS 1.2 or later; a plain-HTTP client fails its handshake and is closed); with
/// `web.basic_auth_users` every request needs a user and password (bcrypt, checked with the
/// system's crypt_r), except /-/healthy when `health_without_auth`.
class HttpServer {
 public:
  using Handler = std::function<ServerResponse(const ServerRequest&)>;

  /// Binds `listen` (`host:port`; port 0 picks a free one). Fails with a message.
  static Result<std::unique_ptr<HttpServer>> create(boost::asio::any_io_executor ex,
                                                    const std::string& listen, Handler handler,
                                                    HttpServerLimits limits = {},
                                                    WebConfig web = {});
  /// New TLS and auth settings for the connections to come (a reload rereads the
  /// certificate and key). Fails, keeping the old ones, when they cannot be loaded.
  Result<bool> set_web(const WebConfig& web);
  /// Called for each request refused for a missing or wrong user or password.
  void on_auth_failure(std::function<void()> f);
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  /// The bound port.
  std::uint16_t port() const;
  /// Starts accepting.
  void start();
  /// Stops accepting; open connections end after their current request.
  void stop();

  struct Impl;

 private:
  explicit HttpServer(std::shared_ptr<Impl> impl);
  std::shared_ptr<Impl> impl_;
};

}  // namespace mmsmon

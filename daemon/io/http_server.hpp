#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "core/result.hpp"
#include "io/http_message.hpp"

namespace mmsmon {

/// A small HTTP/1.1 server on the event loop for /metrics and friends. Each connection
/// has an idle deadline, requests are size-limited, and at most `max_connections` are
/// served at once (more are closed at accept).
class HttpServer {
 public:
  using Handler = std::function<ServerResponse(const ServerRequest&)>;

  /// Binds `listen` (`host:port`; port 0 picks a free one). Fails with a message.
  static Result<std::unique_ptr<HttpServer>> create(boost::asio::any_io_executor ex,
                                                    const std::string& listen, Handler handler);
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

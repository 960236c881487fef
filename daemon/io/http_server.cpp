#include "io/http_server.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

namespace mmsmon {
namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);

struct HttpServer::Impl {
  explicit Impl(asio::any_io_executor ex) : acceptor(ex) {}
  tcp::acceptor acceptor;
  Handler handler;
  std::size_t connections = 0;
  std::size_t max_connections = 64;
  bool stopping = false;
};

namespace {

using ImplPtr = std::shared_ptr<HttpServer::Impl>;

asio::awaitable<void> session(ImplPtr srv, tcp::socket sock) {
  beast::tcp_stream stream(std::move(sock));
  beast::flat_buffer buf;
  for (;;) {
    http::request_parser<http::string_body> p;
    p.header_limit(16 * 1024);
    p.body_limit(64 * 1024);
    stream.expires_after(std::chrono::seconds(30));
    auto [ec, n] = co_await http::async_read(stream, buf, p, use_tuple);
    if (ec) break;
    auto& req = p.get();
    ServerResponse r = srv->handler(ServerRequest{req.method_string(), req.target()});
    http::response<http::string_body> res{static_cast<http::status>(r.status), req.version()};
    res.set(http::field::server, "mmsmon");
    res.set(http::field::content_type, r.content_type);
    res.set(http::field::cache_control, "no-store");
    res.keep_alive(req.keep_alive() && !srv->stopping);
    if (req.method() != http::verb::head) res.body() = std::move(r.body);
    res.prepare_payload();
    stream.expires_after(std::chrono::seconds(30));
    auto [wec, wn] = co_await http::async_write(stream, res, use_tuple);
    if (wec || !res.keep_alive()) break;
  }
  boost::system::error_code ignored;
  stream.socket().shutdown(tcp::socket::shutdown_send, ignored);
}

asio::awaitable<void> accept_loop(ImplPtr srv) {
  while (!srv->stopping) {
    auto [ec, sock] = co_await srv->acceptor.async_accept(use_tuple);
    if (ec) {
      if (ec == asio::error::operation_aborted || srv->stopping) co_return;
      continue;  // e.g. EMFILE: keep serving the connections we have
    }
    if (srv->connections >= srv->max_connections) continue;  // closes `sock`
    ++srv->connections;
    asio::co_spawn(srv->acceptor.get_executor(), session(srv, std::move(sock)),
                   [srv](std::exception_ptr) { --srv->connections; });
  }
}

}  // namespace

HttpServer::HttpServer(std::shared_ptr<Impl> impl) : impl_(std::move(impl)) {}

HttpServer::~HttpServer() {
  stop();
}

Result<std::unique_ptr<HttpServer>> HttpServer::create(asio::any_io_executor ex,
                                                       const std::string& listen, Handler handler) {
  auto colon = listen.rfind(':');
  std::string host = listen.substr(0, colon);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']')
    host = host.substr(1, host.size() - 2);
  boost::system::error_code ec;
  auto addr = asio::ip::make_address(host.empty() ? "0.0.0.0" : host, ec);
  if (ec) return Failure{"listen: \"" + host + "\" is not an IP address"};
  auto port = static_cast<std::uint16_t>(std::stoi(listen.substr(colon + 1)));
  auto impl = std::make_shared<Impl>(ex);
  impl->handler = std::move(handler);
  tcp::endpoint ep(addr, port);
  impl->acceptor.open(ep.protocol(), ec);
  if (!ec) impl->acceptor.set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) impl->acceptor.bind(ep, ec);
  if (!ec) impl->acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) return Failure{"cannot listen on " + listen + ": " + ec.message()};
  return std::unique_ptr<HttpServer>(new HttpServer(std::move(impl)));
}

std::uint16_t HttpServer::port() const {
  return impl_->acceptor.local_endpoint().port();
}

void HttpServer::start() {
  asio::co_spawn(impl_->acceptor.get_executor(), accept_loop(impl_), asio::detached);
}

void HttpServer::stop() {
  if (!impl_ || impl_->stopping) return;
  impl_->stopping = true;
  boost::system::error_code ec;
  impl_->acceptor.close(ec);
}

}  // namespace mmsmon

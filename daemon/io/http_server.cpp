#include "io/http_server.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <list>

namespace mmsmon {
namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
using std::chrono::steady_clock;
constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);

namespace {

/// One client connection, as the server sees it for its connection limit.
struct Conn {
  explicit Conn(tcp::socket s) : stream(std::move(s)) {}
  beast::tcp_stream stream;
  bool idle = true;  ///< waiting for a request to begin
  steady_clock::time_point idle_since = steady_clock::now();
};

}  // namespace

struct HttpServer::Impl {
  explicit Impl(asio::any_io_executor ex) : acceptor(ex), pause(ex) {}
  tcp::acceptor acceptor;
  asio::steady_timer pause;
  Handler handler;
  HttpServerLimits limits;
  std::list<std::shared_ptr<Conn>> conns;
  bool stopping = false;

  /// Makes room for a new connection by closing the one idle the longest, if any.
  bool evict_idle() {
    std::shared_ptr<Conn> oldest;
    for (const auto& c : conns)
      if (c->idle && (!oldest || c->idle_since < oldest->idle_since)) oldest = c;
    if (!oldest) return false;
    boost::system::error_code ignored;
    oldest->stream.socket().close(ignored);  // its pending read ends
    conns.remove(oldest);
    return true;
  }
};

namespace {

using ImplPtr = std::shared_ptr<HttpServer::Impl>;

asio::awaitable<void> session(ImplPtr srv, std::shared_ptr<Conn> conn) {
  auto& stream = conn->stream;
  const auto& lim = srv->limits;
  // Bounded: a request needing more (an endless chunk extension, say) fails the read.
  beast::flat_buffer buf(lim.max_buffer);
  for (;;) {
    conn->idle = true;
    conn->idle_since = steady_clock::now();
    if (buf.size() == 0) {
      // Between requests: wait for the next one to begin, for at most idle_timeout.
      stream.expires_after(lim.idle_timeout);
      auto [ec, n] = co_await stream.async_read_some(buf.prepare(lim.max_buffer), use_tuple);
      if (ec) break;
      buf.commit(n);
    }
    conn->idle = false;
    http::request_parser<http::string_body> p;
    p.header_limit(static_cast<std::uint32_t>(lim.max_header));
    p.body_limit(lim.max_body);
    stream.expires_after(lim.request_timeout);
    auto [ec, n] = co_await http::async_read(stream, buf, p, use_tuple);
    if (ec) break;
    auto& req = p.get();
    ServerResponse r = srv->handler(ServerRequest{req.method_string(), req.target()});
    http::response<http::string_body> res{static_cast<http::status>(r.status), req.version()};
    res.set(http::field::server, "mmsmon");
    res.set(http::field::content_type, r.content_type);
    res.set(http::field::cache_control, "no-store");
    res.keep_alive(req.keep_alive() && !srv->stopping);
    bool head = req.method() == http::verb::head;
    std::size_t length = r.body.size();
    res.body() = head ? std::string() : std::move(r.body);
    res.prepare_payload();
    if (head) res.content_length(length);  // what a GET would send, without the body
    stream.expires_after(lim.write_timeout);
    http::response_serializer<http::string_body> sr{res};
    if (head) sr.split(true);
    auto [wec, wn] = head ? co_await http::async_write_header(stream, sr, use_tuple)
                          : co_await http::async_write(stream, sr, use_tuple);
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
      // E.g. EMFILE: the pending connection stays queued; retrying at once would spin.
      srv->pause.expires_after(srv->limits.accept_pause);
      co_await srv->pause.async_wait(use_tuple);
      continue;
    }
    if (srv->conns.size() >= srv->limits.max_connections && !srv->evict_idle())
      continue;  // every connection is busy: this one is closed
    auto conn = std::make_shared<Conn>(std::move(sock));
    srv->conns.push_back(conn);
    asio::co_spawn(srv->acceptor.get_executor(), session(srv, conn),
                   [srv, conn](std::exception_ptr) { srv->conns.remove(conn); });
  }
}

}  // namespace

HttpServer::HttpServer(std::shared_ptr<Impl> impl) : impl_(std::move(impl)) {}

HttpServer::~HttpServer() {
  stop();
}

Result<std::unique_ptr<HttpServer>> HttpServer::create(asio::any_io_executor ex,
                                                       const std::string& listen, Handler handler,
                                                       HttpServerLimits limits) {
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
  impl->limits = limits;
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
  impl_->pause.cancel();
}

}  // namespace mmsmon

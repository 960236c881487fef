#include "io/http_server.hpp"

#include <crypt.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <list>
#include <map>

#include "core/signer.hpp"

namespace mmsmon {
namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace ssl = asio::ssl;
using tcp = asio::ip::tcp;
using std::chrono::steady_clock;
constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);

namespace {

/// One client connection, as the server sees it for its connection limit.
struct Conn {
  explicit Conn(tcp::socket s) : socket(std::move(s)) {}
  tcp::socket socket;  ///< moved into the session's stream; kept for closing
  tcp::socket* live = &socket;
  bool idle = true;  ///< waiting for a request to begin
  steady_clock::time_point idle_since = steady_clock::now();
};

std::optional<std::string> base64_decode(std::string_view in) {
  auto val = [](char c) -> int {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+') return 62;
    if (c == '/') return 63;
    return -1;
  };
  std::string out;
  unsigned buf = 0;
  int bits = 0;
  for (char c : in) {
    if (c == '=') break;
    int v = val(c);
    if (v < 0) return std::nullopt;
    buf = (buf << 6) | static_cast<unsigned>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out += static_cast<char>((buf >> bits) & 0xff);
    }
  }
  return out;
}

/// The TLS and auth settings in force for new connections.
struct Security {
  std::shared_ptr<ssl::context> tls;                      ///< empty: plain HTTP
  std::map<std::string, std::string, std::less<>> users;  ///< user -> bcrypt hash
  bool health_without_auth = false;
  /// SHA-256 of passwords that passed bcrypt, per user: bcrypt costs ~50 ms a check, a
  /// scrape every 15 s should not pay it each time.
  std::map<std::string, std::string, std::less<>> verified;
};

Result<std::shared_ptr<ssl::context>> make_tls(const WebConfig::Tls& t) {
  auto ctx = std::make_shared<ssl::context>(ssl::context::tls_server);
  boost::system::error_code ec;
  ctx->set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 |
                       ssl::context::no_sslv3 | ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1 |
                       ssl::context::single_dh_use,
                   ec);
  SSL_CTX_set_min_proto_version(ctx->native_handle(),
                                t.tls13_only ? TLS1_3_VERSION : TLS1_2_VERSION);
  ctx->use_certificate_chain_file(t.cert_file, ec);
  if (ec) return Failure{"web.tls_server_config.cert_file " + t.cert_file + ": " + ec.message()};
  ctx->use_private_key_file(t.key_file, ssl::context::pem, ec);
  if (ec) return Failure{"web.tls_server_config.key_file " + t.key_file + ": " + ec.message()};
  if (t.client_ca_file) {
    ctx->load_verify_file(*t.client_ca_file, ec);
    if (ec)
      return Failure{"web.tls_server_config.client_ca_file " + *t.client_ca_file + ": " +
                     ec.message()};
  }
  using CA = WebConfig::ClientAuth;
  switch (t.client_auth) {
    case CA::none:
      ctx->set_verify_mode(ssl::verify_none);
      break;
    case CA::request:
    case CA::verify_if_given:
      ctx->set_verify_mode(ssl::verify_peer);
      break;
    case CA::require_any:
    case CA::require_and_verify:
      ctx->set_verify_mode(ssl::verify_peer | ssl::verify_fail_if_no_peer_cert);
      break;
  }
  if (t.client_auth == CA::request || t.client_auth == CA::require_any)
    // Any certificate will do: a client that shows one is accepted, verified or not.
    ctx->set_verify_callback([](bool, ssl::verify_context&) { return true; });
  return ctx;
}

}  // namespace

struct HttpServer::Impl {
  explicit Impl(asio::any_io_executor ex) : acceptor(ex), pause(ex) {}
  tcp::acceptor acceptor;
  asio::steady_timer pause;
  Handler handler;
  HttpServerLimits limits;
  std::shared_ptr<Security> security = std::make_shared<Security>();
  std::function<void()> on_auth_failure;
  std::list<std::shared_ptr<Conn>> conns;
  bool stopping = false;

  /// Makes room for a new connection by closing the one idle the longest, if any.
  bool evict_idle() {
    std::shared_ptr<Conn> oldest;
    for (const auto& c : conns)
      if (c->idle && (!oldest || c->idle_since < oldest->idle_since)) oldest = c;
    if (!oldest) return false;
    boost::system::error_code ignored;
    oldest->live->close(ignored);  // its pending read ends
    conns.remove(oldest);
    return true;
  }

  /// Whether the request may pass; answers 401 in `r` when it may not.
  bool authorized(const http::request<http::string_body>& req, std::string_view path, Security& sec,
                  ServerResponse& r) {
    if (sec.users.empty()) return true;
    if (path == "/-/healthy" && sec.health_without_auth) return true;
    std::string_view auth = req[http::field::authorization];
    if (auth.starts_with("Basic ")) {
      if (auto decoded = base64_decode(auth.substr(6))) {
        auto colon = decoded->find(':');
        if (colon != std::string::npos) {
          std::string user = decoded->substr(0, colon), pass = decoded->substr(colon + 1);
          auto it = sec.users.find(user);
          if (it != sec.users.end()) {
            std::string digest = sha256_hex(pass);
            auto seen = sec.verified.find(user);
            if (seen != sec.verified.end() && seen->second == digest) return true;
            crypt_data data{};
            const char* h = crypt_r(pass.c_str(), it->second.c_str(), &data);
            if (h && it->second == h) {
              sec.verified[user] = digest;
              return true;
            }
          }
        }
      }
    }
    if (on_auth_failure) on_auth_failure();
    r = ServerResponse{401, "text/plain; charset=utf-8", "unauthorized\n"};
    return false;
  }
};

namespace {

using ImplPtr = std::shared_ptr<HttpServer::Impl>;

beast::tcp_stream& lowest(beast::tcp_stream& s) {
  return s;
}
beast::tcp_stream& lowest(beast::ssl_stream<beast::tcp_stream>& s) {
  return s.next_layer();
}

template <class Stream>
asio::awaitable<void> serve(ImplPtr srv, std::shared_ptr<Conn> conn, Stream& stream,
                            std::shared_ptr<Security> sec) {
  const auto& lim = srv->limits;
  // Bounded: a request needing more (an endless chunk extension, say) fails the read.
  beast::flat_buffer buf(lim.max_buffer);
  for (;;) {
    conn->idle = true;
    conn->idle_since = steady_clock::now();
    if (buf.size() == 0) {
      // Between requests: wait for the next one to begin, for at most idle_timeout.
      lowest(stream).expires_after(lim.idle_timeout);
      auto [ec, n] = co_await stream.async_read_some(buf.prepare(lim.max_buffer), use_tuple);
      if (ec) co_return;
      buf.commit(n);
    }
    conn->idle = false;
    http::request_parser<http::string_body> p;
    p.header_limit(static_cast<std::uint32_t>(lim.max_header));
    p.body_limit(lim.max_body);
    lowest(stream).expires_after(lim.request_timeout);
    auto [ec, n] = co_await http::async_read(stream, buf, p, use_tuple);
    if (ec) co_return;
    auto& req = p.get();
    std::string_view target = req.target();
    std::string_view path = target.substr(0, target.find('?'));
    ServerResponse r;
    if (srv->authorized(req, path, *sec, r))
      r = srv->handler(ServerRequest{req.method_string(), target});
    http::response<http::string_body> res{static_cast<http::status>(r.status), req.version()};
    res.set(http::field::server, "mmsmon");
    res.set(http::field::content_type, r.content_type);
    res.set(http::field::cache_control, "no-store");
    res.set("X-Content-Type-Options", "nosniff");
    for (const auto& [name, value] : r.headers)
      res.set(name, value);
    if (r.status == 401) res.set(http::field::www_authenticate, "Basic realm=\"mmsmon\"");
    res.keep_alive(req.keep_alive() && !srv->stopping);
    bool head = req.method() == http::verb::head;
    std::size_t length = r.body.size();
    res.body() = head ? std::string() : std::move(r.body);
    res.prepare_payload();
    if (head) res.content_length(length);  // what a GET would send, without the body
    lowest(stream).expires_after(lim.write_timeout);
    http::response_serializer<http::string_body> sr{res};
    if (head) sr.split(true);
    boost::system::error_code wec;
    std::size_t wn = 0;
    if (head)
      std::tie(wec, wn) = co_await http::async_write_header(stream, sr, use_tuple);
    else
      std::tie(wec, wn) = co_await http::async_write(stream, sr, use_tuple);
    if (wec || !res.keep_alive()) co_return;
  }
}

asio::awaitable<void> session(ImplPtr srv, std::shared_ptr<Conn> conn) {
  auto sec = srv->security;  // the settings when the connection came
  if (!sec->tls) {
    beast::tcp_stream stream(std::move(conn->socket));
    conn->live = &stream.socket();
    co_await serve(srv, conn, stream, sec);
    boost::system::error_code ignored;
    stream.socket().shutdown(tcp::socket::shutdown_send, ignored);
    co_return;
  }
  beast::ssl_stream<beast::tcp_stream> stream(beast::tcp_stream(std::move(conn->socket)),
                                              *sec->tls);
  conn->live = &stream.next_layer().socket();
  conn->idle = false;
  stream.next_layer().expires_after(srv->limits.request_timeout);
  auto [ec] = co_await stream.async_handshake(ssl::stream_base::server, use_tuple);
  if (ec) co_return;  // e.g. plain HTTP to the TLS port: closed
  co_await serve(srv, conn, stream, sec);
  stream.next_layer().expires_after(std::chrono::seconds(1));
  co_await stream.async_shutdown(use_tuple);
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
                                                       HttpServerLimits limits, WebConfig web) {
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
  std::unique_ptr<HttpServer> server(new HttpServer(impl));
  if (auto r = server->set_web(web); !r) return Failure{r.error()};
  tcp::endpoint ep(addr, port);
  impl->acceptor.open(ep.protocol(), ec);
  if (!ec) impl->acceptor.set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) impl->acceptor.bind(ep, ec);
  if (!ec) impl->acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) return Failure{"cannot listen on " + listen + ": " + ec.message()};
  return server;
}

Result<bool> HttpServer::set_web(const WebConfig& web) {
  auto sec = std::make_shared<Security>();
  if (web.tls) {
    auto ctx = make_tls(*web.tls);
    if (!ctx) return Failure{ctx.error()};
    sec->tls = std::move(ctx).value();
  }
  for (const auto& [user, hash] : web.basic_auth_users)
    sec->users.emplace(user, hash);
  sec->health_without_auth = web.health_without_auth;
  impl_->security = std::move(sec);
  return true;
}

void HttpServer::on_auth_failure(std::function<void()> f) {
  impl_->on_auth_failure = std::move(f);
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

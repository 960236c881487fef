// mms-sim: a small server that behaves like the MMS OpenAPI, for tests, benchmarks and the
// demo. See tests/sim/README.md.
#include <boost/asio.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <boost/json.hpp>
#include <fstream>
#include <iostream>
#include <sstream>

#include "sim_model.hpp"

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace ssl = asio::ssl;
namespace json = boost::json;
using tcp = asio::ip::tcp;
using asio::awaitable;
constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);

namespace {

using mmsmon::sim::Model;
using mmsmon::sim::SimRequest;
using mmsmon::sim::SimResponse;

struct Server {
  Model model;
  std::chrono::steady_clock::time_point started = std::chrono::steady_clock::now();
  bool log_requests = false;

  double elapsed() const {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  }
};

/// Whether the client has closed its end (an orderly shutdown or a reset) without waiting for
/// the answer.
bool client_hung_up(tcp::socket::lowest_layer_type& sock) {
  char c;
  ssize_t n = ::recv(sock.native_handle(), &c, 1, MSG_PEEK | MSG_DONTWAIT);
  return n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK);
}

template <class Stream>
awaitable<void> write_response(Stream& s, tcp::socket::lowest_layer_type& sock,
                               const SimResponse& r, bool keep_alive, bool& close, bool& written,
                               bool& abandoned) {
  auto ex = co_await asio::this_coro::executor;
  if (r.delay > 0) {
    asio::steady_timer t(ex, std::chrono::duration_cast<std::chrono::steady_clock::duration>(
                                 std::chrono::duration<double>(r.delay)));
    co_await t.async_wait(use_tuple);
  }
  if (client_hung_up(sock)) {
    abandoned = true;
    close = true;
    co_return;
  }
  if (r.reset) {
    // An abortive close: the peer sees a connection reset, not a clean end.
    boost::system::error_code ec;
    sock.set_option(asio::socket_base::linger(true, 0), ec);
    sock.close(ec);
    close = true;
    co_return;
  }
  if (!r.endless.empty()) {
    // Chunked framing that never ends: a chunk-size line whose extension goes on, or a
    // trailer that does; 64 MB of it, then the connection closes.
    std::string head =
        "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n";
    head += r.endless == "trailer" ? "0\r\nX-Trailer: " : "1;ext=";
    auto [hec, hn] = co_await asio::async_write(s, asio::buffer(head), use_tuple);
    std::string chunk(64 * 1024, 'x');
    boost::system::error_code ec = hec;
    for (int i = 0; !ec && i < 1024; ++i) {
      auto [wec, wn] = co_await asio::async_write(s, asio::buffer(chunk), use_tuple);
      ec = wec;
    }
    close = true;
    co_return;
  }
  if (r.huge_body) {
    // Stream a body of the announced size without holding it in memory.
    http::response<http::empty_body> h{http::status::ok, 11};
    h.set(http::field::content_type, "application/json");
    h.content_length(r.huge_body);
    http::response_serializer<http::empty_body> sr{h};
    auto [ec, n] = co_await http::async_write_header(s, sr, use_tuple);
    std::string chunk(64 * 1024, ' ');
    std::uint64_t left = r.huge_body;
    while (!ec && left > 0) {
      auto k = static_cast<std::size_t>(std::min<std::uint64_t>(left, chunk.size()));
      auto [wec, wn] = co_await asio::async_write(s, asio::buffer(chunk.data(), k), use_tuple);
      ec = wec;
      left -= k;
    }
    close = true;
    co_return;
  }
  http::response<http::string_body> res{static_cast<http::status>(r.status), 11};
  for (const auto& [k, v] : r.headers)
    res.set(k, v);
  res.set(http::field::server, "mms-sim");
  if (r.truncated) {
    // Announce the whole body, send half, then hang up.
    res.body() = r.body.substr(0, r.body.size() / 2);
    res.content_length(r.body.size());
    res.keep_alive(false);
    http::response_serializer<http::string_body> sr{res};
    co_await http::async_write(s, sr, use_tuple);
    close = true;
    co_return;
  }
  res.body() = r.body;
  res.keep_alive(keep_alive);
  res.prepare_payload();
  auto [ec, n] = co_await http::async_write(s, res, use_tuple);
  close = ec || !keep_alive;
  written = !ec;
}

template <class Stream>
awaitable<void> serve(Server& srv, Stream& s, tcp::socket::lowest_layer_type& sock) {
  beast::flat_buffer buf;
  for (;;) {
    http::request_parser<http::string_body> p;
    p.body_limit(1 << 20);
    auto [ec, n] = co_await http::async_read(s, buf, p, use_tuple);
    if (ec) co_return;
    auto& msg = p.get();
    SimRequest req;
    req.method = std::string(msg.method_string());
    req.target = std::string(msg.target());
    for (const auto& f : msg) {
      std::string name(f.name_string());
      for (auto& c : name)
        c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      req.headers.emplace_back(std::move(name), std::string(f.value()));
    }
    req.body = std::move(msg.body());
    bool admin = req.target.starts_with("/admin/");
    auto& stats = srv.model.stats;
    if (!admin) stats.max_in_flight = std::max(stats.max_in_flight, ++stats.in_flight);
    auto wall = std::chrono::system_clock::now();
    std::optional<SimResponse> service;
    if (!admin) service = srv.model.handle_credential_service(req, wall);
    SimResponse r = admin     ? srv.model.handle_admin(req, srv.elapsed())
                    : service ? std::move(*service)
                              : srv.model.handle_api(req, srv.elapsed(), wall);
    if (srv.log_requests)
      std::cerr << "mms-sim: " << req.method << ' ' << req.target << " -> " << r.status << '\n';
    bool close = false, written = false, abandoned = false;
    co_await write_response(s, sock, r, msg.keep_alive(), close, written, abandoned);
    if (!admin) {
      --stats.in_flight;
      stats.answered += written;
      stats.abandoned += abandoned;
    }
    if (close) co_return;
  }
}

awaitable<void> session(Server& srv, tcp::socket sock, ssl::context* tls) {
  ++srv.model.stats.connections;
  if (tls) {
    ssl::stream<tcp::socket> s(std::move(sock), *tls);
    auto [ec] = co_await s.async_handshake(ssl::stream_base::server, use_tuple);
    if (ec) co_return;
    // What the client asked for: the host name it sent (SNI) and the version agreed on.
    const char* sni = SSL_get_servername(s.native_handle(), TLSEXT_NAMETYPE_host_name);
    if (sni) srv.model.stats.sni_names.insert(sni);
    srv.model.stats.last_tls_version = SSL_get_version(s.native_handle());
    co_await serve(srv, s, s.next_layer());
    co_await s.async_shutdown(use_tuple);
  } else {
    co_await serve(srv, sock, sock);
    boost::system::error_code ec;
    sock.shutdown(tcp::socket::shutdown_send, ec);
  }
}

awaitable<void> accept_loop(Server& srv, tcp::acceptor& acc, ssl::context* tls) {
  for (;;) {
    auto [ec, sock] = co_await acc.async_accept(use_tuple);
    if (ec) {
      if (ec == asio::error::operation_aborted) co_return;
      continue;
    }
    asio::co_spawn(acc.get_executor(), session(srv, std::move(sock), tls),
                   [](std::exception_ptr e) {
                     if (!e) return;
                     try {
                       std::rethrow_exception(e);
                     } catch (const std::exception& ex) {
                       std::cerr << "mms-sim: session error: " << ex.what() << '\n';
                     }
                   });
  }
}

int usage() {
  std::cerr << "usage: mms-sim [--listen HOST:PORT] [--scenario FILE] [--port-file PATH]\n"
               "               [--tls-cert PEM --tls-key PEM [--tls-max-version 1.1]]\n"
               "               [--no-verify] [--log-requests]\n";
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  std::string listen = "127.0.0.1:0", scenario, port_file, cert, key, tls_max;
  bool no_verify = false, log_requests = false;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto next = [&]() -> std::string { return i + 1 < argc ? argv[++i] : ""; };
    if (a == "--listen")
      listen = next();
    else if (a == "--scenario")
      scenario = next();
    else if (a == "--port-file")
      port_file = next();
    else if (a == "--tls-cert")
      cert = next();
    else if (a == "--tls-key")
      key = next();
    else if (a == "--tls-max-version")
      tls_max = next();
    else if (a == "--no-verify")
      no_verify = true;
    else if (a == "--log-requests")
      log_requests = true;
    else
      return usage();
  }
  json::value sc = json::object{};
  if (!scenario.empty()) {
    std::ifstream in(scenario);
    if (!in) {
      std::cerr << "mms-sim: cannot read " << scenario << '\n';
      return 1;
    }
    std::stringstream ss;
    ss << in.rdbuf();
    json::parse_options po;
    po.allow_comments = true;
    po.allow_trailing_commas = true;
    boost::system::error_code ec;
    sc = json::parse(ss.str(), ec, {}, po);
    if (ec) {
      std::cerr << "mms-sim: " << scenario << ": " << ec.message() << '\n';
      return 1;
    }
  }
  auto model = Model::from_scenario(sc);
  if (!model) {
    std::cerr << "mms-sim: " << scenario << ": " << model.error() << '\n';
    return 1;
  }
  Server srv{std::move(model).value()};
  srv.log_requests = log_requests;
  if (no_verify) srv.model.verify_signatures = false;

  asio::io_context io;
  std::optional<ssl::context> tls;
  if (!cert.empty()) {
    tls.emplace(ssl::context::tls_server);
    tls->use_certificate_chain_file(cert);
    tls->use_private_key_file(key, ssl::context::pem);
    if (tls_max == "1.1") {
      // An old server: TLS 1.1 at most (and the security level that still allows it).
      SSL_CTX_set_security_level(tls->native_handle(), 0);
      SSL_CTX_set_max_proto_version(tls->native_handle(), TLS1_1_VERSION);
    } else if (!tls_max.empty()) {
      return usage();
    }
  }
  auto colon = listen.rfind(':');
  if (colon == std::string::npos) return usage();
  tcp::endpoint ep(asio::ip::make_address(listen.substr(0, colon)),
                   static_cast<unsigned short>(std::stoi(listen.substr(colon + 1))));
  tcp::acceptor acc(io, ep);
  auto port = acc.local_endpoint().port();
  if (!port_file.empty()) {
    std::ofstream pf(port_file);
    pf << port << '\n';
  }
  std::cerr << "mms-sim: listening on " << (tls ? "https" : "http") << "://"
            << acc.local_endpoint().address().to_string() << ':' << port << '\n';
  asio::signal_set signals(io, SIGINT, SIGTERM);
  signals.async_wait([&](auto, int) {
    boost::system::error_code ec;
    acc.close(ec);
    io.stop();
  });
  asio::co_spawn(io, accept_loop(srv, acc, tls ? &*tls : nullptr), asio::detached);
  io.run();
  return 0;
}

#include "io/http_client.hpp"

#include <openssl/ssl.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <vector>

namespace mmsmon {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace ssl = asio::ssl;
using tcp = asio::ip::tcp;
using asio::awaitable;
constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);

std::optional<std::string> HttpResponse::header(std::string_view name) const {
  for (const auto& [k, v] : headers)
    if (k == name) return v;
  return std::nullopt;
}

namespace {

struct Conn {
  explicit Conn(asio::any_io_executor ex) : plain(ex) {}
  Conn(asio::any_io_executor ex, ssl::context& ctx) : plain(ex) {
    tls.emplace(std::move(plain), ctx);
  }
  beast::tcp_stream plain;  // moved-from once `tls` owns the socket
  std::optional<ssl::stream<beast::tcp_stream>> tls;
  beast::flat_buffer buf;
  beast::tcp_stream& lowest() { return tls ? tls->next_layer() : plain; }
};

TransportError classify(const boost::system::error_code& ec, std::string_view step) {
  TransportError e;
  e.message = std::string(step) + ": " + ec.message();
  if (ec == beast::error::timeout || ec == asio::error::timed_out) {
    e.kind = TransportFailure::timeout;
    e.message = std::string(step) + ": deadline exceeded";
  } else if (ec.category() == asio::error::get_ssl_category() ||
             ec.category() == ssl::error::get_stream_category()) {
    e.kind = TransportFailure::tls;
  } else if (ec == http::error::body_limit) {
    e.kind = TransportFailure::too_large;
  } else if (ec == http::error::end_of_stream || ec == http::error::partial_message ||
             ec == asio::error::eof ||
             ec.category() != http::make_error_code(http::error::end_of_stream).category()) {
    e.kind = TransportFailure::network;
  } else {
    e.kind = TransportFailure::protocol;
  }
  return e;
}

bool is_ip_literal(const std::string& host) {
  boost::system::error_code ec;
  asio::ip::make_address(host, ec);
  return !ec;
}

}  // namespace

struct HttpClient::Impl {
  asio::any_io_executor ex;
  Endpoint ep;
  HttpClientOptions opt;
  std::optional<ssl::context> ctx;
  std::vector<std::unique_ptr<Conn>> idle;
  std::uint64_t opened = 0;

  awaitable<Result<std::unique_ptr<Conn>, TransportError>> connect() {
    using namespace asio::experimental::awaitable_operators;
    tcp::resolver resolver(ex);
    asio::steady_timer timer(ex, opt.timeout);
    auto raced = co_await (resolver.async_resolve(ep.host, std::to_string(ep.port), use_tuple) ||
                           timer.async_wait(use_tuple));
    if (raced.index() == 1)
      co_return Failure{
          TransportError{TransportFailure::timeout, "resolve " + ep.host + ": deadline exceeded"}};
    auto [rec, results] = std::get<0>(raced);
    if (rec)
      co_return Failure{
          TransportError{TransportFailure::network, "resolve " + ep.host + ": " + rec.message()}};

    auto c = ctx ? std::make_unique<Conn>(ex, *ctx) : std::make_unique<Conn>(ex);
    c->lowest().expires_after(opt.timeout);
    auto [cec, where] = co_await c->lowest().async_connect(results, use_tuple);
    if (cec) co_return Failure{classify(cec, "connect " + ep.url())};
    ++opened;
    if (c->tls) {
      if (!is_ip_literal(ep.host) &&
          !SSL_set_tlsext_host_name(c->tls->native_handle(), ep.host.c_str()))
        co_return Failure{TransportError{TransportFailure::tls, "cannot set SNI"}};
      c->tls->set_verify_mode(ssl::verify_peer);
      c->tls->set_verify_callback(ssl::host_name_verification(ep.host));
      c->lowest().expires_after(opt.timeout);
      auto [hec] = co_await c->tls->async_handshake(ssl::stream_base::client, use_tuple);
      if (hec) {
        auto e = classify(hec, "TLS handshake with " + ep.url());
        long verify = SSL_get_verify_result(c->tls->native_handle());
        if (verify != X509_V_OK)
          e.message += " (" + std::string(X509_verify_cert_error_string(verify)) + ")";
        co_return Failure{std::move(e)};
      }
    }
    co_return std::move(c);
  }

  template <class Stream>
  awaitable<Result<HttpResponse, TransportError>> exchange(Conn& c, Stream& s,
                                                           const HttpRequest& req,
                                                           bool& got_bytes) {
    http::request<http::string_body> r;
    r.method(http::string_to_verb(req.method));
    r.target(req.target);
    r.version(11);
    for (const auto& [k, v] : req.headers)
      r.set(k, v);
    if (r.find(http::field::host) == r.end()) r.set(http::field::host, ep.host_header());
    r.keep_alive(true);
    r.body() = req.body;
    r.prepare_payload();
    c.lowest().expires_after(opt.timeout);
    auto [wec, wn] = co_await http::async_write(s, r, use_tuple);
    if (wec) co_return Failure{classify(wec, "write request")};

    http::response_parser<http::string_body> p;
    p.body_limit(opt.max_body);
    p.header_limit(64 * 1024);
    c.lowest().expires_after(opt.timeout);
    auto [rec, rn] = co_await http::async_read(s, c.buf, p, use_tuple);
    got_bytes = rn > 0 || p.got_some();
    if (rec) {
      auto e = classify(rec, "read response");
      if (e.kind == TransportFailure::too_large)
        e.message = "response body exceeds " + std::to_string(opt.max_body) + " bytes; cut off";
      co_return Failure{std::move(e)};
    }
    auto msg = p.release();
    HttpResponse out;
    out.status = msg.result_int();
    for (const auto& f : msg) {
      std::string name(f.name_string());
      for (auto& ch : name)
        ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
      out.headers.emplace_back(std::move(name), std::string(f.value()));
    }
    out.body = std::move(msg.body());
    if (!msg.keep_alive()) out.headers.emplace_back(":close", "1");
    co_return out;
  }
};

HttpClient::HttpClient(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
HttpClient::~HttpClient() = default;

Result<std::unique_ptr<HttpClient>> HttpClient::create(asio::any_io_executor ex, Endpoint endpoint,
                                                       HttpClientOptions opt) {
  auto impl = std::make_unique<Impl>();
  impl->ex = ex;
  impl->ep = std::move(endpoint);
  impl->opt = std::move(opt);
  if (impl->ep.tls) {
    impl->ctx.emplace(ssl::context::tls_client);
    auto& ctx = *impl->ctx;
    ctx.set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 |
                    ssl::context::no_sslv3 | ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1);
    SSL_CTX_set_min_proto_version(ctx.native_handle(), TLS1_2_VERSION);
    boost::system::error_code ec;
    ctx.set_default_verify_paths(ec);
    if (ec) return Failure{"cannot load the system CA store: " + ec.message()};
    if (impl->opt.ca_file) {
      ctx.load_verify_file(*impl->opt.ca_file, ec);
      if (ec) return Failure{"cannot load ca_file " + *impl->opt.ca_file + ": " + ec.message()};
    }
    ctx.set_verify_mode(ssl::verify_peer);
  }
  return std::unique_ptr<HttpClient>(new HttpClient(std::move(impl)));
}

awaitable<Result<HttpResponse, TransportError>> HttpClient::send(HttpRequest req) {
  auto& d = *impl_;
  std::unique_ptr<Conn> c;
  bool reused = false;
  if (!d.idle.empty()) {
    c = std::move(d.idle.back());
    d.idle.pop_back();
    reused = true;
  } else {
    auto made = co_await d.connect();
    if (!made) co_return Failure{std::move(made).error()};
    c = std::move(made).value();
  }
  bool got_bytes = false;
  // (No co_await inside ?: — GCC 12 miscompiles that.)
  Result<HttpResponse, TransportError> r = Failure{TransportError{}};
  if (c->tls)
    r = co_await d.exchange(*c, *c->tls, req, got_bytes);
  else
    r = co_await d.exchange(*c, c->plain, req, got_bytes);
  if (r) {
    bool close = r->header(":close").has_value();
    if (close) {
      std::erase_if(r->headers, [](const auto& h) { return h.first == ":close"; });
    } else if (d.idle.size() < d.opt.max_idle) {
      d.idle.push_back(std::move(c));
    }
    co_return r;
  }
  // The server may close an idle kept-alive connection at any moment; that is no failure
  // of the request itself.
  Result<HttpResponse, TransportError> failed = std::move(r);
  if (reused && !got_bytes && failed.error().kind == TransportFailure::network) {
    TransportError e = failed.error();
    e.stale_connection = true;
    co_return Failure{std::move(e)};
  }
  co_return failed;
}

std::uint64_t HttpClient::connections_opened() const {
  return impl_->opened;
}
const Endpoint& HttpClient::endpoint() const {
  return impl_->ep;
}

}  // namespace mmsmon

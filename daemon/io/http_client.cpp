#include "io/http_client.hpp"

#include <openssl/ssl.h>

#include <algorithm>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/connect.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/error.hpp>
#include <vector>

#include "io/http_response_reader.hpp"

namespace mmsmon {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace ssl = asio::ssl;
using tcp = asio::ip::tcp;
using asio::awaitable;
using std::chrono::steady_clock;
constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);

namespace {

struct Conn {
  explicit Conn(asio::any_io_executor ex) : plain(ex) {}
  Conn(asio::any_io_executor ex, ssl::context& ctx) : plain(ex) {
    tls.emplace(std::move(plain), ctx);
  }
  tcp::socket plain;  // moved-from once `tls` owns the socket
  std::optional<ssl::stream<tcp::socket>> tls;
  beast::flat_buffer buf;
  tcp::socket& lowest() { return tls ? tls->next_layer() : plain; }

  // Deadline of the step under way (checked by the sweep), and whether it struck.
  steady_clock::time_point deadline = steady_clock::time_point::max();
  bool timed_out = false;
};

/// Deadlines of all connections with a step under way, enforced by one periodic sweep
/// instead of a timer per step: a poll then costs no timer operations at all. A connection
/// whose deadline passed is closed, which ends its pending operation. The sweeping
/// coroutine shares ownership, so that it can outlive the client while the loop unwinds.
struct Deadlines {
  Deadlines(asio::any_io_executor ex, Millis timeout)
      : ex(std::move(ex)),
        // Late by at most a quarter of the timeout, and by at most 250 ms.
        period(std::clamp(timeout / 4, Millis{5}, Millis{250})) {}

  asio::any_io_executor ex;
  Millis period;
  std::vector<Conn*> busy;
  bool sweeping = false;  ///< a sweep_deadlines coroutine is running

  /// Closes the connections whose deadline has passed and forgets them.
  void sweep(steady_clock::time_point now) {
    for (Conn* c : busy) {
      if (now < c->deadline) continue;
      c->timed_out = true;
      boost::system::error_code ignored;
      c->lowest().close(ignored);  // its pending operation ends with operation_aborted
    }
    std::erase_if(busy, [](Conn* c) { return c->timed_out; });
  }
};

/// Sweeps every `period` while any connection is busy, then ends (the next busy
/// connection starts a new one).
awaitable<void> sweep_deadlines(std::shared_ptr<Deadlines> d) {
  asio::steady_timer timer(d->ex);
  while (!d->busy.empty()) {
    timer.expires_after(d->period);
    co_await timer.async_wait(use_tuple);
    d->sweep(steady_clock::now());
  }
  d->sweeping = false;
}

/// Registers a connection with the sweep for as long as it is in scope. (Shares ownership:
/// a frame unwound after the client is gone still finds the list.)
class DeadlineScope {
 public:
  DeadlineScope(std::shared_ptr<Deadlines> d, Conn& c) : d_(std::move(d)), c_(c) {
    c_.timed_out = false;
    d_->busy.push_back(&c_);
    if (!d_->sweeping) {
      d_->sweeping = true;
      asio::co_spawn(d_->ex, sweep_deadlines(d_), [](std::exception_ptr e) {
        if (e) std::rethrow_exception(e);  // a bug: let it reach the loop's caller
      });
    }
  }
  ~DeadlineScope() { std::erase(d_->busy, &c_); }
  DeadlineScope(const DeadlineScope&) = delete;
  DeadlineScope& operator=(const DeadlineScope&) = delete;

 private:
  std::shared_ptr<Deadlines> d_;
  Conn& c_;
};

TransportError classify(const boost::system::error_code& ec, std::string_view step,
                        bool timed_out) {
  TransportError e;
  e.message = std::string(step) + ": " + ec.message();
  if (timed_out || ec == asio::error::timed_out) {
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

bool has_line_break(std::string_view s) {
  return std::any_of(s.begin(), s.end(), [](char c) { return c == '\r' || c == '\n'; });
}

constexpr std::size_t kReadSize = 16 * 1024;

}  // namespace

struct HttpClient::Impl {
  asio::any_io_executor ex;
  Endpoint ep;
  std::string host_header;
  HttpClientOptions opt;
  std::optional<ssl::context> ctx;
  std::vector<std::unique_ptr<Conn>> idle;
  std::shared_ptr<Deadlines> deadlines;
  std::uint64_t opened = 0;

  // The last successful resolve, reused for a minute: a poll then does not wait on DNS,
  // and a slow resolver holds up no more than one connect a minute.
  std::optional<tcp::resolver::results_type> resolved;
  steady_clock::time_point resolved_at{};

  /// The deadline of the next step: api.timeout from now, and never past the call's.
  steady_clock::time_point step_deadline(steady_clock::time_point call_deadline) const {
    return std::min(steady_clock::now() + opt.timeout, call_deadline);
  }

  /// Resolves the endpoint's host within the step deadline. getaddrinfo cannot be
  /// cancelled: when the deadline strikes first, the lookup is abandoned (it finishes in the
  /// background, its answer unused) instead of awaited.
  awaitable<Result<tcp::resolver::results_type, TransportError>> resolve(
      steady_clock::time_point call_deadline) {
    if (resolved && steady_clock::now() - resolved_at < std::chrono::minutes(1))
      co_return *resolved;
    struct Lookup {
      explicit Lookup(asio::any_io_executor ex) : resolver(ex), timer(ex) {}
      tcp::resolver resolver;
      asio::steady_timer timer;
      std::optional<std::pair<boost::system::error_code, tcp::resolver::results_type>> result;
    };
    auto l = std::make_shared<Lookup>(ex);
    l->timer.expires_at(step_deadline(call_deadline));
    l->resolver.async_resolve(
        ep.host, std::to_string(ep.port),
        [l](const boost::system::error_code& ec, tcp::resolver::results_type r) {
          l->result.emplace(ec, std::move(r));
          l->timer.cancel();
        });
    co_await l->timer.async_wait(use_tuple);
    if (!l->result)
      co_return Failure{
          TransportError{TransportFailure::timeout, "resolve " + ep.host + ": deadline exceeded"}};
    auto [rec, results] = std::move(*l->result);
    if (rec)
      co_return Failure{
          TransportError{TransportFailure::network, "resolve " + ep.host + ": " + rec.message()}};
    resolved = results;
    resolved_at = steady_clock::now();
    co_return results;
  }

  awaitable<Result<std::unique_ptr<Conn>, TransportError>> connect(
      steady_clock::time_point call_deadline) {
    auto found = co_await resolve(call_deadline);
    if (!found) co_return Failure{std::move(found).error()};
    auto results = std::move(found).value();

    auto c = ctx ? std::make_unique<Conn>(ex, *ctx) : std::make_unique<Conn>(ex);
    DeadlineScope scope(deadlines, *c);
    c->deadline = step_deadline(call_deadline);
    auto [cec, where] = co_await asio::async_connect(c->lowest(), results, use_tuple);
    if (cec) co_return Failure{classify(cec, "connect " + ep.url(), c->timed_out)};
    ++opened;
    boost::system::error_code ignored;
    c->lowest().set_option(tcp::no_delay(true), ignored);
    if (c->tls) {
      if (!is_ip_literal(ep.host) &&
          !SSL_set_tlsext_host_name(c->tls->native_handle(), ep.host.c_str()))
        co_return Failure{TransportError{TransportFailure::tls, "cannot set SNI"}};
      c->tls->set_verify_mode(ssl::verify_peer);
      c->tls->set_verify_callback(ssl::host_name_verification(ep.host));
      c->deadline = step_deadline(call_deadline);
      auto [hec] = co_await c->tls->async_handshake(ssl::stream_base::client, use_tuple);
      if (hec) {
        auto e = classify(hec, "TLS handshake with " + ep.url(), c->timed_out);
        long verify = SSL_get_verify_result(c->tls->native_handle());
        if (verify != X509_V_OK)
          e.message += " (" + std::string(X509_verify_cert_error_string(verify)) + ")";
        co_return Failure{std::move(e)};
      }
    }
    co_return std::move(c);
  }

  awaitable<Result<HttpResponse, TransportError>> exchange(Result<std::string, TransportError> wire,
                                                           bool head,
                                                           steady_clock::time_point call_deadline);

  /// The request as it goes on the wire, in one buffer.
  Result<std::string, TransportError> serialize(const HttpRequest& req) const {
    std::size_t size =
        req.method.size() + req.target.size() + host_header.size() + 64 + req.body.size();
    for (const auto& [k, v] : req.headers)
      size += k.size() + v.size() + 4;
    bool has_host = false;
    std::string wire;
    wire.reserve(size);
    wire += req.method;
    wire += ' ';
    wire += req.target;
    wire += " HTTP/1.1\r\n";
    for (const auto& [k, v] : req.headers) {
      if (k.empty() || has_line_break(k) || has_line_break(v) || k.find(':') != k.npos)
        return Failure{TransportError{TransportFailure::protocol,
                                      "request header \"" + k + "\" is not valid"}};
      has_host = has_host || field_name_equals(k, "host");
      wire += k;
      wire += ": ";
      wire += v;
      wire += "\r\n";
    }
    if (!has_host) {
      wire += "Host: ";
      wire += host_header;
      wire += "\r\n";
    }
    if (!req.body.empty() || (req.method != "GET" && req.method != "HEAD")) {
      wire += "Content-Length: ";
      wire += std::to_string(req.body.size());
      wire += "\r\n";
    }
    wire += "\r\n";
    wire += req.body;
    return wire;
  }
};

HttpClient::HttpClient(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
HttpClient::~HttpClient() = default;

Result<std::unique_ptr<HttpClient>> HttpClient::create(asio::any_io_executor ex, Endpoint endpoint,
                                                       HttpClientOptions opt) {
  auto impl = std::make_unique<Impl>();
  impl->ex = ex;
  impl->ep = std::move(endpoint);
  impl->host_header = impl->ep.host_header();
  impl->opt = std::move(opt);
  impl->deadlines = std::make_shared<Deadlines>(ex, impl->opt.timeout);
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

Millis HttpClient::timeout() const {
  return impl_->opt.timeout;
}

awaitable<Result<HttpResponse, TransportError>> HttpClient::send(
    HttpRequest req, std::optional<steady_clock::time_point> deadline) {
  // Serialized here, outside the coroutine: its frame keeps the bytes, not the request.
  return impl_->exchange(impl_->serialize(req), req.method == "HEAD",
                         deadline.value_or(steady_clock::time_point::max()));
}

// One coroutine for the whole exchange (a frame per poll is a heap allocation): take or
// open a connection, write the request, read and parse the response.
awaitable<Result<HttpResponse, TransportError>> HttpClient::Impl::exchange(
    Result<std::string, TransportError> wire, bool head, steady_clock::time_point call_deadline) {
  if (!wire) co_return Failure{std::move(wire).error()};

  std::unique_ptr<Conn> c;
  bool reused = false;
  if (!idle.empty()) {
    c = std::move(idle.back());
    idle.pop_back();
    reused = true;
  } else {
    auto made = co_await connect(call_deadline);
    if (!made) co_return Failure{std::move(made).error()};
    c = std::move(made).value();
  }

  HttpResponse out;
  ResponseReader reader(out, opt.max_body, head);
  bool got_bytes = false;
  boost::system::error_code ec;
  const char* step = "write request";
  {
    DeadlineScope scope(deadlines, *c);
    c->deadline = step_deadline(call_deadline);
    // (No co_await inside ?: — GCC 12 miscompiles that.)
    std::size_t n = 0;
    if (c->tls)
      std::tie(ec, n) = co_await asio::async_write(*c->tls, asio::buffer(*wire), use_tuple);
    else
      std::tie(ec, n) = co_await asio::async_write(c->plain, asio::buffer(*wire), use_tuple);

    if (!ec) step = "read response";
    c->deadline = step_deadline(call_deadline);
    while (!ec) {
      auto state = reader.feed(c->buf);
      if (state == ResponseReader::State::done) break;
      if (state == ResponseReader::State::failed) {
        ec = reader.error();
        break;
      }
      if (c->tls)
        std::tie(ec, n) = co_await c->tls->async_read_some(c->buf.prepare(kReadSize), use_tuple);
      else
        std::tie(ec, n) = co_await c->plain.async_read_some(c->buf.prepare(kReadSize), use_tuple);
      c->buf.commit(n);
      got_bytes = got_bytes || n > 0;
      if (ec == asio::error::eof || ec == ssl::error::stream_truncated) {
        // The server closed the connection: that ends a body without a length, and is
        // an error anywhere else.
        ec = reader.eof() == ResponseReader::State::done ? boost::system::error_code{}
                                                         : reader.error();
        if (!ec) break;
      }
    }
  }

  if (!ec) {
    if (reader.keep_alive() && idle.size() < opt.max_idle) {
      c->buf.clear();
      idle.push_back(std::move(c));
    }
    co_return out;
  }
  auto e = classify(ec, step, c->timed_out);
  if (reader.overflow()) {
    e.kind = TransportFailure::too_large;
    e.message = "response framing (a chunk-size line, its extension or a trailer) exceeds " +
                std::to_string(ResponseReader::kMaxUnparsed) + " bytes; cut off";
  } else if (e.kind == TransportFailure::too_large) {
    e.message = "response body exceeds " + std::to_string(opt.max_body) + " bytes; cut off";
  }
  // The server may close an idle kept-alive connection at any moment; that is no failure
  // of the request itself.
  if (reused && !got_bytes && e.kind == TransportFailure::network) e.stale_connection = true;
  co_return Failure{std::move(e)};
}

void HttpClient::cancel_all() {
  auto& d = *impl_->deadlines;
  for (Conn* c : d.busy)
    c->deadline = steady_clock::time_point::min();
  d.sweep(steady_clock::now());
}

std::uint64_t HttpClient::connections_opened() const {
  return impl_->opened;
}
const Endpoint& HttpClient::endpoint() const {
  return impl_->ep;
}

}  // namespace mmsmon

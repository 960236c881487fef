// The HTTP client against a server that answers with canned bytes: chunked and
// close-delimited bodies, responses split across many writes, Connection: close,
// truncated responses, and the bytes of the request itself.
#include <doctest/doctest.h>

#include <atomic>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/streambuf.hpp>
#include <boost/asio/write.hpp>
#include <mutex>
#include <thread>

#include "io/http_client.hpp"
#include "sim_process.hpp"

using namespace mmsmon;
using namespace mmsmon::test;
namespace asio = boost::asio;
using tcp = asio::ip::tcp;

namespace {

/// One canned answer: the bytes, written in pieces of `piece` bytes (0: all at once), and
/// whether the server closes the connection after writing them.
struct Canned {
  std::string bytes;
  bool close_after = false;
  std::size_t piece = 0;
};

/// A blocking server on 127.0.0.1:0 in its own thread. It answers the n-th request it
/// reads (on whichever connection) with the n-th canned answer and records each request.
class CannedServer {
 public:
  explicit CannedServer(std::vector<Canned> answers)
      : answers_(std::move(answers)), acceptor_(io_, {asio::ip::make_address("127.0.0.1"), 0}) {
    port_ = acceptor_.local_endpoint().port();
    thread_ = std::thread([this] { serve(); });
  }
  ~CannedServer() {
    // The client is gone by now (it is declared after the server), so the thread is in
    // accept, or done: a connection of our own wakes it up to see `stopping_`.
    stopping_ = true;
    boost::system::error_code ec;
    tcp::socket poke(io_);
    poke.connect({asio::ip::make_address("127.0.0.1"), port_}, ec);
    thread_.join();
  }
  unsigned short port() const { return port_; }
  std::vector<std::string> requests() {
    std::lock_guard lock(mu_);
    return requests_;
  }
  std::size_t connections() {
    std::lock_guard lock(mu_);
    return connections_;
  }

 private:
  void serve() {
    std::size_t next = 0;
    while (next < answers_.size()) {
      boost::system::error_code ec;
      tcp::socket s(io_);
      acceptor_.accept(s, ec);
      if (ec || stopping_) return;
      {
        std::lock_guard lock(mu_);
        ++connections_;
      }
      asio::streambuf in;
      while (next < answers_.size()) {
        std::size_t n = asio::read_until(s, in, "\r\n\r\n", ec);
        if (ec) break;
        std::string head(asio::buffers_begin(in.data()), asio::buffers_begin(in.data()) + n);
        in.consume(n);
        auto cl = head.find("Content-Length: ");
        if (cl != std::string::npos) {
          std::size_t len = std::stoul(head.substr(cl + 16));
          if (in.size() < len) asio::read(s, in, asio::transfer_exactly(len - in.size()), ec);
          head.append(asio::buffers_begin(in.data()), asio::buffers_begin(in.data()) + len);
          in.consume(len);
        }
        {
          std::lock_guard lock(mu_);
          requests_.push_back(head);
        }
        const Canned& a = answers_[next++];
        std::size_t piece = a.piece ? a.piece : a.bytes.size();
        for (std::size_t off = 0; off < a.bytes.size() && !ec; off += piece)
          asio::write(s, asio::buffer(a.bytes.data() + off, std::min(piece, a.bytes.size() - off)),
                      ec);
        if (a.close_after) break;
      }
    }
  }

  std::vector<Canned> answers_;
  asio::io_context io_;
  tcp::acceptor acceptor_;
  unsigned short port_ = 0;
  std::atomic<bool> stopping_ = false;
  std::thread thread_;
  std::mutex mu_;
  std::vector<std::string> requests_;
  std::size_t connections_ = 0;
};

struct Client {
  explicit Client(unsigned short port, HttpClientOptions opt = {}, bool tls = false) {
    auto h = HttpClient::create(io.get_executor(), Endpoint{tls, "127.0.0.1", port}, opt);
    REQUIRE(h.ok());
    http = std::move(h).value();
  }
  Result<HttpResponse, TransportError> send(HttpRequest req) {
    return run(io, http->send(std::move(req)));
  }
  Result<HttpResponse, TransportError> get(std::string target = "/x") {
    return send(HttpRequest{"GET", std::move(target), {}, {}});
  }
  asio::io_context io;
  std::unique_ptr<HttpClient> http;
};

}  // namespace

TEST_CASE("wire: a chunked body split into one-byte writes, field names in any case") {
  CannedServer server(
      {{"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n"
        "X-RateLimit-User-API: Limit:10,Remain:9\r\n\r\n"
        "5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n",
        false, 1}});
  Client c(server.port());
  auto r = c.get();
  REQUIRE_MESSAGE(r.ok(), (r.ok() ? "" : r.error().message));
  CHECK(r->status == 200);
  CHECK(r->body == "hello world");
  CHECK(r->header("x-ratelimit-user-api") == "Limit:10,Remain:9");
  CHECK(r->header("X-RATELIMIT-USER-API") == "Limit:10,Remain:9");
  CHECK_FALSE(r->header("x-ratelimit-user"));
}

TEST_CASE("wire: a body delimited by the server closing, then the next request reconnects") {
  CannedServer server({{"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nuntil close", true},
                       {"HTTP/1.1 204 No Content\r\n\r\n"}});
  Client c(server.port());
  auto r = c.get();
  REQUIRE_MESSAGE(r.ok(), (r.ok() ? "" : r.error().message));
  CHECK(r->body == "until close");
  auto second = c.get();
  REQUIRE_MESSAGE(second.ok(), (second.ok() ? "" : second.error().message));
  CHECK(second->status == 204);
  CHECK(c.http->connections_opened() == 2);
  CHECK(server.connections() == 2);
}

TEST_CASE("wire: Connection: close is honoured and keep-alive is reused") {
  CannedServer server({{"HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\na"},
                       {"HTTP/1.1 200 OK\r\nContent-Length: 1\r\nConnection: close\r\n\r\nb"},
                       {"HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nc"}});
  Client c(server.port());
  CHECK(c.get()->body == "a");
  CHECK(c.get()->body == "b");
  CHECK(c.http->connections_opened() == 1);
  CHECK(c.get()->body == "c");
  CHECK(c.http->connections_opened() == 2);
}

TEST_CASE("wire: a response cut short is a network failure") {
  CannedServer server({{"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc", true}});
  Client c(server.port());
  auto r = c.get();
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().kind == TransportFailure::network);
  CHECK_FALSE(r.error().stale_connection);  // a fresh connection: not worth a silent retry
}

TEST_CASE("wire: garbage instead of a status line is a protocol failure") {
  CannedServer server({{"SSH-2.0-OpenSSH_9.2\r\n\r\n", true}});
  Client c(server.port());
  auto r = c.get();
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().kind == TransportFailure::protocol);
}

TEST_CASE("wire: the request bytes") {
  CannedServer server({{"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"},
                       {"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"}});
  Client c(server.port());
  REQUIRE(c.send({"GET", "/api/v1/x?a=1", {{"x-acs-action", "GetMmsJob"}}, {}}).ok());
  REQUIRE(c.send({"POST", "/admin", {{"content-type", "application/json"}}, "{}"}).ok());
  auto reqs = server.requests();
  REQUIRE(reqs.size() == 2);
  CHECK(reqs[0] == "GET /api/v1/x?a=1 HTTP/1.1\r\nx-acs-action: GetMmsJob\r\nHost: 127.0.0.1:" +
                       std::to_string(server.port()) + "\r\n\r\n");
  CHECK(reqs[1] == "POST /admin HTTP/1.1\r\ncontent-type: application/json\r\nHost: 127.0.0.1:" +
                       std::to_string(server.port()) + "\r\nContent-Length: 2\r\n\r\n{}");
}

TEST_CASE("wire: a header with a line break is refused before anything is sent") {
  CannedServer server({{"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"}});
  Client c(server.port());
  auto r = c.send({"GET", "/", {{"x-acs-action", "a\r\nInjected: yes"}}, {}});
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().kind == TransportFailure::protocol);
  CHECK(c.http->connections_opened() == 0);
}

TEST_CASE("wire: a server that never answers the TLS handshake hits the deadline") {
  // The canned server waits for an HTTP header that a TLS ClientHello never completes.
  CannedServer server({{"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"}});
  HttpClientOptions opt;
  opt.timeout = std::chrono::milliseconds(200);
  Client c(server.port(), opt, true);
  auto started = std::chrono::steady_clock::now();
  auto r = c.get();
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().kind == TransportFailure::timeout);
  CHECK(r.error().message.find("TLS handshake") != std::string::npos);
  auto took = std::chrono::steady_clock::now() - started;
  CHECK(took >= std::chrono::milliseconds(200));
  CHECK_MESSAGE(took < std::chrono::milliseconds(200 + 50) + mmsmon::test::kSlowMachineMargin,
                std::chrono::duration_cast<std::chrono::milliseconds>(took).count() << " ms");
}

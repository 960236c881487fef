// Deadlines that hold even when DNS does not answer: in a private network and mount
// namespace of this test process (root, as CI runs), /etc/resolv.conf names a DNS server on
// 127.0.0.1:53 that reads queries and never answers.
#include <doctest/doctest.h>
#include <netinet/in.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <unistd.h>

#include "sim_process.hpp"

using namespace mmsmon;
using namespace mmsmon::test;
using namespace std::chrono_literals;

TEST_CASE("a resolver that never answers: each call times out within its bound") {
  REQUIRE_MESSAGE(geteuid() == 0, "needs root for private network and mount namespaces");
  REQUIRE(unshare(CLONE_NEWNET | CLONE_NEWNS) == 0);
  REQUIRE(mount("none", "/", nullptr, MS_REC | MS_PRIVATE, nullptr) == 0);
  REQUIRE(std::system("ip link set lo up") == 0);
  int dns = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(53);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  REQUIRE(bind(dns, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
  TempDir d;
  // Short retries, so that the abandoned lookups end soon after the test.
  std::string conf = d.file("resolv.conf", "nameserver 127.0.0.1\noptions timeout:1 attempts:1\n");
  REQUIRE(mount(conf.c_str(), "/etc/resolv.conf", nullptr, MS_BIND, nullptr) == 0);

  boost::asio::io_context io;
  HttpClientOptions opt;
  opt.timeout = 400ms;
  auto h = HttpClient::create(io.get_executor(), Endpoint{false, "mms-api.mmsmon-test", 80}, opt);
  REQUIRE(h.ok());
  for (int i = 0; i < 2; ++i) {  // the second is not queued behind the first lookup
    CAPTURE(i);
    auto t0 = std::chrono::steady_clock::now();
    auto r = run(io, (*h)->send(HttpRequest{"GET", "/", {}, {}}));
    auto took = std::chrono::steady_clock::now() - t0;
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().kind == TransportFailure::timeout);
    CHECK(r.error().message == "resolve mms-api.mmsmon-test: deadline exceeded");
    CHECK(took >= 400ms);
    CHECK_MESSAGE(took < 400ms + kSlowMachineMargin,
                  std::chrono::duration_cast<std::chrono::milliseconds>(took).count() << " ms");
  }
  // The call deadline bounds the whole exchange too.
  auto t0 = std::chrono::steady_clock::now();
  auto r = run(io, (*h)->send(HttpRequest{"GET", "/", {}, {}}, t0 + 150ms));
  REQUIRE_FALSE(r.ok());
  CHECK(std::chrono::steady_clock::now() - t0 < 150ms + kSlowMachineMargin);
  close(dns);
}

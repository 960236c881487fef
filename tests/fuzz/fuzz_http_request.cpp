// libFuzzer target: the HTTP server's request handling: the request parser with the
// server's limits (header, body, the bounded buffer), then the router over a small fleet.
// Any bytes a client sends must end as an answer or a refusal, never a crash.
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <cstddef>
#include <cstdint>
#include <cstring>

#include "app/router.hpp"
#include "io/http_server.hpp"
#include "obs/metrics.hpp"

namespace {

struct World {
  mmsmon::Fleet fleet;
  mmsmon::Metrics metrics;
  World() {
    using namespace mmsmon;
    const JobKey a{SourceId{7}, JobId{1}}, b{SourceId{7}, JobId{2}};
    fleet.add(a, std::chrono::seconds(60));
    fleet.add(b, std::chrono::seconds(60));
    Job j;
    j.key = a;
    j.name = "orders";
    j.status = JobStatus::doing;
    j.task_num = 10;
    j.task_done = 3;
    fleet.on_snapshot(a, j, WallTime{} + std::chrono::hours(500000));
  }
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  namespace beast = boost::beast;
  namespace http = beast::http;
  static World w;
  const mmsmon::HttpServerLimits lim;
  beast::flat_buffer buf(lim.max_buffer);  // what one connection may buffer
  std::size_t n = std::min(size, lim.max_buffer);
  if (n == 0) return 0;
  auto b = buf.prepare(n);
  std::memcpy(b.data(), data, n);
  buf.commit(n);
  // Requests one after another on a kept-alive connection, as the server reads them.
  for (int i = 0; i < 8 && buf.size() > 0; ++i) {
    http::request_parser<http::string_body> p;
    p.header_limit(static_cast<std::uint32_t>(lim.max_header));
    p.body_limit(lim.max_body);
    p.eager(true);
    boost::system::error_code ec;
    std::size_t used = p.put(buf.data(), ec);
    buf.consume(used);
    if (ec || !p.is_done()) break;
    auto& req = p.get();
    auto r = mmsmon::route(mmsmon::ServerRequest{req.method_string(), req.target()},
                           mmsmon::RouterView{w.fleet, w.metrics, false, 0, {}});
    if (r.status < 200 || r.status > 599) __builtin_trap();
  }
  return 0;
}

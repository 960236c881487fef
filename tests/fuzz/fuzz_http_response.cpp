// libFuzzer target: the HTTP client's response reader, fed a server's bytes in pieces of
// sizes the input chooses, then the end of the stream. Anything a server sends must end as
// a response or a failure within the limits, never a crash or an unbounded buffer.
#include <boost/beast/core/flat_buffer.hpp>
#include <cstddef>
#include <cstdint>
#include <cstring>

#include "io/http_response_reader.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using mmsmon::ResponseReader;
  if (size < 2) return 0;
  std::size_t piece = 1 + data[0] % 64;  // bytes per read
  bool head = data[1] & 1;
  data += 2;
  size -= 2;
  mmsmon::HttpResponse out;
  ResponseReader reader(out, 64 * 1024, head);
  boost::beast::flat_buffer buf;
  auto state = ResponseReader::State::more;
  std::size_t at = 0;
  while (state == ResponseReader::State::more && at < size) {
    std::size_t n = std::min(piece, size - at);
    auto b = buf.prepare(n);
    std::memcpy(b.data(), data + at, n);
    buf.commit(n);
    at += n;
    state = reader.feed(buf);
    if (buf.size() > ResponseReader::kMaxUnparsed + 64) __builtin_trap();  // the bound holds
  }
  if (state == ResponseReader::State::more) state = reader.eof();
  if (state == ResponseReader::State::done) {
    (void)out.header("content-type");
    if (out.body.size() > 64 * 1024) __builtin_trap();
  }
  return 0;
}

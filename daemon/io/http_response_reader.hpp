#pragma once

#include <boost/beast/core/flat_buffer.hpp>
#include <boost/system/error_code.hpp>
#include <cstddef>
#include <memory>

#include "io/http_message.hpp"

namespace mmsmon {

/// Reads one HTTP/1.1 response into an HttpResponse from bytes as they arrive, within the
/// client's limits: the body (`max_body`), the header (64 KiB), and what may stay unparsed
/// (a chunk-size line with its extension, a trailer: kMaxUnparsed). Sans I/O: HttpClient
/// feeds it what it reads, the fuzz target anything at all.
class ResponseReader {
 public:
  static constexpr std::size_t kMaxUnparsed = 80 * 1024;

  /// `head`: the answer to a HEAD request, which has no body.
  ResponseReader(HttpResponse& out, std::size_t max_body, bool head);
  ~ResponseReader();
  ResponseReader(const ResponseReader&) = delete;
  ResponseReader& operator=(const ResponseReader&) = delete;

  enum class State { more, done, failed };
  /// Parses what `buf` holds and consumes it.
  State feed(boost::beast::flat_buffer& buf);
  /// The peer closed the connection: that ends a body without a length, and fails anywhere
  /// else.
  State eof();

  const boost::system::error_code& error() const { return ec_; }
  /// Failed because more than kMaxUnparsed bytes could not be parsed.
  bool overflow() const { return overflow_; }
  bool keep_alive() const;

 private:
  class Parser;
  std::unique_ptr<Parser> parser_;
  boost::system::error_code ec_;
  bool overflow_ = false;
};

}  // namespace mmsmon

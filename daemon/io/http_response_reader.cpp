#include "io/http_response_reader.hpp"

#include <boost/beast/http/basic_parser.hpp>
#include <boost/beast/http/error.hpp>
#include <cctype>

namespace mmsmon {
namespace beast = boost::beast;
namespace http = beast::http;

bool field_name_equals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i)
    if (std::tolower(static_cast<unsigned char>(a[i])) !=
        std::tolower(static_cast<unsigned char>(b[i])))
      return false;
  return true;
}

std::optional<std::string_view> HttpResponse::header(std::string_view name) const {
  // fields holds "name\0value\0" pairs: one allocation for the whole header.
  std::string_view rest = fields;
  while (!rest.empty()) {
    auto name_end = rest.find('\0');
    auto value_end = rest.find('\0', name_end + 1);
    if (field_name_equals(rest.substr(0, name_end), name))
      return rest.substr(name_end + 1, value_end - name_end - 1);
    rest.remove_prefix(value_end + 1);
  }
  return std::nullopt;
}

/// A response parser that writes the status, the fields and the body straight into an
/// HttpResponse: no intermediate field container, no copies.
class ResponseReader::Parser : public http::basic_parser<false> {
 public:
  explicit Parser(HttpResponse& out) : out_(out) { out_.fields.reserve(512); }

 private:
  void on_request_impl(http::verb, beast::string_view, beast::string_view, int,
                       boost::system::error_code&) override {}
  void on_response_impl(int code, beast::string_view, int, boost::system::error_code&) override {
    out_.status = static_cast<unsigned>(code);
  }
  void on_field_impl(http::field, beast::string_view name, beast::string_view value,
                     boost::system::error_code&) override {
    out_.fields += name;
    out_.fields += '\0';
    out_.fields += value;
    out_.fields += '\0';
  }
  void on_header_impl(boost::system::error_code&) override {}
  void on_body_init_impl(const boost::optional<std::uint64_t>& length,
                         boost::system::error_code&) override {
    // The parser has checked the length against body_limit already.
    if (length) out_.body.reserve(static_cast<std::size_t>(*length));
  }
  std::size_t on_body_impl(beast::string_view body, boost::system::error_code&) override {
    out_.body += body;
    return body.size();
  }
  void on_chunk_header_impl(std::uint64_t, beast::string_view,
                            boost::system::error_code&) override {}
  std::size_t on_chunk_body_impl(std::uint64_t, beast::string_view body,
                                 boost::system::error_code&) override {
    out_.body += body;
    return body.size();
  }
  void on_finish_impl(boost::system::error_code&) override {}

  HttpResponse& out_;
};

ResponseReader::ResponseReader(HttpResponse& out, std::size_t max_body, bool head)
    : parser_(std::make_unique<Parser>(out)) {
  parser_->eager(true);
  parser_->body_limit(max_body);
  parser_->header_limit(64 * 1024);
  if (head) parser_->skip(true);  // a HEAD response has no body
}

ResponseReader::~ResponseReader() = default;

ResponseReader::State ResponseReader::feed(beast::flat_buffer& buf) {
  while (buf.size() > 0) {
    std::size_t used = parser_->put(buf.data(), ec_);
    buf.consume(used);
    if (ec_ == http::error::need_more) {
      ec_ = {};
    } else if (ec_) {
      return State::failed;
    } else if (parser_->is_done()) {
      return State::done;
    } else if (used > 0) {
      continue;  // parse what is left in the buffer before reading more
    }
    if (buf.size() >= kMaxUnparsed) {
      overflow_ = true;
      ec_ = http::error::buffer_overflow;
      return State::failed;
    }
    return State::more;
  }
  return parser_->is_done() ? State::done : State::more;
}

ResponseReader::State ResponseReader::eof() {
  if (!parser_->got_some()) {
    ec_ = http::error::end_of_stream;
    return State::failed;
  }
  ec_ = {};
  parser_->put_eof(ec_);
  return ec_ ? State::failed : State::done;
}

bool ResponseReader::keep_alive() const {
  return parser_->keep_alive();
}

}  // namespace mmsmon

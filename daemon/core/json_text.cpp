#include "core/json_text.hpp"

#include <boost/json/stream_parser.hpp>

namespace mmsmon {

std::string json_kind_name(const boost::json::value& v) {
  switch (v.kind()) {
    case boost::json::kind::null:
      return "null";
    case boost::json::kind::bool_:
      return "a boolean";
    case boost::json::kind::int64:
    case boost::json::kind::uint64:
      return "an integer";
    case boost::json::kind::double_:
      return "a fractional number";
    case boost::json::kind::string:
      return "a string";
    case boost::json::kind::array:
      return "an array";
    case boost::json::kind::object:
      return "an object";
  }
  return "a value";
}

TextPos position_of(std::string_view text, std::size_t offset) {
  TextPos p;
  if (offset > text.size()) offset = text.size();
  for (std::size_t i = 0; i < offset; ++i) {
    if (text[i] == '\n') {
      ++p.line;
      p.column = 1;
    } else {
      ++p.column;
    }
  }
  return p;
}

Result<boost::json::value, JsonSyntaxError> parse_relaxed_json(std::string_view text) {
  boost::json::parse_options opt;
  opt.allow_comments = true;
  opt.allow_trailing_commas = true;
  opt.max_depth = 64;
  boost::json::stream_parser p({}, opt);
  boost::system::error_code ec;
  std::size_t used = p.write_some(text.data(), text.size(), ec);
  if (!ec) {
    p.finish(ec);
    used = text.size();
  }
  if (ec) return Failure{JsonSyntaxError{position_of(text, used), ec.message()}};
  return p.release();
}

namespace {

/// A scanner over text already known to be valid relaxed JSON; it records positions only.
class Scanner {
 public:
  Scanner(std::string_view t, std::map<std::string, std::size_t, std::less<>>& out,
          std::vector<std::pair<std::string, std::pair<std::size_t, std::size_t>>>& dups)
      : t_(t), out_(out), dups_(dups) {}

  void value(const std::string& path) {
    skip_ws();
    if (i_ >= t_.size()) return;
    char c = t_[i_];
    if (c == '{') {
      ++i_;
      for (;;) {
        skip_ws();
        if (i_ >= t_.size()) return;
        if (t_[i_] == '}') {
          ++i_;
          return;
        }
        if (t_[i_] == ',') {
          ++i_;
          continue;
        }
        std::size_t key_at = i_;
        std::string key = string_token();
        std::string child = path.empty() ? key : path + "." + key;
        auto [it, fresh] = out_.emplace(child, key_at);
        if (!fresh) dups_.push_back({child, {it->second, key_at}});
        skip_ws();
        if (i_ < t_.size() && t_[i_] == ':') ++i_;
        value(child);
      }
    } else if (c == '[') {
      ++i_;
      std::size_t index = 0;
      for (;;) {
        skip_ws();
        if (i_ >= t_.size()) return;
        if (t_[i_] == ']') {
          ++i_;
          return;
        }
        if (t_[i_] == ',') {
          ++i_;
          continue;
        }
        std::string child = path + "[" + std::to_string(index++) + "]";
        out_.emplace(child, i_);
        value(child);
      }
    } else if (c == '"') {
      string_token();
    } else {
      while (i_ < t_.size() && !is_delim(t_[i_]))
        ++i_;
    }
  }

 private:
  static bool is_delim(char c) {
    return c == ',' || c == '}' || c == ']' || c == ' ' || c == '\t' || c == '\n' || c == '\r' ||
           c == '/';
  }
  void skip_ws() {
    while (i_ < t_.size()) {
      char c = t_[i_];
      if (c == ' ' || c == '\t' || c == '\n' || c == '\r') {
        ++i_;
      } else if (c == '/' && i_ + 1 < t_.size() && t_[i_ + 1] == '/') {
        while (i_ < t_.size() && t_[i_] != '\n')
          ++i_;
      } else if (c == '/' && i_ + 1 < t_.size() && t_[i_ + 1] == '*') {
        auto end = t_.find("*/", i_ + 2);
        i_ = end == std::string_view::npos ? t_.size() : end + 2;
      } else {
        return;
      }
    }
  }
  // Keys in our config are plain ASCII; escapes are kept verbatim (good enough for paths).
  std::string string_token() {
    std::string s;
    if (i_ >= t_.size() || t_[i_] != '"') return s;
    ++i_;
    while (i_ < t_.size() && t_[i_] != '"') {
      if (t_[i_] == '\\' && i_ + 1 < t_.size()) {
        s += t_[i_++];
      }
      s += t_[i_++];
    }
    if (i_ < t_.size()) ++i_;
    return s;
  }

  std::string_view t_;
  std::map<std::string, std::size_t, std::less<>>& out_;
  std::vector<std::pair<std::string, std::pair<std::size_t, std::size_t>>>& dups_;
  std::size_t i_ = 0;
};

}  // namespace

JsonLocator::JsonLocator(std::string_view text) : text_(text) {
  std::vector<std::pair<std::string, std::pair<std::size_t, std::size_t>>> dups;
  Scanner s(text, offsets_, dups);
  offsets_.emplace("", 0);
  s.value("");
  for (const auto& [path, at] : dups)
    duplicates_.push_back({path, position_of(text, at.first), position_of(text, at.second)});
}

TextPos JsonLocator::find(std::string_view path) const {
  std::string p(path);
  for (;;) {
    auto it = offsets_.find(p);
    if (it != offsets_.end()) {
      // The root has no key: point at its first non-blank character instead of offset 0.
      std::size_t off = it->second;
      if (p.empty()) {
        auto first = text_.find('{');
        if (first != std::string_view::npos) off = first;
      }
      return position_of(text_, off);
    }
    if (p.empty()) return {};
    auto cut = p.find_last_of(".[");
    p = cut == std::string::npos ? std::string() : p.substr(0, cut);
  }
}

}  // namespace mmsmon

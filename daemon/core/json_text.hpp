#pragma once

#include <boost/json/value.hpp>
#include <cstddef>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.hpp"

namespace mmsmon {

/// "a string", "an integer", "an object", ... for messages about wrong types.
std::string json_kind_name(const boost::json::value& v);

/// A 1-based position in a text file.
struct TextPos {
  std::size_t line = 1;
  std::size_t column = 1;
};

/// Converts a byte offset into a line and column (columns count bytes, 1-based).
TextPos position_of(std::string_view text, std::size_t offset);

/// A syntax error in a JSON text, with where it was found.
struct JsonSyntaxError {
  TextPos pos;
  std::string message;
};

/// Parses JSON that may contain `//` and `/* */` comments and trailing commas (the config
/// dialect). Returns the DOM or the first syntax error with its position.
Result<boost::json::value, JsonSyntaxError> parse_relaxed_json(std::string_view text);

/// Where each member key and array element of a JSON text starts, by key path
/// (`api.timeout`, `jobs[0].job_id`; the root is ""). Built by a second scan of a text that
/// parse_relaxed_json accepted, because the Boost.JSON DOM keeps no positions.
class JsonLocator {
 public:
  explicit JsonLocator(std::string_view text);
  /// A member key given twice in one object (JSON parsers keep only one of them).
  struct Duplicate {
    std::string path;
    TextPos first, second;
  };
  const std::vector<Duplicate>& duplicates() const { return duplicates_; }
  /// Position of `path`, or of its nearest enclosing path that is known.
  TextPos find(std::string_view path) const;

 private:
  std::string_view text_;
  std::map<std::string, std::size_t, std::less<>> offsets_;
  std::vector<Duplicate> duplicates_;
};

}  // namespace mmsmon

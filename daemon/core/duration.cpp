#include "core/duration.hpp"

#include <array>
#include <cstdint>
#include <limits>

namespace mmsmon {
namespace {

struct Unit {
  std::string_view name;
  std::int64_t ms;
};
// Order matters twice: terms must come in this order, and `ms` must be tried before `m`.
constexpr std::array<Unit, 6> kUnits{{{"w", 604'800'000},
                                      {"d", 86'400'000},
                                      {"h", 3'600'000},
                                      {"m", 60'000},
                                      {"s", 1'000},
                                      {"ms", 1}}};

}  // namespace

Result<Millis> parse_duration(std::string_view text) {
  if (text.empty())
    return Failure{std::string("empty duration; expected e.g. \"30s\" or \"1h30m\"")};
  if (text == "0") return Millis{0};
  std::int64_t total = 0;
  std::size_t pos = 0;
  int last_unit = -1;
  while (pos < text.size()) {
    std::int64_t n = 0;
    std::size_t digits = 0;
    while (pos < text.size() && text[pos] >= '0' && text[pos] <= '9') {
      if (n > (std::numeric_limits<std::int64_t>::max() - 9) / 10)
        return Failure{std::string("duration \"") + std::string(text) + "\" is too large"};
      n = n * 10 + (text[pos] - '0');
      ++pos;
      ++digits;
    }
    if (digits == 0)
      return Failure{std::string("invalid duration \"") + std::string(text) +
                     "\": expected a number at position " + std::to_string(pos + 1) +
                     " (units: ms, s, m, h, d, w; e.g. \"1h30m\")"};
    int unit = -1;
    for (int i = 0; i < static_cast<int>(kUnits.size()); ++i) {
      const auto& u = kUnits[static_cast<std::size_t>(i)];
      if (text.substr(pos, u.name.size()) == u.name &&
          // "m" must not swallow the "m" of "ms"
          !(u.name == "m" && text.substr(pos, 2) == "ms")) {
        unit = i;
        break;
      }
    }
    if (unit < 0)
      return Failure{std::string("invalid duration \"") + std::string(text) +
                     "\": missing or unknown unit at position " + std::to_string(pos + 1) +
                     " (units: ms, s, m, h, d, w)"};
    if (unit <= last_unit)
      return Failure{std::string("invalid duration \"") + std::string(text) +
                     "\": units must go from largest to smallest, each once"};
    last_unit = unit;
    const auto& u = kUnits[static_cast<std::size_t>(unit)];
    pos += u.name.size();
    if (n > (std::numeric_limits<std::int64_t>::max() - total) / u.ms)
      return Failure{std::string("duration \"") + std::string(text) + "\" is too large"};
    total += n * u.ms;
  }
  return Millis{total};
}

std::string format_duration(Millis d) {
  std::int64_t ms = d.count();
  if (ms == 0) return "0s";
  std::string out;
  if (ms < 0) {
    out += '-';
    ms = -ms;
  }
  for (const auto& u : kUnits) {
    if (ms >= u.ms) {
      out += std::to_string(ms / u.ms);
      out += u.name;
      ms %= u.ms;
    }
  }
  return out;
}

}  // namespace mmsmon

// libFuzzer target: the config parser (relaxed JSON, decoding, positions) and the duration
// parser. Any input must give a config or a list of errors, never a crash.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "core/config.hpp"
#include "core/duration.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  auto cfg = mmsmon::parse_config(text, "fuzz.json");
  if (!cfg)
    for (const auto& e : cfg.error())
      (void)e.to_string();
  if (size < 64) {
    auto d = mmsmon::parse_duration(text);
    if (d) (void)mmsmon::format_duration(*d);
  }
  return 0;
}

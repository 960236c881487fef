// libFuzzer target: the state file loader. Any file must load whole or be refused with a
// reason, never a crash; what loads must encode again.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "core/state_codec.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  auto d = mmsmon::decode_state(text);
  if (d) {
    mmsmon::Fleet f;
    f.restore(d->state);
    (void)mmsmon::encode_state(f.save(), d->written);
  }
  return 0;
}

// libFuzzer target: every API response decoder, error classification and the rate-limit
// header parser. Any body must decode or give a classified error, never a crash.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "core/api_decode.hpp"
#include "core/api_error.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace mmsmon;
  std::string_view body(reinterpret_cast<const char*>(data), size);
  const JobKey key{SourceId{2000015}, JobId{10}};
  (void)decode_get_job(body, key);
  (void)decode_list_jobs(body, SourceId{2000015});
  (void)decode_list_data_sources(body);
  (void)decode_list_tasks(body);
  (void)decode_list_task_logs(body);
  auto rl = parse_rate_limit(body.substr(0, 256));
  (void)classify_error_response(size % 600, body, rl, std::nullopt);
  (void)parse_api_time(body.substr(0, 32), std::chrono::minutes{480}, BareDate::end_of_day);
  return 0;
}

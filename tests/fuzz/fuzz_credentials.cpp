// libFuzzer target: the answers of the credential services (ECS metadata, STS, credentials
// URI). Any body must give credentials or an error naming the source, never a crash, and
// the error never quotes the body (it may hold a secret).
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "core/credential_sources.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  for (auto shape : {mmsmon::CredentialAnswer::ecs, mmsmon::CredentialAnswer::sts,
                     mmsmon::CredentialAnswer::uri}) {
    auto r = mmsmon::parse_temporary_credentials(text, shape, "source");
    if (!r && r.error().rfind("source: ", 0) != 0) std::abort();
    if (r && (r->creds.access_key_id.empty() || r->creds.security_token.empty())) std::abort();
  }
  (void)mmsmon::parse_expiration(text);
  return 0;
}

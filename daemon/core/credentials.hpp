#pragma once

#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "core/config.hpp"
#include "core/result.hpp"

namespace mmsmon {

/// A secret string: it can be used but not printed (no operator<<, no implicit conversion).
class Secret {
 public:
  Secret() = default;
  explicit Secret(std::string s) : s_(std::move(s)) {}
  Secret(const Secret&) = default;
  Secret& operator=(const Secret&) = default;
  ~Secret();
  /// The secret itself, for signing only.
  std::string_view reveal() const { return s_; }
  bool empty() const { return s_.empty(); }

 private:
  std::string s_;
};

/// Resolved API credentials. `source` says where they came from (printable).
struct Credentials {
  std::string access_key_id;
  Secret access_key_secret;
  Secret security_token;  ///< empty unless STS
  std::string source;     ///< e.g. `environment`, `profile "prod" in /root/.aliyun/config.json`
};

/// Reads an environment variable (injected so tests control the environment).
using EnvLookup = std::function<std::optional<std::string>(std::string_view)>;
/// The process environment.
EnvLookup process_env();

/// Resolves credentials. Order (the README documents it):
///  1. `ALIBABA_CLOUD_ACCESS_KEY_ID` + `ALIBABA_CLOUD_ACCESS_KEY_SECRET`
///     (+ `ALIBABA_CLOUD_SECURITY_TOKEN`);
///  2. systemd credentials in `$CREDENTIALS_DIRECTORY`: files `access_key_id`,
///     `access_key_secret`, optional `security_token`;
///  3. an Aliyun CLI profile (modes `AK`, `StsToken`) from `credentials.config_file`,
///     `ALIBABA_CLOUD_CONFIG_FILE` or `~/.aliyun/config.json`; the profile is
///     `credentials.profile`, `ALIBABA_CLOUD_PROFILE` or the file's `current`.
/// With `credentials.profile` set only step 3 is used. On failure the message names every
/// place that was tried, and never contains a secret.
/// (Only fixed credentials: a source that must be asked over the network is an error here.)
Result<Credentials> resolve_credentials(const CredentialsConfig& cfg, const EnvLookup& env);

}  // namespace mmsmon

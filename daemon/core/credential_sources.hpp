#pragma once

#include <chrono>
#include <string>
#include <string_view>
#include <variant>

#include "core/credentials.hpp"
#include "core/result.hpp"
#include "core/types.hpp"

namespace mmsmon {

/// Credentials that expire, and when.
struct TemporaryCredentials {
  Credentials creds;
  WallTime expiration;
};

/// The ECS instance RAM role, from the metadata service at 100.100.100.200.
struct EcsRoleSource {
  std::string role_name;            ///< empty: ask the metadata service for it
  bool allow_without_token = true;  ///< the old mode, unless ALIBABA_CLOUD_IMDSV1_DISABLED=true
  std::string endpoint = "http://100.100.100.200";
};

/// RRSA / OIDC: STS AssumeRoleWithOIDC with a token read from a file at every refresh.
struct OidcSource {
  std::string role_arn;
  std::string provider_arn;
  std::string token_file;
  std::string session_name = "mmsmon";
  std::string sts_endpoint = "https://sts.aliyuncs.com";
  std::chrono::seconds duration{3600};
};

/// A URL that answers GET with credentials (a sidecar, a vault agent).
struct UriSource {
  std::string url;
};

using RefreshingSource = std::variant<EcsRoleSource, OidcSource, UriSource>;

/// Where the credentials come from: fixed ones, or a source asked again before expiry.
struct CredentialPlan {
  std::variant<Credentials, RefreshingSource> how;
  std::string source;  ///< printable: `environment (...)`, `ECS RAM role "r"`, ...
};

/// Where the credentials come from: the chain of the official libraries (README
/// "Credentials"): the environment's keys, systemd's $CREDENTIALS_DIRECTORY, OIDC from the
/// environment, the Aliyun CLI profile (AK, StsToken, EcsRamRole, OIDC), the shared
/// credentials file, the ECS RAM role (only when ALIBABA_CLOUD_ECS_METADATA names one), the
/// credentials URI. `credentials.profile` or `credentials.type` pick one source alone. On
/// failure the message lists every place tried, and never contains a secret.
Result<CredentialPlan> plan_credentials(const CredentialsConfig& cfg, const EnvLookup& env);

/// Parses a temporary-credential answer. `shape` says where the fields are: `ecs` and `uri`
/// at the top (with `Code` "Success" when present), `sts` under `Credentials`. Errors name
/// `source` and the missing or bad field, never a value.
enum class CredentialAnswer { ecs, sts, uri };
Result<TemporaryCredentials> parse_temporary_credentials(std::string_view body,
                                                         CredentialAnswer shape,
                                                         const std::string& source);

/// Parses `2006-01-02T15:04:05Z` (UTC).
std::optional<WallTime> parse_expiration(std::string_view s);

/// When to refresh credentials obtained at `obtained` that expire at `expiration`: 180 s
/// before expiry as the official libraries do, or a third of their life before it for
/// credentials that live under nine minutes (tests), never before `obtained`.
WallTime refresh_at(WallTime obtained, WallTime expiration);

/// The STS endpoint for OIDC: `ALIBABA_CLOUD_STS_REGION` gives `sts.<region>.aliyuncs.com`,
/// with `ALIBABA_CLOUD_VPC_ENDPOINT_ENABLED=true` `sts-vpc.<region>.aliyuncs.com`.
std::string sts_endpoint(const std::optional<std::string>& region, bool vpc);

/// The AssumeRoleWithOIDC request: its target (path and query) and its form body.
std::string oidc_target(WallTime now);
std::string oidc_form(const OidcSource& s, std::string_view token);

/// Splits `http[s]://host[:port]/path?query` into the endpoint part and the target.
Result<std::pair<std::string, std::string>> split_url(std::string_view url);

}  // namespace mmsmon

#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "core/credential_sources.hpp"
#include "core/duration.hpp"
#include "core/result.hpp"

namespace mmsmon {

struct CredentialProviderOptions {
  Millis metadata_timeout{1000};  ///< each step with the ECS metadata service
  Millis timeout{10'000};         ///< each step with STS or a credentials URI
  std::optional<std::string> ca_file;
};

/// Asks a source of temporary credentials (ECS metadata service, STS AssumeRoleWithOIDC, a
/// credentials URI) and keeps them fresh: refreshed ahead of expiry (refresh_at), retried
/// with backoff (1 s doubling to 1 min, never past expiry) when the source fails.
/// Single-threaded: use it from the executor it was made on.
class CredentialProvider {
 public:
  using WallClock = std::function<WallTime()>;
  static Result<std::unique_ptr<CredentialProvider>> create(boost::asio::any_io_executor ex,
                                                            RefreshingSource source,
                                                            std::string name,
                                                            CredentialProviderOptions opt,
                                                            WallClock clock = {});
  ~CredentialProvider();
  CredentialProvider(const CredentialProvider&) = delete;
  CredentialProvider& operator=(const CredentialProvider&) = delete;

  /// Asks the source once. Errors name the source and what went wrong, never a secret.
  boost::asio::awaitable<Result<TemporaryCredentials>> fetch();

  /// What the refresh loop reports.
  struct Observer {
    std::function<void(const TemporaryCredentials&)> updated;
    /// A failed attempt; `expired`: the credentials in use have expired meanwhile.
    std::function<void(const std::string& error, bool expired)> failed;
  };
  /// Starts the refresh loop after `current` (from fetch(); none: ask at once).
  void start(std::optional<TemporaryCredentials> current, Observer observer);
  /// Ends the loop and any exchange under way.
  void stop();

  const std::string& name() const;

  struct Impl;

 private:
  explicit CredentialProvider(std::shared_ptr<Impl> impl);
  std::shared_ptr<Impl> impl_;
};

/// Fetches credentials once on a private event loop (for --once and --check-config).
Result<TemporaryCredentials> fetch_credentials_now(const RefreshingSource& source,
                                                   const std::string& name,
                                                   CredentialProviderOptions opt);

}  // namespace mmsmon

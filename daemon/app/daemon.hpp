#pragma once

#include <memory>
#include <optional>
#include <string>

#include "core/config.hpp"
#include "core/credential_sources.hpp"
#include "core/credentials.hpp"

namespace mmsmon {

struct DaemonOptions {
  std::string config_path;
  /// Where to write the bound HTTP port once listening (tests, tooling). May be a FIFO.
  std::optional<std::string> port_file;
  /// Temporary credentials: where to ask again, and when the first ones expire.
  std::optional<RefreshingSource> credential_source = {};
  WallTime credential_expiry = {};
};

/// The `source_type` of mmsmon_credentials_info for a source.
std::string credential_source_type(const CredentialPlan& plan);

/// The long-running daemon: one io_context, one coroutine per job, the HTTP server, the
/// alert log and the metrics. Owns everything long-lived.
class Daemon {
 public:
  Daemon(Config cfg, Credentials creds, DaemonOptions opt);
  ~Daemon();
  Daemon(const Daemon&) = delete;
  Daemon& operator=(const Daemon&) = delete;

  /// Runs until SIGTERM or SIGINT; returns the process exit status.
  int run();

  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace mmsmon

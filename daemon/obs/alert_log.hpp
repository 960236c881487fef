#pragma once

#include <cstdio>
#include <functional>
#include <memory>
#include <string>

#include "core/alert_policy.hpp"
#include "core/config.hpp"
#include "core/result.hpp"

namespace spdlog {
class logger;
}

namespace mmsmon {

/// Writes each alert as one line to the alert file (JSON Lines or logfmt), flushed at
/// once, and to the main log at a level matching its severity.
class AlertLog {
 public:
  /// Opens (creates, appends to) `cfg.file`. Fails with a message naming the file.
  static Result<std::unique_ptr<AlertLog>> open(const AlertsConfig& cfg,
                                                std::shared_ptr<spdlog::logger> main_log);
  ~AlertLog();
  AlertLog(const AlertLog&) = delete;
  AlertLog& operator=(const AlertLog&) = delete;

  void write(const Alert& a);
  /// Reopens the file by name (after logrotate moved it). Keeps the old one on failure.
  Result<bool> reopen();

 private:
  AlertLog(AlertsConfig cfg, std::FILE* f, std::shared_ptr<spdlog::logger> log);
  AlertsConfig cfg_;
  std::FILE* file_;
  std::shared_ptr<spdlog::logger> log_;
};

}  // namespace mmsmon

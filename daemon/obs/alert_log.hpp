#pragma once

#include <cstdint>
#include <deque>
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

/// Writes each alert as one line to the alert file (JSON Lines or logfmt) and to the main
/// log at a level matching its severity. Each line goes out whole in one write(2) to a file
/// opened with O_APPEND; a write that fails (a full disk) leaves no fragment behind (the
/// file is cut back) and the line waits, in order, in a bounded queue until the file takes
/// it again (retry() and every later write). A file deleted or replaced under it (rotation
/// without a reload) is noticed by its inode and reopened.
class AlertLog {
 public:
  /// Lines kept while the file cannot be written; beyond, the oldest are dropped (counted).
  static constexpr std::size_t kMaxQueue = 10'000;

  /// Opens (creates, appends to) `cfg.file`. Fails with a message naming the file.
  static Result<std::unique_ptr<AlertLog>> open(const AlertsConfig& cfg,
                                                std::shared_ptr<spdlog::logger> main_log);
  ~AlertLog();
  AlertLog(const AlertLog&) = delete;
  AlertLog& operator=(const AlertLog&) = delete;

  void write(const Alert& a);
  /// Writes what waits in the queue, if the file takes it now; reopens a file that was
  /// deleted or replaced. Call it now and then (the daemon does, every 200 ms).
  void retry();
  /// Reopens the file by name (after logrotate moved it). Keeps the old one on failure.
  Result<bool> reopen();

  /// Takes over the lines still waiting in `old` (a reload opened this one in its place).
  void take_queue_from(AlertLog& old) {
    queue_.insert(queue_.begin(), old.queue_.begin(), old.queue_.end());
    old.queue_.clear();
    dropped_ += old.dropped_;
    failing_ = old.failing_;
  }

  /// Called for each line that could not be written when it was due.
  void set_failure_observer(std::function<void()> f) { on_failure_ = std::move(f); }
  std::size_t queued() const { return queue_.size(); }
  std::uint64_t dropped() const { return dropped_; }

 private:
  AlertLog(AlertsConfig cfg, int fd, std::shared_ptr<spdlog::logger> log);
  /// Writes `line` whole, or not at all. Sets errno on failure.
  bool write_line(const std::string& line);
  void drain();
  void reopen_if_replaced();

  AlertsConfig cfg_;
  int fd_ = -1;
  unsigned long long dev_ = 0, ino_ = 0;
  std::shared_ptr<spdlog::logger> log_;
  std::deque<std::string> queue_;
  std::uint64_t dropped_ = 0;
  bool failing_ = false;
  std::function<void()> on_failure_;
};

}  // namespace mmsmon

#include "obs/alert_log.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <spdlog/spdlog.h>
#include <cerrno>
#include <cstring>

namespace mmsmon {

namespace {

int open_append(const std::string& path) {
  return ::open(path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
}

}  // namespace

AlertLog::AlertLog(AlertsConfig cfg, int fd, std::shared_ptr<spdlog::logger> log)
    : cfg_(std::move(cfg)), fd_(fd), log_(std::move(log)) {
  struct stat st {};
  if (::fstat(fd_, &st) == 0) {
    dev_ = st.st_dev;
    ino_ = st.st_ino;
  }
}

AlertLog::~AlertLog() {
  if (fd_ >= 0) ::close(fd_);
}

Result<std::unique_ptr<AlertLog>> AlertLog::open(const AlertsConfig& cfg,
                                                 std::shared_ptr<spdlog::logger> main_log) {
  int fd = open_append(cfg.file);
  if (fd < 0) return Failure{"cannot open alert file " + cfg.file + ": " + std::strerror(errno)};
  return std::unique_ptr<AlertLog>(new AlertLog(cfg, fd, std::move(main_log)));
}

bool AlertLog::write_line(const std::string& line) {
  struct stat st {};
  bool sized = ::fstat(fd_, &st) == 0 && S_ISREG(st.st_mode);
  auto n = ::write(fd_, line.data(), line.size());
  if (n == static_cast<ssize_t>(line.size())) return true;
  int saved = n < 0 ? errno : ENOSPC;
  // A part of the line went out (the disk filled up mid-line): cut it off again, so that
  // the next line does not get glued to a fragment.
  if (n > 0 && sized) (void)!::ftruncate(fd_, st.st_size);
  errno = saved;
  return false;
}

void AlertLog::drain() {
  while (!queue_.empty()) {
    if (!write_line(queue_.front())) return;
    queue_.pop_front();
  }
  if (failing_) {
    failing_ = false;
    log_->info("alert file {} is writable again; every waiting alert was written", cfg_.file);
  }
}

void AlertLog::reopen_if_replaced() {
  struct stat st {};
  if (::stat(cfg_.file.c_str(), &st) == 0 && static_cast<unsigned long long>(st.st_dev) == dev_ &&
      static_cast<unsigned long long>(st.st_ino) == ino_)
    return;
  // Deleted, or another file under the name: write to what the name means now.
  if (auto r = reopen(); r)
    log_->warn("alert file {} was deleted or replaced; reopened it", cfg_.file);
}

void AlertLog::write(const Alert& a) {
  std::string line =
      cfg_.format == AlertsConfig::Format::json ? format_alert_json(a) : format_alert_logfmt(a);
  line += '\n';
  reopen_if_replaced();
  queue_.push_back(std::move(line));
  std::size_t before = queue_.size();
  drain();
  if (!queue_.empty()) {
    // This line (and maybe older ones) wait for the file.
    if (queue_.size() == before && on_failure_) on_failure_();
    if (!failing_)
      log_->error("cannot write to alert file {}: {}; keeping alerts until it takes them",
                  cfg_.file, std::strerror(errno));
    failing_ = true;
    while (queue_.size() > kMaxQueue) {
      queue_.pop_front();
      ++dropped_;
    }
  }
  spdlog::level::level_enum lvl = spdlog::level::info;
  if (a.state != AlertState::resolved) {
    if (a.severity == Severity::critical) lvl = spdlog::level::err;
    if (a.severity == Severity::warning) lvl = spdlog::level::warn;
  }
  log_->log(lvl, "alert {}", format_alert_logfmt(a));
}

void AlertLog::retry() {
  reopen_if_replaced();
  if (!queue_.empty()) drain();
}

Result<bool> AlertLog::reopen() {
  int fd = open_append(cfg_.file);
  if (fd < 0) return Failure{"cannot reopen alert file " + cfg_.file + ": " + std::strerror(errno)};
  ::close(fd_);
  fd_ = fd;
  struct stat st {};
  if (::fstat(fd_, &st) == 0) {
    dev_ = st.st_dev;
    ino_ = st.st_ino;
  }
  return true;
}

}  // namespace mmsmon

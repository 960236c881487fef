#include "obs/alert_log.hpp"

#include <spdlog/spdlog.h>
#include <cerrno>
#include <cstring>

namespace mmsmon {

namespace {
std::FILE* open_append(const std::string& path) {
  return std::fopen(path.c_str(), "ae");
}
}  // namespace

AlertLog::AlertLog(AlertsConfig cfg, std::FILE* f, std::shared_ptr<spdlog::logger> log)
    : cfg_(std::move(cfg)), file_(f), log_(std::move(log)) {}

AlertLog::~AlertLog() {
  if (file_) std::fclose(file_);
}

Result<std::unique_ptr<AlertLog>> AlertLog::open(const AlertsConfig& cfg,
                                                 std::shared_ptr<spdlog::logger> main_log) {
  std::FILE* f = open_append(cfg.file);
  if (!f) return Failure{"cannot open alert file " + cfg.file + ": " + std::strerror(errno)};
  return std::unique_ptr<AlertLog>(new AlertLog(cfg, f, std::move(main_log)));
}

void AlertLog::write(const Alert& a) {
  std::string line =
      cfg_.format == AlertsConfig::Format::json ? format_alert_json(a) : format_alert_logfmt(a);
  line += '\n';
  if (std::fwrite(line.data(), 1, line.size(), file_) != line.size() || std::fflush(file_) != 0)
    log_->error("cannot write to alert file {}: {}", cfg_.file, std::strerror(errno));
  spdlog::level::level_enum lvl = spdlog::level::info;
  if (a.state != AlertState::resolved) {
    if (a.severity == Severity::critical) lvl = spdlog::level::err;
    if (a.severity == Severity::warning) lvl = spdlog::level::warn;
  }
  log_->log(lvl, "alert {}", format_alert_logfmt(a));
}

Result<bool> AlertLog::reopen() {
  std::FILE* f = open_append(cfg_.file);
  if (!f) return Failure{"cannot reopen alert file " + cfg_.file + ": " + std::strerror(errno)};
  std::fclose(file_);
  file_ = f;
  return true;
}

}  // namespace mmsmon

#include "obs/logging.hpp"

#include <sys/stat.h>

#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/sinks/systemd_sink.h>
#include <spdlog/spdlog.h>
#include <cstdio>
#include <cstdlib>
#include <string_view>

namespace mmsmon {

namespace {

/// True when stderr is the journal stream systemd gave us (see systemd.exec(5),
/// $JOURNAL_STREAM: "device:inode" of that stream).
bool stderr_is_journal() {
  const char* js = std::getenv("JOURNAL_STREAM");
  if (!js) return false;
  struct stat st {};
  if (fstat(fileno(stderr), &st) != 0) return false;
  unsigned long long dev = 0, ino = 0;
  if (std::sscanf(js, "%llu:%llu", &dev, &ino) != 2) return false;
  return dev == static_cast<unsigned long long>(st.st_dev) &&
         ino == static_cast<unsigned long long>(st.st_ino);
}

}  // namespace

std::shared_ptr<spdlog::logger> make_main_logger(const std::string& level) {
  std::shared_ptr<spdlog::logger> log;
  if (stderr_is_journal()) {
    // The journal adds its own timestamp; keep the message plain.
    auto sink = std::make_shared<spdlog::sinks::systemd_sink_st>("mmsmon");
    log = std::make_shared<spdlog::logger>("mmsmon", sink);
    log->set_pattern("%v");
  } else {
    auto sink = std::make_shared<spdlog::sinks::stderr_sink_st>();
    log = std::make_shared<spdlog::logger>("mmsmon", sink);
    log->set_pattern("%Y-%m-%dT%H:%M:%S.%eZ %l %v", spdlog::pattern_time_type::utc);
  }
  log->set_level(spdlog::level::from_str(level));
  log->flush_on(spdlog::level::trace);
  return log;
}

}  // namespace mmsmon

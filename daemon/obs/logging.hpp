#pragma once

#include <memory>
#include <string>

namespace spdlog {
class logger;
}

namespace mmsmon {

/// The main log: journald (with priorities) when stderr is connected to the journal, as
/// under systemd (`$JOURNAL_STREAM`), otherwise stderr. `level` is a config log_level.
std::shared_ptr<spdlog::logger> make_main_logger(const std::string& level);

}  // namespace mmsmon

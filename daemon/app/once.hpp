#pragma once

#include <ostream>

#include "core/config.hpp"
#include "core/credentials.hpp"

namespace mmsmon {

enum class OnceFormat { table, json };

/// `mmsmon --once`: polls every configured job once (up to `api.max_connections` at a time),
/// prints the results to `out`, problems to `err`. Returns the exit status: 0 when every
/// poll succeeded, 1 otherwise.
int run_once(const Config& cfg, Credentials creds, OnceFormat format, std::ostream& out,
             std::ostream& err);

}  // namespace mmsmon

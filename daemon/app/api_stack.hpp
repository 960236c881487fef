#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <exception>
#include <functional>
#include <memory>
#include <string>

#include "core/config.hpp"
#include "core/credentials.hpp"
#include "core/result.hpp"
#include "io/http_client.hpp"
#include "io/mms_client.hpp"

namespace mmsmon {

/// The API client stack that both the daemon and `--once` use: the HTTP(S) client for the
/// configured endpoint and the MMS client on top of it.
struct ApiStack {
  Endpoint endpoint;
  std::unique_ptr<HttpClient> http;
  std::unique_ptr<MmsClient> client;  ///< refers to *http
};

/// Builds the stack from the config. Fails with a message (bad endpoint, unreadable CA file).
Result<ApiStack> make_api_stack(boost::asio::any_io_executor ex, const Config& cfg,
                                Credentials creds);

/// A co_spawn completion handler that reports an exception escaping the coroutine (a bug)
/// through `report`, with `what` naming the coroutine.
std::function<void(std::exception_ptr)> report_crash(
    std::string what, std::function<void(const std::string&)> report);

}  // namespace mmsmon

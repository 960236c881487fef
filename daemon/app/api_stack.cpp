#include "app/api_stack.hpp"

#include <algorithm>

#include "io/crash.hpp"
#include "version.hpp"

namespace mmsmon {

Result<ApiStack> make_api_stack(boost::asio::any_io_executor ex, const Config& cfg,
                                Credentials creds) {
  auto ep = parse_endpoint(api_base_url(cfg.api));
  if (!ep) return Failure{ep.error()};
  HttpClientOptions hopt;
  hopt.timeout = cfg.api.timeout;
  hopt.ca_file = cfg.api.ca_file;
  hopt.max_body = cfg.api.max_response_bytes;
  // Every poll slot may hold a connection; keep as many for reuse.
  hopt.max_idle = std::max(cfg.api.max_connections, cfg.poll.max_in_flight);
  auto h = HttpClient::create(std::move(ex), *ep, hopt);
  if (!h) return Failure{h.error()};
  ApiStack s{*ep, std::move(h).value(), nullptr};
  MmsClient::Options mopt;
  mopt.decode.utc_offset = cfg.api.utc_offset;
  mopt.user_agent = std::string("mmsmon/") + kVersion;
  s.client = std::make_unique<MmsClient>(*s.http, std::move(creds), mopt);
  return s;
}

std::function<void(std::exception_ptr)> report_crash(
    std::string what, std::function<void(const std::string&)> report) {
  return [what = std::move(what), report = std::move(report)](std::exception_ptr e) {
    if (e) report("internal error in " + what + ": " + crash_what(e));
  };
}

}  // namespace mmsmon

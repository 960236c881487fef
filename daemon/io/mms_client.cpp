#include "io/mms_client.hpp"

#include <openssl/rand.h>

namespace mmsmon {
namespace asio = boost::asio;
using asio::awaitable;

std::string MmsClient::next_nonce() {
  char buf[33];
  std::snprintf(buf, sizeof buf, "%016llx%016llx", static_cast<unsigned long long>(nonce_prefix_),
                static_cast<unsigned long long>(++nonce_counter_));
  return buf;
}

MmsClient::MmsClient(HttpClient& http, Credentials creds, Options opt, Clock clock)
    : http_(http), creds_(std::move(creds)), opt_(std::move(opt)), clock_(std::move(clock)) {
  if (!clock_) clock_ = [] { return std::chrono::system_clock::now(); };
  // 64 random bits from the OpenSSL CSPRNG once, then a counter: unique per request (all
  // a nonce needs) without a CSPRNG call on every poll.
  if (RAND_bytes(reinterpret_cast<unsigned char*>(&nonce_prefix_), sizeof nonce_prefix_) != 1)
    throw std::runtime_error("RAND_bytes failed");
}

namespace {

FailureReason reason_of(TransportFailure f) {
  switch (f) {
    case TransportFailure::timeout:
      return FailureReason::timeout;
    case TransportFailure::tls:
      return FailureReason::tls;
    case TransportFailure::too_large:
    case TransportFailure::protocol:
      return FailureReason::decode;
    case TransportFailure::network:
      break;
  }
  return FailureReason::network;
}

std::optional<RateLimit> tighter(const std::optional<RateLimit>& a,
                                 const std::optional<RateLimit>& b) {
  if (!a) return b;
  if (!b) return a;
  return a->remain.value_or(1) <= b->remain.value_or(1) ? a : b;
}

/// Turns what the transport gave into the body or the classified error, and describes
/// the call in `out`. (Plain code, not in a coroutine: keeps coroutine frames small.)
Result<std::string, ApiError> to_result(Result<HttpResponse, TransportError> r,
                                        std::chrono::steady_clock::time_point started,
                                        CallOutcome& out) {
  out.duration = std::chrono::steady_clock::now() - started;
  if (!r) {
    ApiError e;
    e.reason = reason_of(r.error().kind);
    e.message = std::move(r.error().message);
    out.failure = e.reason;
    return Failure{std::move(e)};
  }
  std::optional<RateLimit> user_api, user;
  if (auto h = r->header("x-ratelimit-user-api")) user_api = parse_rate_limit(*h);
  if (auto h = r->header("x-ratelimit-user")) user = parse_rate_limit(*h);
  out.rate_limit = tighter(user_api, user);
  if (r->status >= 200 && r->status < 300) return std::move(r->body);
  auto e = classify_error_response(r->status, r->body, user_api, user);
  out.failure = e.reason;
  return Failure{std::move(e)};
}

}  // namespace

HttpRequest MmsClient::sign(const ApiCall& c) {
  SigningKey key{creds_.access_key_id, creds_.access_key_secret.reveal(),
                 creds_.security_token.reveal()};
  // Signed anew for each attempt: the nonce must never repeat.
  auto prepared = prepare_request(c, http_.endpoint().host_header(), key, clock_(), next_nonce(),
                                  opt_.user_agent);
  return HttpRequest{
      std::move(prepared.method), std::move(prepared.target), std::move(prepared.headers), {}};
}

awaitable<Result<std::string, ApiError>> MmsClient::fetch(ApiCall c, CallOutcome& out) {
  out = CallOutcome{c.action, std::nullopt, {}, std::nullopt};
  auto started = std::chrono::steady_clock::now();
  // The whole call, a retry on a stale kept-alive connection included, ends within twice
  // api.timeout (README: "api.timeout").
  auto deadline = started + 2 * http_.timeout();
  Result<HttpResponse, TransportError> r = Failure{TransportError{}};
  for (int attempt = 0; attempt < 2; ++attempt) {
    r = co_await http_.send(sign(c), deadline);
    if (r || !r.error().stale_connection) break;
  }
  co_return to_result(std::move(r), started, out);
}

template <class T, class Decode>
Result<T, ApiError> MmsClient::finish(Result<std::string, ApiError> body, CallOutcome& out,
                                      const Decode& decode) {
  Result<T, ApiError> r =
      body ? decode(*body) : Result<T, ApiError>(Failure{std::move(body).error()});
  if (!r) out.failure = r.error().reason;  // a body we cannot use is a failed call too
  if (observer_) observer_(out);
  return r;
}

template <class T, class Decode>
awaitable<Result<T, ApiError>> MmsClient::call_and_decode(ApiCall c, Decode decode) {
  CallOutcome out;
  auto body = co_await fetch(std::move(c), out);
  co_return finish<T>(std::move(body), out, decode);
}

Result<Job, ApiError> MmsClient::finish_get_job(Result<std::string, ApiError> body,
                                                CallOutcome& out, const JobKey& key) {
  return finish<Job>(std::move(body), out,
                     [&](std::string_view b) { return decode_get_job(b, key, opt_.decode); });
}

awaitable<Result<Job, ApiError>> MmsClient::get_job(JobKey key) {
  CallOutcome out;
  auto body = co_await fetch(get_mms_job_call(key), out);
  co_return finish_get_job(std::move(body), out, key);
}

awaitable<Result<Page<Job>, ApiError>> MmsClient::list_jobs(SourceId source, ListJobsQuery q) {
  return call_and_decode<Page<Job>>(
      list_mms_jobs_call(source, q),
      [this, source](std::string_view b) { return decode_list_jobs(b, source, opt_.decode); });
}

awaitable<Result<Page<DataSource>, ApiError>> MmsClient::list_data_sources(std::int64_t page_num,
                                                                           std::int64_t page_size) {
  return call_and_decode<Page<DataSource>>(
      list_mms_data_sources_call(page_num, page_size),
      [this](std::string_view b) { return decode_list_data_sources(b, opt_.decode); });
}

awaitable<Result<Page<Task>, ApiError>> MmsClient::list_tasks(SourceId source, ListTasksQuery q) {
  return call_and_decode<Page<Task>>(list_mms_tasks_call(source, q), [this](std::string_view b) {
    return decode_list_tasks(b, opt_.decode);
  });
}

awaitable<Result<std::vector<TaskLog>, ApiError>> MmsClient::list_task_logs(SourceId source,
                                                                            std::int64_t task_id) {
  return call_and_decode<std::vector<TaskLog>>(
      list_mms_task_logs_call(source, task_id),
      [this](std::string_view b) { return decode_list_task_logs(b, opt_.decode); });
}

awaitable<Result<std::string, ApiError>> MmsClient::call(ApiCall c) {
  CallOutcome out;
  auto body = co_await fetch(std::move(c), out);
  if (observer_) observer_(out);
  co_return body;
}

}  // namespace mmsmon

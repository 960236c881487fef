#pragma once

#include <boost/asio/awaitable.hpp>
#include <chrono>
#include <functional>
#include <optional>
#include <string>

#include "core/api_decode.hpp"
#include "core/api_request.hpp"
#include "core/credentials.hpp"
#include "io/http_client.hpp"

namespace mmsmon {

/// Typed MMS OpenAPI calls on top of an HttpClient: builds and signs each request, sends
/// it, classifies failures and decodes bodies. Expected failures are values.
class MmsClient {
 public:
  struct Options {
    DecodeOptions decode;
    std::string user_agent = "mmsmon";
  };
  using Clock = std::function<WallTime()>;
  using Observer = std::function<void(const CallOutcome&)>;

  /// `http` must outlive the client.
  MmsClient(HttpClient& http, Credentials creds, Options opt, Clock clock = {});

  boost::asio::awaitable<Result<Job, ApiError>> get_job(JobKey key);
  boost::asio::awaitable<Result<Page<Job>, ApiError>> list_jobs(SourceId source, ListJobsQuery q);
  boost::asio::awaitable<Result<Page<DataSource>, ApiError>> list_data_sources(
      std::int64_t page_num, std::int64_t page_size);
  boost::asio::awaitable<Result<Page<Task>, ApiError>> list_tasks(SourceId source,
                                                                  ListTasksQuery q);
  boost::asio::awaitable<Result<std::vector<TaskLog>, ApiError>> list_task_logs(
      SourceId source, std::int64_t task_id);

  /// Sends one signed call and returns the 2xx body, or the classified error.
  boost::asio::awaitable<Result<std::string, ApiError>> call(ApiCall c);

  /// GetMmsJob in two halves, for a caller that keeps the (large) decoded job out of its
  /// coroutine frames: fetch() sends the call and classifies the answer into `out`;
  /// finish_get_job() decodes the body and then tells the observer (a body that cannot be
  /// used makes the call a failed one). `out` must outlive the fetch (a local of the
  /// awaiting coroutine does).
  boost::asio::awaitable<Result<std::string, ApiError>> fetch(ApiCall c, CallOutcome& out);
  Result<Job, ApiError> finish_get_job(Result<std::string, ApiError> body, CallOutcome& out,
                                       const JobKey& key);

  void set_observer(Observer o) { observer_ = std::move(o); }
  void set_credentials(Credentials c) { creds_ = std::move(c); }
  const Credentials& credentials() const { return creds_; }

 private:
  template <class T, class Decode>
  boost::asio::awaitable<Result<T, ApiError>> call_and_decode(ApiCall c, Decode decode);
  template <class T, class Decode>
  Result<T, ApiError> finish(Result<std::string, ApiError> body, CallOutcome& out,
                             const Decode& decode);
  HttpRequest sign(const ApiCall& c);

  std::string next_nonce();

  HttpClient& http_;
  std::uint64_t nonce_prefix_ = 0;
  std::uint64_t nonce_counter_ = 0;
  Credentials creds_;
  Options opt_;
  Clock clock_;
  Observer observer_;
};

}  // namespace mmsmon

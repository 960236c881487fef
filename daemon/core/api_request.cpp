#include "core/api_request.hpp"

#include <cstdio>

namespace mmsmon {
using namespace std::chrono;

namespace {
std::string datasource_path(SourceId s) {
  return "/api/v1/mms/datasources/" + std::to_string(s.value);
}
}  // namespace

ApiCall get_mms_job_call(const JobKey& key) {
  return {"GetMmsJob",
          "GET",
          datasource_path(key.source) + "/jobs/" + std::to_string(key.job.value),
          {}};
}

ApiCall list_mms_jobs_call(SourceId source, const ListJobsQuery& q) {
  ApiCall c{"ListMmsJobs", "GET", datasource_path(source) + "/jobs", {}};
  if (q.name) c.query.emplace_back("name", *q.name);
  if (q.status) c.query.emplace_back("status", *q.status);
  if (q.stopped) c.query.emplace_back("stopped", *q.stopped ? "1" : "0");
  c.query.emplace_back("pageNum", std::to_string(q.page_num));
  c.query.emplace_back("pageSize", std::to_string(q.page_size));
  return c;
}

ApiCall list_mms_data_sources_call(std::int64_t page_num, std::int64_t page_size) {
  return {"ListMmsDataSources",
          "GET",
          "/api/v1/mms/datasources",
          {{"pageNum", std::to_string(page_num)}, {"pageSize", std::to_string(page_size)}}};
}

ApiCall list_mms_tasks_call(SourceId source, const ListTasksQuery& q) {
  ApiCall c{"ListMmsTasks", "GET", datasource_path(source) + "/tasks", {}};
  if (q.job_id) c.query.emplace_back("jobId", std::to_string(*q.job_id));
  if (q.status) c.query.emplace_back("status", *q.status);
  c.query.emplace_back("pageNum", std::to_string(q.page_num));
  c.query.emplace_back("pageSize", std::to_string(q.page_size));
  return c;
}

ApiCall list_mms_task_logs_call(SourceId source, std::int64_t task_id) {
  return {"ListMmsTaskLogs",
          "GET",
          datasource_path(source) + "/tasks/" + std::to_string(task_id) + "/logs",
          {}};
}

std::string format_acs_date(WallTime now) {
  auto secs = floor<seconds>(now);
  auto dp = floor<days>(secs);
  year_month_day ymd{dp};
  hh_mm_ss hms{secs - dp};
  // By hand: snprintf costs more than the rest of signing a request.
  std::string out = "0000-00-00T00:00:00Z";
  auto put = [&out](std::size_t at, int width, long long v) {
    for (int i = width - 1; i >= 0; --i, v /= 10)
      out[at + static_cast<std::size_t>(i)] = static_cast<char>('0' + v % 10);
  };
  put(0, 4, static_cast<int>(ymd.year()));
  put(5, 2, static_cast<unsigned>(ymd.month()));
  put(8, 2, static_cast<unsigned>(ymd.day()));
  put(11, 2, hms.hours().count());
  put(14, 2, hms.minutes().count());
  put(17, 2, hms.seconds().count());
  return out;
}

PreparedRequest prepare_request(const ApiCall& call, std::string_view host_header,
                                const SigningKey& key, WallTime now, std::string_view nonce,
                                std::string_view user_agent) {
  static const std::string kEmptySha = sha256_hex("");
  SigningInput in;
  in.method = call.method;
  in.canonical_uri = encode_path(call.raw_path);
  in.query = call.query;
  in.payload_sha256 = kEmptySha;
  // Built in place (an initializer list would copy every string once more), with room
  // for the three headers added after signing.
  in.headers.reserve(11);
  in.headers.emplace_back("host", host_header);
  in.headers.emplace_back("x-acs-action", call.action);
  in.headers.emplace_back("x-acs-version", kApiVersion);
  in.headers.emplace_back("x-acs-date", format_acs_date(now));
  in.headers.emplace_back("x-acs-signature-nonce", nonce);
  in.headers.emplace_back("x-acs-content-sha256", kEmptySha);
  if (!key.security_token.empty()) {
    in.headers.emplace_back("x-acs-security-token", key.security_token);
    in.headers.emplace_back("x-acs-accesskey-id", key.access_key_id);
  }
  std::string auth = authorization(in, key.access_key_id, key.access_key_secret);
  PreparedRequest out;
  out.method = call.method;
  out.target = std::move(in.canonical_uri);
  for (std::size_t i = 0; i < call.query.size(); ++i) {
    out.target += i == 0 ? '?' : '&';
    out.target += percent_encode(call.query[i].first);
    out.target += '=';
    out.target += percent_encode(call.query[i].second);
  }
  out.headers = std::move(in.headers);
  out.headers.emplace_back("authorization", std::move(auth));
  out.headers.emplace_back("accept", "application/json");
  out.headers.emplace_back("user-agent", user_agent);
  return out;
}

}  // namespace mmsmon

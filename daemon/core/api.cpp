#include "core/api.hpp"

#include "core/json_text.hpp"

#include <boost/json.hpp>
#include <charconv>
#include <sstream>

namespace mmsmon {
namespace json = boost::json;
using namespace std::chrono;

std::string_view to_string(FailureReason r) {
  switch (r) {
    case FailureReason::throttled:
      return "throttled";
    case FailureReason::auth:
      return "auth";
    case FailureReason::not_found:
      return "not_found";
    case FailureReason::client:
      return "client";
    case FailureReason::server:
      return "server";
    case FailureReason::timeout:
      return "timeout";
    case FailureReason::network:
      return "network";
    case FailureReason::tls:
      return "tls";
    case FailureReason::decode:
      return "decode";
  }
  return "unknown";
}

std::ostream& operator<<(std::ostream& os, FailureReason r) {
  return os << to_string(r);
}

bool is_retryable(FailureReason r) {
  return r == FailureReason::throttled || r == FailureReason::server ||
         r == FailureReason::timeout || r == FailureReason::network;
}

std::optional<RateLimit> parse_rate_limit(std::string_view h) {
  RateLimit rl;
  bool any = false;
  while (!h.empty()) {
    auto comma = h.find(',');
    auto part = h.substr(0, comma);
    h = comma == std::string_view::npos ? std::string_view{} : h.substr(comma + 1);
    while (!part.empty() && part.front() == ' ')
      part.remove_prefix(1);
    auto colon = part.find(':');
    if (colon == std::string_view::npos) continue;
    auto key = part.substr(0, colon);
    auto val = part.substr(colon + 1);
    long long n = 0;
    auto [p, ec] = std::from_chars(val.data(), val.data() + val.size(), n);
    if (ec != std::errc{} || p != val.data() + val.size()) continue;
    if (key == "Limit") rl.limit = n, any = true;
    if (key == "Remain") rl.remain = n, any = true;
    if (key == "TimeLeft" && n >= 0) rl.time_left = milliseconds{n}, any = true;
    if (key == "Reset") rl.reset = n, any = true;
  }
  if (!any) return std::nullopt;
  return rl;
}

std::string ApiError::describe() const {
  std::ostringstream os;
  os << to_string(reason) << ": ";
  if (http_status) os << "HTTP " << http_status << ' ';
  if (!code.empty()) os << code << ": ";
  os << message;
  if (!request_id.empty()) os << " (request id " << request_id << ')';
  return os.str();
}

std::ostream& operator<<(std::ostream& os, const ApiError& e) {
  return os << e.describe();
}

namespace {

/// Keeps text printable and short: control bytes become '?', at most `max` bytes.
std::string sanitize(std::string_view s, std::size_t max = 300) {
  std::string out;
  for (char c : s.substr(0, max)) {
    auto u = static_cast<unsigned char>(c);
    out += (u < 0x20 || u == 0x7f) ? '?' : c;
  }
  if (s.size() > max) out += "...";
  return out;
}

const json::value* member(const json::object& o, std::string_view upper, std::string_view lower) {
  if (auto* v = o.if_contains(upper)) return v;
  return o.if_contains(lower);
}

std::string string_member(const json::object& o, std::string_view upper, std::string_view lower) {
  if (auto* v = member(o, upper, lower))
    if (auto* s = v->if_string()) return sanitize(*s);
  return {};
}

bool is_auth_code(std::string_view c) {
  return c.starts_with("InvalidAccessKeyId") || c == "SignatureDoesNotMatch" ||
         c == "IncompleteSignature" || c.starts_with("InvalidTimeStamp") ||
         c.starts_with("InvalidSecurityToken") || c.starts_with("Forbidden") ||
         c == "NoPermission" || c.starts_with("Unauthorized") || c == "InvalidAuthorization";
}

}  // namespace

ApiError classify_error_response(unsigned status, std::string_view body,
                                 const std::optional<RateLimit>& user_api,
                                 const std::optional<RateLimit>& user) {
  ApiError e;
  e.http_status = status;
  boost::system::error_code ec;
  json::value v = json::parse(json::string_view(body.data(), body.size()), ec);
  if (!ec && v.is_object()) {
    const auto& o = v.get_object();
    e.code = string_member(o, "Code", "code");
    e.message = string_member(o, "Message", "message");
    e.request_id = string_member(o, "RequestId", "requestId");
  } else if (!body.empty()) {
    e.message = "non-JSON error body: " + sanitize(body, 120);
  }
  if (e.message.empty()) e.message = "HTTP " + std::to_string(status) + " without a message";

  std::optional<milliseconds> wait;
  bool exhausted = false;
  for (const auto* rl : {&user_api, &user}) {
    if (*rl && (*rl)->remain && *(*rl)->remain <= 0) {
      exhausted = true;
      if ((*rl)->time_left && (!wait || *(*rl)->time_left > *wait)) wait = (*rl)->time_left;
    }
  }
  const std::string& c = e.code;
  if (c.starts_with("Throttling") || status == 429 || exhausted) {
    e.reason = FailureReason::throttled;
    e.retry_after = wait;
  } else if (is_auth_code(c) || (c.empty() && (status == 401 || status == 403))) {
    e.reason = FailureReason::auth;
  } else if (c == "InvalidApi.NotFound" || c == "SignatureNonceUsed") {
    e.reason = FailureReason::client;
  } else if (c.ends_with("NotFound") || c.find("NotExist") != std::string::npos ||
             (c.empty() && status == 404)) {
    e.reason = FailureReason::not_found;
  } else if (status >= 500 || c == "InternalError" || c == "ServiceUnavailable") {
    e.reason = FailureReason::server;
  } else {
    e.reason = FailureReason::client;
  }
  return e;
}

// ---------------------------------------------------------------- decoding

namespace {

/// Reads optional typed fields of one object; the first wrong type is the error.
class FieldReader {
 public:
  FieldReader(const json::object& o, std::string_view path, const DecodeOptions& opt)
      : o_(o), path_(path), opt_(opt) {}

  std::optional<std::string> error;
  std::vector<std::string> anomalies;

  const json::value* get(std::string_view key) {
    auto* v = o_.if_contains(key);
    if (v && v->is_null()) return nullptr;  // null means "not given"
    return v;
  }

  void wrong(std::string_view key, std::string_view expected, const json::value& v) {
    if (!error)
      error = path_ + "." + std::string(key) + ": expected " + std::string(expected) + ", got " +
              json_kind_name(v);
  }

  std::optional<std::int64_t> integer(std::string_view key) {
    auto* v = get(key);
    if (!v) return std::nullopt;
    if (v->is_int64()) return v->get_int64();
    if (v->is_uint64()) {
      if (v->get_uint64() <= static_cast<std::uint64_t>(INT64_MAX))
        return static_cast<std::int64_t>(v->get_uint64());
      if (!error) error = path_ + "." + std::string(key) + ": integer out of range";
      return std::nullopt;
    }
    wrong(key, "an integer", *v);
    return std::nullopt;
  }

  std::optional<std::int64_t> count(std::string_view key) {
    auto n = integer(key);
    if (n && *n < 0) {
      if (!error) error = path_ + "." + std::string(key) + ": negative count " + std::to_string(*n);
      return std::nullopt;
    }
    return n;
  }

  std::optional<std::string> string(std::string_view key) {
    auto* v = get(key);
    if (!v) return std::nullopt;
    if (!v->is_string()) {
      wrong(key, "a string", *v);
      return std::nullopt;
    }
    const auto& s = v->get_string();
    if (s.size() <= opt_.max_string_bytes) return std::string(s);
    // Cut at a UTF-8 boundary so the kept prefix stays valid text.
    std::size_t cut = opt_.max_string_bytes;
    while (cut > 0 && (static_cast<unsigned char>(s[cut]) & 0xC0) == 0x80)
      --cut;
    anomalies.push_back(path_ + "." + std::string(key) + ": " + std::to_string(s.size()) +
                        "-byte string cut to " + std::to_string(cut) + " bytes");
    return std::string(s.data(), cut);
  }

  std::optional<bool> boolean(std::string_view key) {
    auto* v = get(key);
    if (!v) return std::nullopt;
    if (v->is_bool()) return v->get_bool();
    wrong(key, "a boolean", *v);
    return std::nullopt;
  }

  const std::string& path() const { return path_; }

 private:
  const json::object& o_;
  std::string path_;
  const DecodeOptions& opt_;
};

Result<json::value, ApiError> parse_body(std::string_view body, json::storage_ptr sp = {}) {
  json::parse_options po;
  po.max_depth = 32;
  unsigned char temp[4096];
  // The constructor's resource is only for the parser's own temporaries (beyond `temp`);
  // the resulting value lives in the resource given to reset().
  json::stream_parser p({}, po, temp, sizeof temp);
  p.reset(std::move(sp));
  boost::system::error_code ec;
  std::size_t used = p.write_some(body.data(), body.size(), ec);
  if (!ec) p.finish(ec);
  if (ec) {
    ApiError e;
    e.reason = FailureReason::decode;
    e.message = "invalid JSON at byte " + std::to_string(used) + " of " +
                std::to_string(body.size()) + ": " + ec.message();
    return Failure{std::move(e)};
  }
  return p.release();
}

ApiError decode_error(std::string msg, std::string request_id = {}) {
  ApiError e;
  e.reason = FailureReason::decode;
  e.message = std::move(msg);
  e.request_id = std::move(request_id);
  return e;
}

/// Parses the envelope and returns `data` (or an error naming what is wrong).
Result<std::pair<const json::value*, std::string>, ApiError> envelope(const json::value& root) {
  const auto* o = root.if_object();
  if (!o) return Failure{decode_error("response is " + json_kind_name(root) + ", not an object")};
  std::string rid = string_member(*o, "RequestId", "requestId");
  const auto* data = o->if_contains("data");
  if (!data || data->is_null()) return Failure{decode_error("response has no \"data\"", rid)};
  return std::pair<const json::value*, std::string>{data, rid};
}

template <class T, class F>
Result<Page<T>, ApiError> decode_page(std::string_view body, F&& item) {
  json::monotonic_resource mr;  // one block per many values, freed at once
  auto root = parse_body(body, &mr);
  if (!root) return Failure{std::move(root).error()};
  auto env = envelope(root.value());
  if (!env) return Failure{std::move(env).error()};
  const auto& [data, rid] = env.value();
  const auto* o = data->if_object();
  if (!o)
    return Failure{decode_error("data: expected an object, got " + json_kind_name(*data), rid)};
  DecodeOptions opt;
  FieldReader r(*o, "data", opt);
  Page<T> page;
  page.total = r.count("total").value_or(0);
  page.page_num = r.count("pageNum").value_or(1);
  page.page_size = r.count("pageSize").value_or(0);
  if (r.error) return Failure{decode_error(*r.error, rid)};
  const auto* list = o->if_contains("objectList");
  if (list && !list->is_null()) {
    if (!list->is_array())
      return Failure{
          decode_error("data.objectList: expected an array, got " + json_kind_name(*list), rid)};
    std::size_t i = 0;
    for (const auto& v : list->get_array()) {
      std::string path = "data.objectList[" + std::to_string(i++) + "]";
      auto t = item(v, path);
      if (t)
        page.items.push_back(std::move(t).value());
      else
        page.item_errors.push_back(std::move(t).error());
    }
  }
  return page;
}

}  // namespace

std::optional<WallTime> parse_api_time(std::string_view s, minutes utc_offset,
                                       bool date_means_end_of_day) {
  auto num = [&](std::size_t pos, std::size_t len, int& out) {
    if (pos + len > s.size()) return false;
    auto [p, ec] = std::from_chars(s.data() + pos, s.data() + pos + len, out);
    return ec == std::errc{} && p == s.data() + pos + len;
  };
  int y = 0, mo = 0, d = 0, h = 0, mi = 0, se = 0;
  if (!num(0, 4, y) || s.size() < 10 || s[4] != '-' || !num(5, 2, mo) || s[7] != '-' ||
      !num(8, 2, d))
    return std::nullopt;
  bool date_only = s.size() == 10;
  if (!date_only) {
    if (s.size() != 19 || (s[10] != ' ' && s[10] != 'T') || !num(11, 2, h) || s[13] != ':' ||
        !num(14, 2, mi) || s[16] != ':' || !num(17, 2, se))
      return std::nullopt;
    if (h > 23 || mi > 59 || se > 60) return std::nullopt;
  }
  year_month_day ymd{year{y}, month{static_cast<unsigned>(mo)}, day{static_cast<unsigned>(d)}};
  if (!ymd.ok()) return std::nullopt;
  sys_seconds t = sys_days{ymd} + hours{h} + minutes{mi} + seconds{se};
  if (date_only && date_means_end_of_day) t += days{1};
  return WallTime{t - utc_offset};
}

Result<Job, std::string> decode_job(const json::value& v, std::string_view path,
                                    std::optional<SourceId> source, const DecodeOptions& opt,
                                    std::optional<JobId> job) {
  const auto* o = v.if_object();
  if (!o) return Failure{std::string(path) + ": expected an object, got " + json_kind_name(v)};
  FieldReader r(*o, path, opt);
  Job j;
  auto id = r.integer("id");
  auto sid = r.integer("sourceId");
  if (id)
    j.key.job = JobId{*id};
  else if (job)
    j.key.job = *job;
  if (sid)
    j.key.source = SourceId{*sid};
  else if (source)
    j.key.source = *source;
  j.name = r.string("name");
  j.db_id = r.integer("dbId");
  j.source_name = r.string("sourceName");
  j.src_db = r.string("srcDbName");
  j.src_schema = r.string("srcSchemaName");
  j.dst_db = r.string("dstDbName");
  j.dst_schema = r.string("dstSchemaName");
  if (auto s = r.string("status")) {
    j.status = parse_job_status(*s);
    j.status_raw = *s;
    if (*j.status == JobStatus::unknown) r.anomalies.push_back("unknown status \"" + *s + "\"");
  }
  j.type = r.string("type");
  j.task_num = r.count("taskNum");
  j.task_done = r.count("taskDone");
  j.stopped = r.boolean("stopped");
  if (auto s = r.string("createTime")) {
    j.create_time = parse_api_time(*s, opt.utc_offset, false);
    if (!j.create_time)
      r.anomalies.push_back("createTime \"" + *s + "\" is not yyyy-MM-dd HH:mm:ss");
  }
  if (auto s = r.string("eta")) {
    if (!s->empty()) {
      j.eta_raw = *s;
      j.eta = parse_api_time(*s, opt.utc_offset, true);
      if (!j.eta) r.anomalies.push_back("eta \"" + *s + "\" is not a date");
    }
  }
  if (r.error) return Failure{std::move(*r.error)};
  if (!id && !job) return Failure{std::string(path) + ": missing \"id\""};
  if (j.task_num && j.task_done && *j.task_done > *j.task_num)
    r.anomalies.push_back("taskDone " + std::to_string(*j.task_done) + " > taskNum " +
                          std::to_string(*j.task_num));
  j.anomalies = std::move(r.anomalies);
  return j;
}

Result<Job, ApiError> decode_get_job(std::string_view body, const JobKey& expected,
                                     const DecodeOptions& opt) {
  // A whole GetMmsJob body fits the stack buffer: parsing allocates nothing on the heap.
  unsigned char buffer[8192];
  json::monotonic_resource mr(buffer, sizeof buffer);
  auto root = parse_body(body, &mr);
  if (!root) return Failure{std::move(root).error()};
  auto env = envelope(root.value());
  if (!env) return Failure{std::move(env).error()};
  const auto& [data, rid] = env.value();
  // Absent ids are taken from the request; present ones must agree with it.
  auto job = decode_job(*data, "data", expected.source, opt, expected.job);
  if (!job) return Failure{decode_error(std::move(job).error(), rid)};
  if (job->key != expected) {
    std::ostringstream os;
    os << "response describes job " << job->key << ", not the requested " << expected;
    return Failure{decode_error(os.str(), rid)};
  }
  return std::move(job).value();
}

Result<Page<Job>, ApiError> decode_list_jobs(std::string_view body, SourceId source,
                                             const DecodeOptions& opt) {
  return decode_page<Job>(body, [&](const json::value& v, const std::string& path) {
    return decode_job(v, path, source, opt);
  });
}

Result<Page<DataSource>, ApiError> decode_list_data_sources(std::string_view body,
                                                            const DecodeOptions& opt) {
  return decode_page<DataSource>(
      body, [&](const json::value& v, const std::string& path) -> Result<DataSource> {
        const auto* o = v.if_object();
        if (!o) return Failure{path + ": expected an object, got " + json_kind_name(v)};
        FieldReader r(*o, path, opt);
        DataSource d;
        auto id = r.integer("id");
        d.name = r.string("name");
        d.region = r.string("region");
        d.type = r.string("type");
        d.status = r.string("status");
        d.agent_online = r.boolean("agentIsOnline");
        d.err_msg = r.string("errMsg");
        if (r.error) return Failure{std::move(*r.error)};
        if (!id) return Failure{path + ": missing \"id\""};
        d.id = SourceId{*id};
        return d;
      });
}

Result<Page<Task>, ApiError> decode_list_tasks(std::string_view body, const DecodeOptions& opt) {
  return decode_page<Task>(
      body, [&](const json::value& v, const std::string& path) -> Result<Task> {
        const auto* o = v.if_object();
        if (!o) return Failure{path + ": expected an object, got " + json_kind_name(v)};
        FieldReader r(*o, path, opt);
        Task t;
        auto id = r.integer("id");
        t.job_id = r.integer("jobId");
        t.job_name = r.string("jobName");
        t.src_db = r.string("srcDbName");
        t.src_table = r.string("srcTableName");
        t.dst_db = r.string("dstDbName");
        t.dst_table = r.string("dstTableName");
        t.status = r.string("status");
        t.stopped = r.boolean("stopped");
        t.running = r.boolean("running");
        t.retried_times = r.count("retriedTimes");
        if (r.error) return Failure{std::move(*r.error)};
        if (!id) return Failure{path + ": missing \"id\""};
        t.id = *id;
        return t;
      });
}

Result<std::vector<TaskLog>, ApiError> decode_list_task_logs(std::string_view body,
                                                             const DecodeOptions& opt) {
  json::monotonic_resource mr;  // one block per many values, freed at once
  auto root = parse_body(body, &mr);
  if (!root) return Failure{std::move(root).error()};
  auto env = envelope(root.value());
  if (!env) return Failure{std::move(env).error()};
  const auto& [data, rid] = env.value();
  const json::array* arr = data->if_array();
  // Tolerate a paged shape too, in case the service moves to it.
  if (!arr && data->is_object())
    if (auto* l = data->get_object().if_contains("objectList")) arr = l->if_array();
  if (!arr)
    return Failure{decode_error("data: expected an array, got " + json_kind_name(*data), rid)};
  std::vector<TaskLog> out;
  std::size_t i = 0;
  for (const auto& v : *arr) {
    std::string path = "data[" + std::to_string(i++) + "]";
    const auto* o = v.if_object();
    if (!o)
      return Failure{decode_error(path + ": expected an object, got " + json_kind_name(v), rid)};
    FieldReader r(*o, path, opt);
    TaskLog l;
    l.id = r.integer("id").value_or(0);
    l.task_id = r.integer("taskId");
    l.status = r.string("status");
    l.action = r.string("action");
    l.msg = r.string("msg");
    l.create_time = r.string("createTime");
    if (r.error) return Failure{decode_error(std::move(*r.error), rid)};
    out.push_back(std::move(l));
  }
  return out;
}

// ---------------------------------------------------------------- requests

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

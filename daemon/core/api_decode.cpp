#include "core/api_decode.hpp"

#include <boost/json.hpp>
#include <charconv>
#include <sstream>

#include "core/json_text.hpp"

namespace mmsmon {
namespace json = boost::json;
using namespace std::chrono;

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
  std::string rid = api_string_member(*o, "RequestId", "requestId");
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

std::optional<WallTime> parse_api_time(std::string_view s, minutes utc_offset, BareDate bare) {
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
  // Years a migration can name, and that system_clock (nanoseconds) can hold.
  if (y < 1970 || y > 2200) return std::nullopt;
  year_month_day ymd{year{y}, month{static_cast<unsigned>(mo)}, day{static_cast<unsigned>(d)}};
  if (!ymd.ok()) return std::nullopt;
  sys_seconds t = sys_days{ymd} + hours{h} + minutes{mi} + seconds{se};
  if (date_only && bare == BareDate::end_of_day) t += days{1};
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
    j.create_time = parse_api_time(*s, opt.utc_offset);
    if (!j.create_time)
      r.anomalies.push_back("createTime \"" + *s + "\" is not yyyy-MM-dd HH:mm:ss");
  }
  if (auto s = r.string("eta")) {
    if (!s->empty()) {
      j.eta_raw = *s;
      j.eta = parse_api_time(*s, opt.utc_offset, BareDate::end_of_day);
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
        d.tables_doing = r.count("tablesDoingNum");
        d.tables_done = r.count("tablesDoneNum");
        d.tables_failed = r.count("tablesFailedNum");
        d.partitions_doing = r.count("partitionsDoingNum");
        d.partitions_done = r.count("partitionsDoneNum");
        d.partitions_failed = r.count("partitionsFailedNum");
        d.scan_status = r.string("scanStatus");
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

}  // namespace mmsmon

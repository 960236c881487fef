#include "sim_model.hpp"

#include <algorithm>
#include <boost/json.hpp>
#include <charconv>
#include <cmath>

#include "core/alert_policy.hpp"
#include "core/api_decode.hpp"
#include "core/api_request.hpp"
#include "core/duration.hpp"

namespace mmsmon::sim {
namespace json = boost::json;

std::int64_t SimJob::task_done() const {
  std::int64_t p = processed_tasks();
  std::int64_t failed = 0;
  for (const auto& f : failed_tasks)
    if (f.at < p) ++failed;
  return p - failed;
}

namespace {

std::optional<std::int64_t> as_int(const json::value* v) {
  if (!v) return std::nullopt;
  if (v->is_int64()) return v->get_int64();
  if (v->is_uint64()) return static_cast<std::int64_t>(v->get_uint64());
  if (v->is_double()) return static_cast<std::int64_t>(v->get_double());
  return std::nullopt;
}
std::optional<double> as_num(const json::value* v) {
  if (!v) return std::nullopt;
  if (v->is_double()) return v->get_double();
  if (auto i = as_int(v)) return static_cast<double>(*i);
  return std::nullopt;
}
std::optional<std::string> as_str(const json::value* v) {
  if (v && v->is_string()) return std::string(v->get_string());
  return std::nullopt;
}
/// Seconds from a number or a duration string.
std::optional<double> as_seconds(const json::value* v) {
  if (auto n = as_num(v)) return *n;
  if (auto s = as_str(v)) {
    auto d = parse_duration(*s);
    if (d) return static_cast<double>(d->count()) / 1000.0;
  }
  return std::nullopt;
}

std::optional<JobKey> key_of(const json::object& o) {
  auto s = as_int(o.if_contains("source_id"));
  auto j = as_int(o.if_contains("job_id"));
  if (!j) j = as_int(o.if_contains("id"));
  if (!s || !j) return std::nullopt;
  return JobKey{SourceId{*s}, JobId{*j}};
}

std::map<std::string, std::string> parse_query(std::string_view q) {
  std::map<std::string, std::string> out;
  while (!q.empty()) {
    auto amp = q.find('&');
    auto part = q.substr(0, amp);
    q = amp == std::string_view::npos ? std::string_view{} : q.substr(amp + 1);
    if (part.empty()) continue;
    auto eq = part.find('=');
    out[percent_decode(part.substr(0, eq))] =
        eq == std::string_view::npos ? std::string() : percent_decode(part.substr(eq + 1));
  }
  return out;
}

std::string header(const Params& h, std::string_view name) {
  for (const auto& [k, v] : h)
    if (k == name) return v;
  return {};
}

std::int64_t query_int(const std::map<std::string, std::string>& q, const std::string& k,
                       std::int64_t dflt) {
  auto it = q.find(k);
  if (it == q.end()) return dflt;
  std::int64_t n = dflt;
  auto [p, ec] = std::from_chars(it->second.data(), it->second.data() + it->second.size(), n);
  if (ec != std::errc{}) return dflt;
  return n;
}

json::object paged(json::array all, std::int64_t page_num, std::int64_t page_size) {
  if (page_num < 1) page_num = 1;
  if (page_size < 1) page_size = 10;
  json::array slice;
  auto total = static_cast<std::int64_t>(all.size());
  for (std::int64_t i = (page_num - 1) * page_size; i < total && i < page_num * page_size; ++i)
    slice.push_back(std::move(all[static_cast<std::size_t>(i)]));
  return json::object{{"total", total},
                      {"pageNum", page_num},
                      {"pageSize", page_size},
                      {"objectList", std::move(slice)}};
}

}  // namespace

Result<bool> apply_job_fields(SimJob& j, const json::object& o) {
  if (auto v = as_str(o.if_contains("name"))) j.name = *v;
  if (auto v = as_str(o.if_contains("status"))) j.status = *v;
  if (auto v = as_str(o.if_contains("type"))) j.type = *v;
  if (auto v = as_str(o.if_contains("src_db"))) j.src_db = *v;
  if (auto v = as_str(o.if_contains("dst_db"))) j.dst_db = *v;
  if (auto v = as_int(o.if_contains("task_num"))) j.task_num = *v;
  if (auto v = as_int(o.if_contains("task_done"))) j.processed = static_cast<double>(*v);
  if (auto v = as_num(o.if_contains("rate"))) j.rate = *v;
  if (auto* v = o.if_contains("stopped"); v && v->is_bool()) {
    j.stopped = v->get_bool();
    if (!j.stopped) j.stopped_since.reset();
  }
  if (auto v = as_int(o.if_contains("fail_at"))) j.fail_at = *v;
  if (auto v = as_int(o.if_contains("stop_at"))) j.stop_at = *v;
  if (auto v = as_seconds(o.if_contains("resume_after"))) j.resume_after = *v;
  if (auto v = as_seconds(o.if_contains("start_after"))) j.start_after = *v;
  if (auto v = as_str(o.if_contains("create_time"))) j.create_time = *v;
  if (auto v = as_str(o.if_contains("eta"))) j.eta = *v;
  if (auto* v = o.if_contains("raw")) j.raw_override = *v;
  if (auto* v = o.if_contains("failed_tasks")) {
    if (!v->is_array()) return Failure{std::string("failed_tasks must be an array")};
    j.failed_tasks.clear();
    for (const auto& fv : v->get_array()) {
      if (!fv.is_object()) return Failure{std::string("failed_tasks items must be objects")};
      const auto& fo = fv.get_object();
      FailedTask f;
      f.at = as_int(fo.if_contains("at")).value_or(0);
      f.table = as_str(fo.if_contains("table")).value_or("table_" + std::to_string(f.at));
      f.status = as_str(fo.if_contains("status")).value_or("DATA_FAILED");
      f.msg = as_str(fo.if_contains("msg")).value_or("task failed");
      f.retries = as_int(fo.if_contains("retries")).value_or(0);
      j.failed_tasks.push_back(std::move(f));
    }
  }
  return true;
}

Result<Model> Model::from_scenario(const json::value& sv) {
  Model m;
  const auto* s = sv.if_object();
  if (!s) return Failure{std::string("scenario must be a JSON object")};
  if (auto v = as_num(s->if_contains("time_scale"))) m.time_scale = *v;
  if (auto* v = s->if_contains("verify_signatures"); v && v->is_bool())
    m.verify_signatures = v->get_bool();
  if (auto* v = s->if_contains("credentials"); v && v->is_array()) {
    for (const auto& cv : v->get_array()) {
      if (!cv.is_object()) return Failure{std::string("credentials items must be objects")};
      const auto& co = cv.get_object();
      SimCredential c;
      c.access_key_id = as_str(co.if_contains("access_key_id")).value_or("");
      c.access_key_secret = as_str(co.if_contains("access_key_secret")).value_or("");
      c.security_token = as_str(co.if_contains("security_token")).value_or("");
      if (c.access_key_id.empty() || c.access_key_secret.empty())
        return Failure{std::string("credentials need access_key_id and access_key_secret")};
      m.credentials_.push_back(std::move(c));
    }
  }
  if (auto* v = s->if_contains("credential_services"); v && v->is_object())
    m.configure_credential_services(v->get_object());
  if (auto* v = s->if_contains("datasources"); v && v->is_array()) {
    for (const auto& dv : v->get_array()) {
      if (!dv.is_object()) return Failure{std::string("datasources items must be objects")};
      const auto& d = dv.get_object();
      SimDataSource ds;
      auto id = as_int(d.if_contains("id"));
      if (!id) return Failure{std::string("a data source needs an id")};
      ds.id = *id;
      ds.name = as_str(d.if_contains("name")).value_or("source_" + std::to_string(*id));
      ds.type = as_str(d.if_contains("type")).value_or("HIVE");
      ds.region = as_str(d.if_contains("region")).value_or("cn-hangzhou");
      if (auto* a = d.if_contains("agent_online"); a && a->is_bool())
        ds.agent_online = a->get_bool();
      m.sources_[ds.id] = ds;
    }
  }
  if (auto* v = s->if_contains("jobs"); v && v->is_array()) {
    for (const auto& jv : v->get_array()) {
      if (!jv.is_object()) return Failure{std::string("jobs items must be objects")};
      const auto& jo = jv.get_object();
      auto key = key_of(jo);
      if (!key) return Failure{std::string("a job needs source_id and job_id")};
      SimJob j;
      j.source_id = key->source.value;
      j.id = key->job.value;
      j.name = "job_" + std::to_string(j.id);
      auto ok = apply_job_fields(j, jo);
      if (!ok) return Failure{ok.error()};
      if (!m.sources_.count(j.source_id)) {
        SimDataSource ds;
        ds.id = j.source_id;
        ds.name = "source_" + std::to_string(j.source_id);
        m.sources_[j.source_id] = ds;
      }
      m.jobs_[*key] = std::move(j);
    }
  }
  // Bulk jobs for benchmarks: {"generate": {"source_id": 1, "count": 10000, "task_num": 1000}}
  if (auto* v = s->if_contains("generate"); v && v->is_object()) {
    const auto& g = v->get_object();
    auto sid = as_int(g.if_contains("source_id")).value_or(1);
    auto count = as_int(g.if_contains("count")).value_or(0);
    auto first = as_int(g.if_contains("first_job_id")).value_or(1);
    for (std::int64_t i = 0; i < count; ++i) {
      SimJob j;
      j.source_id = sid;
      j.id = first + i;
      j.name = "bulk_" + std::to_string(j.id);
      auto ok = apply_job_fields(j, g);
      if (!ok) return Failure{ok.error()};
      m.jobs_[JobKey{SourceId{sid}, JobId{j.id}}] = std::move(j);
    }
    if (!m.sources_.count(sid))
      m.sources_[sid] = SimDataSource{sid, "source_" + std::to_string(sid)};
  }
  if (auto* v = s->if_contains("rate_limit"); v && v->is_object()) {
    RateLimitRule r;
    r.per_second = as_num(v->get_object().if_contains("per_second")).value_or(1);
    r.burst = as_num(v->get_object().if_contains("burst")).value_or(r.per_second);
    r.tokens = r.burst;
    m.rate_limit_ = r;
  }
  return m;
}

void Model::advance(SimJob& j, double now) {
  double dt = now - j.last_update;
  j.last_update = now;
  if (dt <= 0) return;
  if (j.status == "INIT" && j.start_after && now >= *j.start_after && !j.stopped)
    j.status = "DOING";
  if (j.stopped && j.stopped_since && j.resume_after && now - *j.stopped_since >= *j.resume_after) {
    j.stopped = false;
    j.stopped_since.reset();
  }
  if (j.status != "DOING" || j.stopped) return;
  double limit = static_cast<double>(j.task_num);
  if (j.fail_at) limit = std::min(limit, static_cast<double>(*j.fail_at));
  if (j.stop_at && !j.stop_fired) limit = std::min(limit, static_cast<double>(*j.stop_at));
  j.processed = std::min(limit, j.processed + j.rate * dt);
  auto p = j.processed_tasks();
  if (j.fail_at && p >= *j.fail_at) {
    j.status = "FAILED";
  } else if (j.stop_at && !j.stop_fired && p >= *j.stop_at) {
    j.stop_fired = true;
    j.stopped = true;
    j.stopped_since = now;
  } else if (p >= j.task_num) {
    bool any_failed = false;
    for (const auto& f : j.failed_tasks)
      any_failed |= f.at < j.task_num;
    j.status = any_failed ? "FAILED" : "DONE";
  }
}

json::object Model::job_json(const SimJob& j) const {
  if (j.raw_override.is_object()) return j.raw_override.get_object();
  std::string source_name = "source_" + std::to_string(j.source_id);
  if (auto it = sources_.find(j.source_id); it != sources_.end()) source_name = it->second.name;
  json::object o{{"id", j.id},
                 {"name", j.name},
                 {"sourceId", j.source_id},
                 {"dbId", j.id + 100},
                 {"sourceName", source_name},
                 {"srcDbName", j.src_db},
                 {"srcSchemaName", "default"},
                 {"dstDbName", j.dst_db},
                 {"dstSchemaName", "default"},
                 {"status", j.status},
                 {"type", j.type},
                 {"taskNum", j.task_num},
                 {"taskDone", j.task_done()},
                 {"stopped", j.stopped},
                 {"createTime", j.create_time},
                 {"config",
                  {{"partitions", json::array{}},
                   {"tables", json::array{}},
                   {"increment", false},
                   {"enableVerification", true},
                   {"schemaOnly", false},
                   {"others", json::object{}}}}};
  if (!j.eta.empty()) o["eta"] = j.eta;
  return o;
}

std::string Model::next_request_id() {
  char buf[48];
  std::snprintf(buf, sizeof buf, "5137E5A2-0000-4000-8000-%012llu",
                static_cast<unsigned long long>(++request_seq_));
  return buf;
}

SimResponse Model::error(unsigned status, std::string code, std::string message) {
  SimResponse r;
  r.status = status;
  json::object o{{"RequestId", next_request_id()},
                 {"HostId", "maxcompute.sim.aliyuncs.com"},
                 {"Code", code},
                 {"Message", message},
                 {"Recommend", "https://api.aliyun.com/troubleshoot?q=" + code}};
  r.body = json::serialize(o);
  r.headers.emplace_back("content-type", "application/json;charset=utf-8");
  return r;
}

std::optional<SimResponse> Model::check_auth(const SimRequest& req, std::string_view action,
                                             WallTime wall) {
  auto fail = [&](unsigned st, std::string code, std::string msg) {
    ++stats.auth_failures;
    return std::optional<SimResponse>(error(st, std::move(code), std::move(msg)));
  };
  std::string auth = header(req.headers, "authorization");
  ParsedAuthorization pa;
  if (auth.empty() || !parse_authorization(auth, pa) || pa.algorithm != "ACS3-HMAC-SHA256")
    return fail(400, "IncompleteSignature",
                "The request signature does not conform to Aliyun standards.");
  const SimCredential* cred = nullptr;
  for (const auto& c : credentials_)
    if (c.access_key_id == pa.credential) cred = &c;
  if (!cred) return fail(404, "InvalidAccessKeyId.NotFound", "Specified access key is not found.");
  if (cred->expires_at &&
      std::chrono::duration<double>(wall.time_since_epoch()).count() > *cred->expires_at)
    return fail(400, "InvalidSecurityToken.Expired", "Specified SecurityToken is expired.");
  for (std::string_view must : {"host", "x-acs-action", "x-acs-date", "x-acs-signature-nonce",
                                "x-acs-content-sha256", "x-acs-version"}) {
    if (std::find(pa.signed_headers.begin(), pa.signed_headers.end(), must) ==
        pa.signed_headers.end())
      return fail(400, "IncompleteSignature", "Header " + std::string(must) + " must be signed.");
  }
  if (header(req.headers, "x-acs-action") != action)
    return fail(400, "InvalidAction.NotFound", "x-acs-action does not match the path.");
  // Clock skew: x-acs-date must be within 15 minutes of the (possibly skewed) server clock.
  std::string date = header(req.headers, "x-acs-date");
  auto t = parse_api_time(date.size() == 20 ? std::string_view(date).substr(0, 19) : "", {});
  double server_now = std::chrono::duration<double>(wall.time_since_epoch()).count() + wall_skew;
  if (!t || date.back() != 'Z')
    return fail(400, "InvalidTimeStamp.Format", "x-acs-date must be yyyy-MM-ddTHH:mm:ssZ.");
  double sent = std::chrono::duration<double>(t->time_since_epoch()).count();
  if (std::fabs(server_now - sent) > 900)
    return fail(400, "InvalidTimeStamp.Expired", "Specified time stamp or date value is expired.");
  if (header(req.headers, "x-acs-content-sha256") != sha256_hex(req.body))
    return fail(400, "SignatureDoesNotMatch", "x-acs-content-sha256 does not match the body.");
  // Recompute the signature over exactly the headers the client says it signed.
  SigningInput in;
  in.method = req.method;
  auto qpos = req.target.find('?');
  in.canonical_uri = req.target.substr(0, qpos);
  if (qpos != std::string::npos)
    for (auto& [k, v] : parse_query(std::string_view(req.target).substr(qpos + 1)))
      in.query.emplace_back(k, v);
  for (const auto& name : pa.signed_headers) {
    bool found = false;
    for (const auto& [k, v] : req.headers)
      if (k == name) {
        in.headers.emplace_back(k, v);
        found = true;
      }
    if (!found) return fail(400, "IncompleteSignature", "Signed header " + name + " is missing.");
  }
  in.payload_sha256 = header(req.headers, "x-acs-content-sha256");
  std::string canonical = canonical_request(in);
  std::string expected = hmac_sha256_hex(cred->access_key_secret, string_to_sign(canonical));
  if (expected != pa.signature)
    return fail(400, "SignatureDoesNotMatch",
                "The request signature we calculated does not match the signature you provided.");
  if (!cred->security_token.empty() &&
      header(req.headers, "x-acs-security-token") != cred->security_token)
    return fail(400, "InvalidSecurityToken.Mismatch", "The security token is invalid.");
  // Nonce replay, remembered for the 15 minutes a date stays valid (bounded memory).
  std::string nonce = header(req.headers, "x-acs-signature-nonce");
  if (nonce.empty()) return fail(400, "IncompleteSignature", "x-acs-signature-nonce is empty.");
  while (!nonce_order_.empty() &&
         (nonce_order_.front().first < server_now - 900 || nonce_order_.size() > 2'000'000)) {
    nonces_.erase(nonce_order_.front().second);
    nonce_order_.pop_front();
  }
  if (!nonces_.emplace(nonce, server_now).second)
    return fail(400, "SignatureNonceUsed", "Specified signature nonce was used already.");
  nonce_order_.emplace_back(server_now, nonce);
  return std::nullopt;
}

Fault* Model::find_fault(const std::optional<JobKey>& key, std::string_view action) {
  for (auto& f : faults_) {
    if (f.job && (!key || *f.job != *key)) continue;
    if (f.action && *f.action != action) continue;
    return &f;
  }
  return nullptr;
}

namespace {

std::optional<std::int64_t> number_of(const std::string& s) {
  std::int64_t n = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), n);
  if (ec != std::errc{} || p != s.data() + s.size()) return std::nullopt;
  return n;
}

}  // namespace

std::optional<ApiRoute> route_api(const SimRequest& req) {
  auto qpos = req.target.find('?');
  std::string path = req.target.substr(0, qpos);
  ApiRoute r;
  r.query = parse_query(qpos == std::string::npos ? std::string_view{}
                                                  : std::string_view(req.target).substr(qpos + 1));
  std::vector<std::string> seg;
  for (std::size_t s = 1; s <= path.size();) {
    auto e = path.find('/', s);
    seg.push_back(percent_decode(path.substr(s, e - s)));
    if (e == std::string::npos) break;
    s = e + 1;
  }
  bool base = seg.size() >= 4 && seg[0] == "api" && seg[1] == "v1" && seg[2] == "mms" &&
              seg[3] == "datasources" && req.method == "GET";
  if (!base) return std::nullopt;
  if (seg.size() == 4) r.action = "ListMmsDataSources";
  if (seg.size() >= 5) r.source = number_of(seg[4]);
  if (r.source) {
    if (seg.size() == 5) r.action = "GetMmsDataSource";
    if (seg.size() == 6 && seg[5] == "jobs") r.action = "ListMmsJobs";
    if (seg.size() == 6 && seg[5] == "tasks") r.action = "ListMmsTasks";
    if (seg.size() >= 7) r.sub = number_of(seg[6]);
    if (r.sub && seg.size() == 7 && seg[5] == "jobs") r.action = "GetMmsJob";
    if (r.sub && seg.size() == 7 && seg[5] == "tasks") r.action = "GetMmsTask";
    if (r.sub && seg.size() == 8 && seg[5] == "tasks" && seg[7] == "logs")
      r.action = "ListMmsTaskLogs";
  }
  if (r.action.empty()) return std::nullopt;
  return r;
}

SimResponse Model::handle_api(const SimRequest& req, double elapsed, WallTime wall) {
  double now = elapsed * time_scale + clock_offset;
  ++stats.requests;
  auto route = route_api(req);
  if (!route) return error(404, "InvalidApi.NotFound", "Specified api is not found.");
  ++stats.by_action[route->action];
  if (route->action == "GetMmsJob")
    ++stats.by_job[std::to_string(*route->source) + "/" + std::to_string(*route->sub)];
  if (verify_signatures)
    if (auto denied = check_auth(req, route->action, wall)) return *denied;
  if (auto throttled = take_rate_limit_token(elapsed, wall)) return *throttled;

  SimResponse shape;  // delays, resets, truncation a fault asks for
  if (auto decided = act_out_fault(*route, shape)) return *decided;

  using Handler = Answer (Model::*)(const ApiRoute&, double);
  static const std::map<std::string, Handler, std::less<>> handlers{
      {"GetMmsJob", &Model::get_job},
      {"ListMmsJobs", &Model::list_jobs},
      {"ListMmsDataSources", &Model::list_data_sources},
      {"GetMmsDataSource", &Model::get_data_source},
      {"ListMmsTasks", &Model::list_tasks},
      {"GetMmsTask", &Model::get_task},
      {"ListMmsTaskLogs", &Model::list_task_logs},
  };
  Answer a = (this->*handlers.at(route->action))(*route, now);
  if (a.error) return *a.error;
  SimResponse r = shape;
  r.status = 200;
  json::object env{{"requestId", next_request_id()}, {"data", std::move(a.data)}};
  r.body = json::serialize(env);
  r.headers.emplace_back("content-type", "application/json;charset=utf-8");
  return r;
}

std::optional<SimResponse> Model::take_rate_limit_token(double elapsed, WallTime wall) {
  if (!rate_limit_) return std::nullopt;
  auto& r = *rate_limit_;
  r.tokens = std::min(r.burst, r.tokens + (elapsed - r.last) * r.per_second);
  r.last = elapsed;
  if (r.tokens >= 1) {
    r.tokens -= 1;
    return std::nullopt;
  }
  ++stats.throttled;
  auto ms_left = static_cast<long long>(std::ceil((1.0 - r.tokens) / r.per_second * 1000));
  auto resp = error(400, "Throttling.User", "Request was denied due to user flow control.");
  auto reset =
      std::chrono::duration_cast<std::chrono::seconds>(wall.time_since_epoch()).count() + 1;
  resp.headers.emplace_back("x-ratelimit-user-api",
                            "Limit:" + std::to_string(static_cast<long long>(r.per_second)) +
                                ",Remain:0,TimeLeft:" + std::to_string(ms_left) +
                                ",Reset:" + std::to_string(reset));
  return resp;
}

std::optional<SimResponse> Model::act_out_fault(const ApiRoute& route, SimResponse& shape) {
  std::optional<JobKey> key;
  if (route.action == "GetMmsJob") key = JobKey{SourceId{*route.source}, JobId{*route.sub}};
  Fault* f = find_fault(key, route.action);
  if (!f) return std::nullopt;
  ++stats.faults_by_action[route.action];
  shape.delay = f->delay;
  shape.reset = f->reset;
  shape.truncated = f->truncated;
  shape.huge_body = f->huge_body;
  shape.endless = f->endless;
  bool malformed = f->malformed;
  std::optional<SimResponse> err;
  if (f->status) err = error(f->status, f->code, f->message.empty() ? f->code : f->message);
  if (f->remaining && --*f->remaining <= 0) {
    auto it = std::find_if(faults_.begin(), faults_.end(), [&](const Fault& x) { return &x == f; });
    faults_.erase(it);
  }
  if (err) {
    err->delay = shape.delay;
    return err;
  }
  if (malformed) {
    shape.body = R"({"requestId":"X","data":{"id":)"
                 "\x01"
                 "oops";
    shape.headers.emplace_back("content-type", "application/json;charset=utf-8");
    return shape;
  }
  if (shape.reset || shape.huge_body || !shape.endless.empty()) return shape;
  return std::nullopt;
}

Model::Answer Model::get_job(const ApiRoute& route, double now) {
  auto it = jobs_.find(JobKey{SourceId{*route.source}, JobId{*route.sub}});
  if (it == jobs_.end())
    return {{}, error(404, "MmsJobNotFound", "The specified migration job does not exist.")};
  advance(it->second, now);
  return {job_json(it->second), std::nullopt};
}

Model::Answer Model::list_jobs(const ApiRoute& route, double now) {
  std::int64_t sid = *route.source;
  if (!sources_.count(sid))
    return {{}, error(404, "DataSourceNotFound", "The specified data source does not exist.")};
  auto q = route.query;
  json::array all;
  auto want_status = q.count("status") ? q["status"] : "";
  auto want_name = q.count("name") ? q["name"] : "";
  auto want_stopped = q.count("stopped") ? q["stopped"] : "";
  for (auto it = jobs_.lower_bound(JobKey{SourceId{sid}, JobId{INT64_MIN}});
       it != jobs_.end() && it->first.source.value == sid; ++it) {
    advance(it->second, now);
    const auto& j = it->second;
    if (!want_status.empty() && j.status != want_status) continue;
    if (!want_name.empty() && j.name.find(want_name) == std::string::npos) continue;
    if (!want_stopped.empty() && (want_stopped == "1") != j.stopped) continue;
    all.push_back(job_json(j));
  }
  return {paged(std::move(all), query_int(q, "pageNum", 1), query_int(q, "pageSize", 10)),
          std::nullopt};
}

json::array Model::data_sources_json(std::optional<std::int64_t> only) const {
  json::array all;
  for (const auto& [id, ds] : sources_) {
    if (only && id != *only) continue;
    std::int64_t failed = 0, done = 0, doing = 0;
    for (auto it = jobs_.lower_bound(JobKey{SourceId{id}, JobId{INT64_MIN}});
         it != jobs_.end() && it->first.source.value == id; ++it) {
      for (const auto& f : it->second.failed_tasks)
        failed += f.at < it->second.processed_tasks();
      done += it->second.task_done();
      doing += it->second.status == "DOING" && !it->second.stopped;
    }
    all.push_back(json::object{{"id", id},
                               {"name", ds.name},
                               {"region", ds.region},
                               {"type", ds.type},
                               {"status", ds.status},
                               {"agentIsOnline", ds.agent_online},
                               {"errMsg", ""},
                               {"tablesDoneNum", done},
                               {"tablesFailedNum", failed},
                               {"tablesDoingNum", doing},
                               {"partitionsDoneNum", 0},
                               {"partitionsFailedNum", 0},
                               {"partitionsDoingNum", 0},
                               {"scanStatus", "DONE"}});
  }
  return all;
}

Model::Answer Model::list_data_sources(const ApiRoute& route, double) {
  return {paged(data_sources_json(std::nullopt), query_int(route.query, "pageNum", 1),
                query_int(route.query, "pageSize", 10)),
          std::nullopt};
}

Model::Answer Model::get_data_source(const ApiRoute& route, double) {
  auto all = data_sources_json(*route.source);
  if (all.empty())
    return {{}, error(404, "DataSourceNotFound", "The specified data source does not exist.")};
  return {all[0], std::nullopt};
}

std::vector<Model::SimTask> Model::tasks_of(const ApiRoute& route, double now) {
  std::vector<SimTask> out;
  auto q = route.query;
  auto want_job = query_int(q, "jobId", -1);
  auto want_status = q.count("status") ? q["status"] : "";
  std::int64_t sid = *route.source;
  for (auto it = jobs_.lower_bound(JobKey{SourceId{sid}, JobId{INT64_MIN}});
       it != jobs_.end() && it->first.source.value == sid; ++it) {
    if (want_job >= 0 && it->second.id != want_job) continue;
    advance(it->second, now);
    const auto& j = it->second;
    auto p = j.processed_tasks();
    std::int64_t limit = std::min<std::int64_t>(j.task_num, 100000);
    // Asked for failed tasks only (what mmsmon's checks ask): just the failed ones, in order,
    // not every task of the job (a sweep of a data source of 1,000 jobs would build 100M).
    if (want_status.ends_with("_FAILED") && !route.sub) {
      std::vector<std::int64_t> at;
      for (const auto& f : j.failed_tasks)
        if (f.at < p && f.at < limit) at.push_back(f.at);
      std::sort(at.begin(), at.end());
      at.erase(std::unique(at.begin(), at.end()), at.end());
      for (auto i : at) {
        SimTask t{&j, j.id * 1'000'000 + i + 1, "", "table_" + std::to_string(i), nullptr};
        for (const auto& f : j.failed_tasks)
          if (f.at == i) t.failed = &f;
        t.status = t.failed->status;
        t.table = t.failed->table;
        if (t.status == want_status) out.push_back(std::move(t));
      }
      continue;
    }
    for (std::int64_t i = 0; i < limit; ++i) {
      SimTask t{&j, j.id * 1'000'000 + i + 1, "", "table_" + std::to_string(i), nullptr};
      if (route.sub && t.id != *route.sub) continue;
      t.status =
          i < p ? "DONE" : (i == p && j.status == "DOING" && !j.stopped ? "DATA_DOING" : "INIT");
      for (const auto& f : j.failed_tasks)
        if (f.at == i && i < p) t.failed = &f;
      if (t.failed) {
        t.status = t.failed->status;
        t.table = t.failed->table;
      }
      if (!want_status.empty() && t.status != want_status) continue;
      out.push_back(std::move(t));
    }
  }
  return out;
}

json::object Model::task_json(const SimTask& t) {
  const SimJob& j = *t.job;
  return json::object{{"id", t.id},
                      {"jobId", j.id},
                      {"jobName", j.name},
                      {"sourceId", j.source_id},
                      {"srcDbName", j.src_db},
                      {"srcTableName", t.table},
                      {"dstDbName", j.dst_db},
                      {"dstTableName", t.table},
                      {"status", t.status},
                      {"stopped", j.stopped},
                      {"running", t.status.ends_with("_DOING")},
                      {"retriedTimes", t.failed ? t.failed->retries : 0},
                      {"createTime", j.create_time}};
}

Model::Answer Model::list_tasks(const ApiRoute& route, double now) {
  json::array all;
  for (const auto& t : tasks_of(route, now))
    all.push_back(task_json(t));
  return {paged(std::move(all), query_int(route.query, "pageNum", 1),
                query_int(route.query, "pageSize", 10)),
          std::nullopt};
}

Model::Answer Model::get_task(const ApiRoute& route, double now) {
  auto tasks = tasks_of(route, now);
  if (tasks.empty()) return {{}, error(404, "TaskNotFound", "The specified task does not exist.")};
  return {task_json(tasks[0]), std::nullopt};
}

Model::Answer Model::list_task_logs(const ApiRoute& route, double now) {
  auto tasks = tasks_of(route, now);
  if (tasks.empty()) return {{}, error(404, "TaskNotFound", "The specified task does not exist.")};
  const SimTask& t = tasks[0];
  json::array logs{json::object{{"id", t.id * 10 + 1},
                                {"taskId", t.id},
                                {"status", "INIT"},
                                {"action", "create"},
                                {"msg", "task created"},
                                {"createTime", t.job->create_time}}};
  if (t.failed)
    logs.push_back(json::object{{"id", t.id * 10 + 2},
                                {"taskId", t.id},
                                {"status", t.failed->status},
                                {"action", "run"},
                                {"msg", t.failed->msg},
                                {"createTime", t.job->create_time}});
  return {std::move(logs), std::nullopt};
}

SimResponse Model::handle_admin(const SimRequest& req, double elapsed) {
  auto ok = [](json::value v) {
    SimResponse r;
    r.body = json::serialize(v);
    r.headers.emplace_back("content-type", "application/json");
    return r;
  };
  auto bad = [](std::string msg) {
    SimResponse r;
    r.status = 400;
    r.body = json::serialize(json::object{{"error", msg}});
    r.headers.emplace_back("content-type", "application/json");
    return r;
  };
  std::string path = req.target.substr(0, req.target.find('?'));
  json::value body;
  if (!req.body.empty()) {
    boost::system::error_code ec;
    body = json::parse(req.body, ec);
    if (ec) return bad("invalid JSON: " + ec.message());
  }
  const json::object empty;
  const json::object& b = body.is_object() ? body.get_object() : empty;
  double now = elapsed * time_scale + clock_offset;

  if (path == "/admin/stats" && req.method == "GET") {
    json::object by, jobs, faulted;
    for (const auto& [k, v] : stats.by_action)
      by[k] = v;
    for (const auto& [k, v] : stats.faults_by_action)
      faulted[k] = v;
    for (const auto& [k, v] : stats.by_job)
      jobs[k] = v;
    return ok(
        json::object{{"requests", stats.requests},
                     {"connections", stats.connections},
                     {"auth_failures", stats.auth_failures},
                     {"throttled", stats.throttled},
                     {"max_in_flight", stats.max_in_flight},
                     {"in_flight", stats.in_flight},
                     {"answered", stats.answered},
                     {"abandoned", stats.abandoned},
                     {"sni_names", json::array(stats.sni_names.begin(), stats.sni_names.end())},
                     {"last_tls_version", stats.last_tls_version},
                     {"by_action", std::move(by)},
                     {"by_job", std::move(jobs)},
                     {"faults_by_action", std::move(faulted)},
                     {"sim_time", now}});
  }
  if (path == "/admin/stats/reset" && req.method == "POST") {
    auto in_flight = stats.in_flight;  // still being answered: not part of what is reset
    stats = Stats{};
    // Requests under way belong to the new period: counted as received, answered later.
    stats.requests = stats.in_flight = stats.max_in_flight = in_flight;
    return ok(json::object{{"ok", true}});
  }
  if (path == "/admin/faults" && req.method == "DELETE") {
    bool all = req.target.find("all=1") != std::string::npos;  // sticky ones too
    std::erase_if(faults_, [all](const Fault& f) { return all || !f.sticky; });
    rate_limit_.reset();
    return ok(json::object{{"ok", true}});
  }
  if (path == "/admin/faults" && req.method == "POST") {
    if (auto* rl = b.if_contains("rate_limit"); rl && rl->is_object()) {
      RateLimitRule r;
      r.per_second = as_num(rl->get_object().if_contains("per_second")).value_or(1);
      r.burst = as_num(rl->get_object().if_contains("burst")).value_or(r.per_second);
      r.tokens = r.burst;
      r.last = elapsed;
      if (r.per_second <= 0) return bad("rate_limit.per_second must be positive");
      rate_limit_ = r;
      return ok(json::object{{"ok", true}});
    }
    Fault f;
    if (auto* j = b.if_contains("job"); j && j->is_object()) {
      f.job = key_of(j->get_object());
      if (!f.job) return bad("job needs source_id and job_id");
    }
    if (auto a = as_str(b.if_contains("action"))) f.action = *a;
    if (auto* e = b.if_contains("error"); e && e->is_object()) {
      const auto& eo = e->get_object();
      f.status = static_cast<unsigned>(as_int(eo.if_contains("status")).value_or(500));
      f.code = as_str(eo.if_contains("code")).value_or("InternalError");
      f.message = as_str(eo.if_contains("message")).value_or("");
    }
    f.delay = as_seconds(b.if_contains("delay")).value_or(0);
    f.malformed =
        b.contains("malformed") && b.at("malformed").is_bool() && b.at("malformed").get_bool();
    f.truncated =
        b.contains("truncated") && b.at("truncated").is_bool() && b.at("truncated").get_bool();
    f.reset = b.contains("reset") && b.at("reset").is_bool() && b.at("reset").get_bool();
    f.huge_body = static_cast<std::uint64_t>(as_int(b.if_contains("huge_body")).value_or(0));
    f.endless = as_str(b.if_contains("endless")).value_or("");
    if (!f.endless.empty() && f.endless != "chunk_ext" && f.endless != "trailer")
      return bad("endless: chunk_ext or trailer");
    if (auto c = as_int(b.if_contains("count"))) f.remaining = *c;
    f.sticky = b.contains("sticky") && b.at("sticky").is_bool() && b.at("sticky").get_bool();
    faults_.push_back(std::move(f));
    return ok(json::object{{"ok", true}, {"faults", faults_.size()}});
  }
  if (path == "/admin/jobs" && req.method == "POST") {
    auto key = key_of(b);
    if (!key) return bad("need source_id and job_id");
    if (b.contains("exists") && b.at("exists").is_bool() && !b.at("exists").get_bool()) {
      jobs_.erase(*key);
      return ok(json::object{{"ok", true}});
    }
    auto [it, inserted] = jobs_.try_emplace(*key);
    auto& j = it->second;
    if (inserted) {
      j.source_id = key->source.value;
      j.id = key->job.value;
      j.name = "job_" + std::to_string(j.id);
      j.last_update = now;
      if (!sources_.count(j.source_id))
        sources_[j.source_id] = SimDataSource{j.source_id, "source_" + std::to_string(j.source_id)};
    } else {
      advance(j, now);
    }
    auto r = apply_job_fields(j, b);
    if (!r) return bad(r.error());
    return ok(json::object{{"ok", true}, {"job", job_json(j)}});
  }
  if (path == "/admin/datasources" && req.method == "POST") {
    auto id = as_int(b.if_contains("id"));
    if (!id) return bad("need id");
    auto& ds = sources_[*id];
    ds.id = *id;
    if (auto n = as_str(b.if_contains("name"))) ds.name = *n;
    if (auto* a = b.if_contains("agent_online"); a && a->is_bool()) ds.agent_online = a->get_bool();
    return ok(json::object{{"ok", true}});
  }
  if (path == "/admin/credential_services" && req.method == "POST") {
    configure_credential_services(b);
    return ok(json::object{{"ok", true}, {"issued", cred_services_.issued}});
  }
  if (path == "/admin/credentials" && req.method == "POST") {
    auto* list = b.if_contains("credentials");
    if (!list || !list->is_array()) return bad("need credentials array");
    std::vector<SimCredential> creds;
    for (const auto& cv : list->get_array()) {
      if (!cv.is_object()) return bad("credentials items must be objects");
      const auto& co = cv.get_object();
      creds.push_back({as_str(co.if_contains("access_key_id")).value_or(""),
                       as_str(co.if_contains("access_key_secret")).value_or(""),
                       as_str(co.if_contains("security_token")).value_or("")});
    }
    credentials_ = std::move(creds);
    return ok(json::object{{"ok", true}});
  }
  if (path == "/admin/settings" && req.method == "POST") {
    if (auto* v = b.if_contains("verify_signatures"); v && v->is_bool())
      verify_signatures = v->get_bool();
    if (auto v = as_num(b.if_contains("wall_skew"))) wall_skew = *v;
    if (auto v = as_num(b.if_contains("time_scale"))) {
      clock_offset = now - elapsed * *v;  // keep simulated time continuous
      time_scale = *v;
    }
    if (auto v = as_seconds(b.if_contains("advance"))) clock_offset += *v;
    return ok(json::object{{"ok", true}, {"sim_time", elapsed * time_scale + clock_offset}});
  }
  return bad("unknown admin request " + req.method + " " + path);
}

}  // namespace mmsmon::sim

namespace mmsmon::sim {

void Model::configure_credential_services(const json::object& o) {
  auto& c = cred_services_;
  c.enabled = true;
  if (auto* v = o.if_contains("available"); v && v->is_bool()) c.available = v->get_bool();
  if (auto v = as_int(o.if_contains("fail_next")); v && *v >= 0)
    c.fail_next = static_cast<std::uint64_t>(*v);
  if (auto* v = o.if_contains("require_token"); v && v->is_bool()) c.require_token = v->get_bool();
  if (auto* v = o.if_contains("token_endpoint"); v && v->is_bool())
    c.token_endpoint = v->get_bool();
  if (auto v = as_seconds(o.if_contains("lifetime"))) c.lifetime = *v;
  if (auto v = as_str(o.if_contains("role"))) c.role = *v;
  if (auto v = as_str(o.if_contains("oidc_token"))) c.oidc_token = *v;
  if (auto v = as_str(o.if_contains("role_arn"))) c.role_arn = *v;
  if (auto v = as_str(o.if_contains("uri_path"))) c.uri_path = *v;
  if (auto v = as_str(o.if_contains("answer"))) c.answer = *v;
}

json::object Model::issue_credential(WallTime wall) {
  auto& c = cred_services_;
  ++c.issued;
  double now = std::chrono::duration<double>(wall.time_since_epoch()).count();
  // Forget credentials that expired long ago (bounded memory in long runs).
  std::erase_if(credentials_,
                [&](const SimCredential& k) { return k.expires_at && *k.expires_at < now - 3600; });
  SimCredential k;
  k.access_key_id = "STS.sim" + std::to_string(c.issued);
  k.access_key_secret = "sim-temporary-secret-" + std::to_string(c.issued * 7919);
  k.security_token = "sim-token-" + std::to_string(c.issued * 104729);
  k.expires_at = now + c.lifetime;
  auto exp = std::chrono::floor<std::chrono::seconds>(
      wall + std::chrono::duration_cast<std::chrono::seconds>(Seconds(c.lifetime)));
  std::string expiration = rfc3339(exp);  // with milliseconds: cut to seconds
  expiration = expiration.substr(0, expiration.find('.')) + "Z";
  if (c.answer == "expired") expiration = "2020-01-01T00:00:00Z";
  json::object o{{"AccessKeyId", k.access_key_id},
                 {"AccessKeySecret", k.access_key_secret},
                 {"SecurityToken", k.security_token},
                 {"Expiration", expiration}};
  if (c.answer == "no_token") o.erase("SecurityToken");
  credentials_.push_back(std::move(k));
  return o;
}

std::optional<SimResponse> Model::handle_credential_service(const SimRequest& req, WallTime wall) {
  auto& c = cred_services_;
  std::string path = req.target.substr(0, req.target.find('?'));
  auto query = req.target.find('?') == std::string::npos
                   ? std::map<std::string, std::string>{}
                   : parse_query(std::string_view(req.target).substr(req.target.find('?') + 1));
  bool metadata = path.starts_with("/latest/");
  bool sts = path == "/" && query.count("Action") && query.at("Action") == "AssumeRoleWithOIDC";
  bool uri = path == c.uri_path && req.method == "GET";
  if (!c.enabled || !(metadata || sts || uri)) return std::nullopt;
  ++stats.by_action[metadata ? "metadata" : sts ? "AssumeRoleWithOIDC" : "credentials_uri"];
  auto answer = [](unsigned status, std::string body, std::string type = "application/json") {
    SimResponse r;
    r.status = status;
    r.body = std::move(body);
    r.headers.emplace_back("content-type", std::move(type));
    return r;
  };
  if (c.fail_next > 0) {
    --c.fail_next;
    return answer(503, "service unavailable\n", "text/plain");
  }
  if (!c.available) return answer(503, "service unavailable\n", "text/plain");
  auto with_code = [&](json::object o) {
    if (c.answer == "garbage") return std::string("<html>not JSON");
    if (c.answer == "code") o["Code"] = "Failed";
    return json::serialize(o);
  };
  if (metadata) {
    if (path == "/latest/api/token") {
      if (!c.token_endpoint) return answer(404, "not found\n", "text/plain");
      if (req.method != "PUT") return answer(405, "use PUT\n", "text/plain");
      if (header(req.headers, "x-aliyun-ecs-metadata-token-ttl-seconds").empty())
        return answer(400, "missing X-aliyun-ecs-metadata-token-ttl-seconds\n", "text/plain");
      std::string token = "imds-" + std::to_string(metadata_tokens_.size() + 1);
      metadata_tokens_.insert(token);
      return answer(200, token, "text/plain");
    }
    std::string token = header(req.headers, "x-aliyun-ecs-metadata-token");
    if (c.require_token && !metadata_tokens_.count(token))
      return answer(401, "metadata token required\n", "text/plain");
    const std::string base = "/latest/meta-data/ram/security-credentials/";
    if (path == base) return answer(200, c.role, "text/plain");
    if (path == base + c.role) {
      auto o = issue_credential(wall);
      o["Code"] = "Success";
      o["LastUpdated"] = "2026-01-01T00:00:00Z";
      return answer(200, with_code(std::move(o)));
    }
    return answer(404, "not found\n", "text/plain");
  }
  if (sts) {
    if (req.method != "POST") return answer(405, "use POST\n", "text/plain");
    auto form = parse_query(req.body);
    auto field = [&](const char* k) { return form.count(k) ? form.at(k) : std::string(); };
    if (field("OIDCToken") != c.oidc_token || field("RoleArn") != c.role_arn ||
        field("OIDCProviderArn").empty() || field("RoleSessionName").empty()) {
      json::object e{{"RequestId", next_request_id()},
                     {"Code", "AuthenticationFail.OIDCToken.Invalid"},
                     {"Message", "The OIDC token, role or provider is not valid."}};
      return answer(400, json::serialize(e));
    }
    json::object o{{"RequestId", next_request_id()}, {"Credentials", issue_credential(wall)}};
    if (c.answer == "garbage") return answer(200, "<html>not JSON");
    if (c.answer == "code") return answer(200, json::serialize(json::object{{"Code", "Failed"}}));
    return answer(200, json::serialize(o));
  }
  return answer(200, with_code(issue_credential(wall)));
}

}  // namespace mmsmon::sim

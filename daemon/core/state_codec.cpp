#include "core/state_codec.hpp"

#include <boost/json.hpp>

#include "core/json_text.hpp"

namespace mmsmon {
namespace json = boost::json;
using std::chrono::milliseconds;

namespace {

/// The largest time (ms since the epoch) a state file may hold: system_clock counts
/// nanoseconds in 64 bits, which ends in 2262; nothing mmsmon records is near that.
constexpr std::int64_t kMaxMs = 9'000'000'000'000;
constexpr std::int64_t kDayMs = 86'400'000;

std::int64_t ms(WallTime t) {
  return std::chrono::duration_cast<milliseconds>(t.time_since_epoch()).count();
}

WallTime wall(std::int64_t m) {
  return WallTime{std::chrono::duration_cast<WallTime::duration>(milliseconds{m})};
}

template <class T>
void put(json::object& o, std::string_view k, const std::optional<T>& v) {
  if (v) o[k] = *v;
}

void put_time(json::object& o, std::string_view k, const std::optional<WallTime>& t) {
  if (t) o[k] = ms(*t);
}

json::object encode_job(const Job& j) {
  json::object o;
  put(o, "name", j.name);
  put(o, "db_id", j.db_id);
  put(o, "source_name", j.source_name);
  put(o, "src_db", j.src_db);
  put(o, "src_schema", j.src_schema);
  put(o, "dst_db", j.dst_db);
  put(o, "dst_schema", j.dst_schema);
  if (j.status)
    o["status"] = j.status_raw.empty() ? std::string(to_string(*j.status)) : j.status_raw;
  put(o, "type", j.type);
  put(o, "task_num", j.task_num);
  put(o, "task_done", j.task_done);
  put(o, "stopped", j.stopped);
  put_time(o, "create_time", j.create_time);
  put(o, "eta_raw", j.eta_raw);
  put_time(o, "eta", j.eta);
  return o;
}

json::object encode_error(const ApiError& e) {
  json::object o{{"reason", to_string(e.reason)},
                 {"http_status", e.http_status},
                 {"code", e.code},
                 {"message", e.message},
                 {"request_id", e.request_id}};
  if (e.retry_after) o["retry_after_ms"] = e.retry_after->count();
  return o;
}

json::object encode_facts(const std::vector<Fact>& facts) {
  json::object o;
  for (const auto& f : facts)
    std::visit([&](const auto& v) { o[f.key] = v; }, f.value);
  return o;
}

/// Facts back from encode_facts; values of other kinds are a problem.
std::vector<Fact> decode_facts(const json::value& v, const std::string& path,
                               std::optional<std::string>& error) {
  std::vector<Fact> out;
  const auto* o = v.if_object();
  if (!o) {
    if (!error) error = path + ": expected an object";
    return out;
  }
  for (const auto& kv : *o) {
    const auto& x = kv.value();
    Fact f{std::string(kv.key()), false};
    if (const auto* s = x.if_string())
      f.value = std::string(*s);
    else if (x.is_bool())
      f.value = x.get_bool();
    else if (x.is_int64())
      f.value = x.get_int64();
    else if (x.is_uint64() && x.get_uint64() <= static_cast<std::uint64_t>(INT64_MAX))
      f.value = static_cast<std::int64_t>(x.get_uint64());
    else if (x.is_double())
      f.value = x.get_double();
    else if (!error)
      error = path + "." + std::string(kv.key()) + ": expected a string, number or boolean";
    out.push_back(std::move(f));
  }
  return out;
}

/// Reads typed fields of one object; the first problem is kept with its path.
class Reader {
 public:
  Reader(const json::value& v, std::string path, std::optional<std::string>& error)
      : path_(std::move(path)), error_(error) {
    o_ = v.if_object();
    if (!o_) fail("expected an object, got " + json_kind_name(v));
  }
  bool ok() const { return o_ && !error_; }

  template <class T>
  std::optional<T> opt(std::string_view key) {
    const json::value* v = find(key);
    if (!v) return std::nullopt;
    if constexpr (std::is_same_v<T, std::string>) {
      if (auto* s = v->if_string()) return std::string(*s);
      fail(std::string(key) + ": expected a string");
    } else if constexpr (std::is_same_v<T, bool>) {
      if (v->is_bool()) return v->get_bool();
      fail(std::string(key) + ": expected true or false");
    } else {
      if (v->is_int64()) return static_cast<T>(v->get_int64());
      if (v->is_uint64() && v->get_uint64() <= static_cast<std::uint64_t>(INT64_MAX))
        return static_cast<T>(v->get_uint64());
      fail(std::string(key) + ": expected an integer");
    }
    return std::nullopt;
  }
  template <class T>
  T req(std::string_view key) {
    auto v = opt<T>(key);
    if (!v && ok()) fail(std::string(key) + ": missing");
    return v.value_or(T{});
  }
  /// A time in milliseconds since the epoch, within what system_clock holds (±292 years).
  std::optional<WallTime> time(std::string_view key) {
    auto v = opt<std::int64_t>(key);
    if (!v) return std::nullopt;
    if (*v < -kMaxMs || *v > kMaxMs) {
      fail(std::string(key) + ": time out of range");
      return std::nullopt;
    }
    return wall(*v);
  }
  /// A duration in milliseconds within [0, max_ms].
  std::optional<milliseconds> span(std::string_view key, std::int64_t max_ms) {
    auto v = opt<std::int64_t>(key);
    if (!v) return std::nullopt;
    if (*v < 0 || *v > max_ms) {
      fail(std::string(key) + ": out of range");
      return std::nullopt;
    }
    return milliseconds{*v};
  }
  const json::value* find(std::string_view key) const {
    if (!o_) return nullptr;
    auto* v = o_->if_contains(key);
    return v && !v->is_null() ? v : nullptr;
  }
  void fail(const std::string& msg) {
    if (!error_) error_ = path_ + (path_.empty() ? "" : ": ") + msg;
  }
  const std::string& path() const { return path_; }

 private:
  const json::object* o_ = nullptr;
  std::string path_;
  std::optional<std::string>& error_;
};

std::optional<FailureReason> parse_reason(std::string_view s) {
  for (auto r : {FailureReason::throttled, FailureReason::auth, FailureReason::not_found,
                 FailureReason::client, FailureReason::server, FailureReason::timeout,
                 FailureReason::network, FailureReason::tls, FailureReason::decode})
    if (to_string(r) == s) return r;
  return std::nullopt;
}

Job decode_job_snapshot(const json::value& v, const std::string& path, const JobKey& key,
                        std::optional<std::string>& error) {
  Reader r(v, path, error);
  Job j;
  j.key = key;
  j.name = r.opt<std::string>("name");
  j.db_id = r.opt<std::int64_t>("db_id");
  j.source_name = r.opt<std::string>("source_name");
  j.src_db = r.opt<std::string>("src_db");
  j.src_schema = r.opt<std::string>("src_schema");
  j.dst_db = r.opt<std::string>("dst_db");
  j.dst_schema = r.opt<std::string>("dst_schema");
  if (auto s = r.opt<std::string>("status")) {
    j.status = parse_job_status(*s);
    j.status_raw = *s;
  }
  j.type = r.opt<std::string>("type");
  j.task_num = r.opt<std::int64_t>("task_num");
  j.task_done = r.opt<std::int64_t>("task_done");
  j.stopped = r.opt<bool>("stopped");
  j.create_time = r.time("create_time");
  j.eta_raw = r.opt<std::string>("eta_raw");
  j.eta = r.time("eta");
  return j;
}

ApiError decode_error(const json::value& v, const std::string& path,
                      std::optional<std::string>& error) {
  Reader r(v, path, error);
  ApiError e;
  auto reason = r.req<std::string>("reason");
  if (auto x = parse_reason(reason))
    e.reason = *x;
  else if (r.ok())
    r.fail("reason: unknown \"" + reason + "\"");
  e.http_status = r.req<unsigned>("http_status");
  e.code = r.req<std::string>("code");
  e.message = r.req<std::string>("message");
  e.request_id = r.req<std::string>("request_id");
  if (auto ra = r.span("retry_after_ms", kDayMs)) e.retry_after = *ra;
  return e;
}

}  // namespace

std::string encode_state(const FleetState& state, WallTime written) {
  json::array jobs;
  for (const auto& t : state.jobs) {
    const JobState& s = t.state;
    json::object o{{"source_id", s.key.source.value},
                   {"job_id", s.key.job.value},
                   {"interval_ms", t.interval.count()},
                   {"polled", s.polled},
                   {"up", s.up},
                   {"consecutive_failures", s.consecutive_failures},
                   {"discovered", t.discovered},
                   {"transitions", json::array(s.transitions.begin(), s.transitions.end())}};
    put_time(o, "last_success", s.last_success);
    put_time(o, "last_progress", s.last_progress);
    put_time(o, "failing_since", s.failing_since);
    if (s.last) o["last"] = encode_job(*s.last);
    if (s.last_error) o["last_error"] = encode_error(*s.last_error);
    if (!s.progress.empty()) {
      json::array p;
      for (const auto& x : s.progress)
        p.push_back(json::array{ms(x.t), x.done});
      o["progress"] = std::move(p);
    }
    jobs.push_back(std::move(o));
  }
  json::array firing;
  for (const auto& f : state.firing) {
    json::object o{{"alert", to_string(f.alert)},
                   {"since", ms(f.since)},
                   {"said", ms(f.said)},
                   {"summary", f.summary},
                   {"facts", encode_facts(f.facts)}};
    if (f.job) {
      o["source_id"] = f.job->source.value;
      o["job_id"] = f.job->job.value;
    }
    put(o, "job_name", f.job_name);
    if (f.resolving)
      o["resolving"] = json::object{{"cleared", ms(f.resolving->ts)},
                                    {"summary", f.resolving->summary},
                                    {"facts", encode_facts(f.resolving->facts)}};
    firing.push_back(std::move(o));
  }
  json::object root{{"format", "mmsmon-state"},
                    {"version", kStateVersion},
                    {"written", ms(written)},
                    {"jobs", std::move(jobs)},
                    {"firing", std::move(firing)}};
  return json::serialize(root) + "\n";
}

Result<DecodedState> decode_state(std::string_view text) {
  boost::system::error_code ec;
  json::parse_options po;
  po.max_depth = 16;
  json::value root = json::parse(json::string_view(text.data(), text.size()), ec, {}, po);
  if (ec) return Failure{std::string("not JSON: ") + ec.message()};
  std::optional<std::string> error;
  Reader r(root, "", error);
  if (!r.ok()) return Failure{*error};
  if (r.opt<std::string>("format") != std::string("mmsmon-state"))
    return Failure{std::string("not an mmsmon state file")};
  auto version = r.req<std::int64_t>("version");
  if (error) return Failure{*error};
  if (version != kStateVersion)
    return Failure{"format version " + std::to_string(version) + ", this build reads version " +
                   std::to_string(kStateVersion)};
  DecodedState out;
  auto written = r.time("written");
  if (!written && !error) r.fail("written: missing");
  out.written = written.value_or(WallTime{});
  const json::value* jobs = r.find("jobs");
  const json::value* firing = r.find("firing");
  if (!jobs || !jobs->is_array()) r.fail("jobs: expected an array");
  if (!firing || !firing->is_array()) r.fail("firing: expected an array");
  if (error) return Failure{*error};
  std::size_t i = 0;
  for (const auto& v : jobs->get_array()) {
    Reader j(v, "jobs[" + std::to_string(i++) + "]", error);
    TrackedJob t;
    t.state.key =
        JobKey{SourceId{j.req<std::int64_t>("source_id")}, JobId{j.req<std::int64_t>("job_id")}};
    if (auto iv = j.span("interval_ms", 30 * kDayMs))
      t.interval = *iv;
    else if (!error)
      j.fail("interval_ms: missing");
    t.state.polled = j.req<bool>("polled");
    t.state.up = j.req<bool>("up");
    t.state.consecutive_failures = j.req<std::uint64_t>("consecutive_failures");
    t.discovered = j.opt<bool>("discovered").value_or(false);  // absent before discovery
    t.state.last_success = j.time("last_success");
    t.state.last_progress = j.time("last_progress");
    t.state.failing_since = j.time("failing_since");
    const json::value* tr = j.find("transitions");
    if (!tr || !tr->is_array() || tr->get_array().size() != t.state.transitions.size()) {
      j.fail("transitions: expected 4 counters");
    } else {
      for (std::size_t k = 0; k < t.state.transitions.size(); ++k) {
        const auto& c = tr->get_array()[k];
        if (c.is_uint64() || (c.is_int64() && c.get_int64() >= 0))
          t.state.transitions[k] = c.to_number<std::uint64_t>();
        else
          j.fail("transitions: expected counters");
      }
    }
    if (const auto* last = j.find("last"))
      t.state.last = decode_job_snapshot(*last, j.path() + ".last", t.state.key, error);
    if (const auto* pr = j.find("progress")) {
      // [[ms, taskDone], ...], oldest first; at most a few (record_progress keeps 14).
      const auto* arr = pr->if_array();
      if (!arr || arr->size() > 64) j.fail("progress: expected at most 64 [time, done] pairs");
      for (std::size_t k = 0; arr && k < arr->size() && !error; ++k) {
        const auto* pair = (*arr)[k].if_array();
        if (!pair || pair->size() != 2 || !(*pair)[0].is_int64() || !(*pair)[1].is_int64() ||
            (*pair)[0].get_int64() < -kMaxMs || (*pair)[0].get_int64() > kMaxMs ||
            (!t.state.progress.empty() &&
             wall((*pair)[0].get_int64()) <= t.state.progress.back().t)) {
          j.fail("progress: expected [time, done] pairs in time order");
          break;
        }
        t.state.progress.push_back({wall((*pair)[0].get_int64()), (*pair)[1].get_int64()});
      }
    }
    if (const auto* le = j.find("last_error"))
      t.state.last_error = decode_error(*le, j.path() + ".last_error", error);
    if (error) return Failure{*error};
    out.state.jobs.push_back(std::move(t));
  }
  i = 0;
  for (const auto& v : firing->get_array()) {
    Reader f(v, "firing[" + std::to_string(i++) + "]", error);
    AlertPolicy::Firing x;
    auto name = f.req<std::string>("alert");
    if (auto a = parse_alert_name(name))
      x.alert = *a;
    else if (f.ok())
      f.fail("alert: unknown \"" + name + "\"");
    auto since = f.time("since");
    if (!since && !error) f.fail("since: missing");
    x.since = since.value_or(WallTime{});
    auto sid = f.opt<std::int64_t>("source_id");
    auto jid = f.opt<std::int64_t>("job_id");
    if (sid && jid) x.job = JobKey{SourceId{*sid}, JobId{*jid}};
    // (said, summary, facts, resolving: absent from files of earlier builds.)
    x.said = f.time("said").value_or(x.since);
    x.job_name = f.opt<std::string>("job_name");
    x.summary = f.opt<std::string>("summary").value_or("");
    if (const auto* facts = f.find("facts"))
      x.facts = decode_facts(*facts, f.path() + ".facts", error);
    if (const auto* res = f.find("resolving")) {
      Reader r2(*res, f.path() + ".resolving", error);
      auto cleared = r2.time("cleared");
      if (!cleared && !error) r2.fail("cleared: missing");
      Alert a;
      a.name = x.alert;
      a.state = AlertState::resolved;
      a.severity = severity_of(x.alert);
      a.ts = cleared.value_or(WallTime{});
      a.job = x.job;
      a.job_name = x.job_name;
      a.summary = r2.opt<std::string>("summary").value_or("");
      if (const auto* rf = r2.find("facts"))
        a.facts = decode_facts(*rf, r2.path() + ".facts", error);
      x.resolving = std::move(a);
    }
    if (error) return Failure{*error};
    out.state.firing.push_back(x);
  }
  return out;
}

}  // namespace mmsmon

#include "core/config.hpp"

#include <algorithm>
#include <boost/json.hpp>
#include <cstdlib>
#include <fstream>
#include <set>
#include <sstream>

#include "core/endpoint.hpp"
#include "core/json_text.hpp"

namespace mmsmon {
namespace json = boost::json;

std::string ConfigError::to_string() const {
  std::ostringstream os;
  os << file;
  if (line > 0) os << ':' << line << ':' << column;
  os << ": ";
  if (!path.empty()) os << path << ": ";
  os << message;
  return os.str();
}

std::optional<std::string> did_you_mean(std::string_view key,
                                        const std::vector<std::string_view>& candidates) {
  auto distance = [](std::string_view a, std::string_view b) {
    std::vector<std::size_t> prev(b.size() + 1), cur(b.size() + 1);
    for (std::size_t j = 0; j <= b.size(); ++j)
      prev[j] = j;
    for (std::size_t i = 1; i <= a.size(); ++i) {
      cur[0] = i;
      for (std::size_t j = 1; j <= b.size(); ++j) {
        std::size_t sub = prev[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1);
        cur[j] = std::min({prev[j] + 1, cur[j - 1] + 1, sub});
      }
      std::swap(prev, cur);
    }
    return prev[b.size()];
  };
  std::optional<std::string> best;
  std::size_t best_d = 0;
  for (auto c : candidates) {
    std::size_t d = distance(key, c);
    std::size_t allowed = std::max<std::size_t>(1, std::min(key.size(), c.size()) / 3);
    if (d <= allowed && (!best || d < best_d)) {
      best = std::string(c);
      best_d = d;
    }
  }
  return best;
}

namespace {

constexpr Millis kWeek = 7 * 24h;

struct Problem {
  std::string path;
  std::string message;
};

/// Walks the DOM, decoding into plain structs and collecting every problem.
class Decoder {
 public:
  std::vector<Problem> problems;

  void add(std::string path, std::string message) {
    problems.push_back({std::move(path), std::move(message)});
  }

  static std::string join(const std::string& base, std::string_view key) {
    return base.empty() ? std::string(key) : base + "." + std::string(key);
  }

  /// Checks that `v` is an object whose keys are all in `allowed`; unknown keys are errors.
  const json::object* object(const json::value& v, const std::string& path,
                             const std::vector<std::string_view>& allowed,
                             const std::vector<std::string_view>& later = {}) {
    const auto* obj = v.if_object();
    if (!obj) {
      add(path, "expected an object, got " + json_kind_name(v));
      return nullptr;
    }
    for (const auto& kv : *obj) {
      std::string_view k = kv.key();
      if (std::find(later.begin(), later.end(), k) != later.end()) {
        add(join(path, k), "not supported yet (planned; remove it for now)");
        continue;
      }
      if (std::find(allowed.begin(), allowed.end(), k) != allowed.end()) continue;
      std::string msg = "unknown key \"" + std::string(k) + "\"";
      std::vector<std::string_view> all = allowed;
      all.insert(all.end(), later.begin(), later.end());
      if (auto m = did_you_mean(k, all)) msg += "; did you mean \"" + *m + "\"?";
      add(join(path, k), msg);
    }
    return obj;
  }

  std::optional<std::string> string(const json::value& v, const std::string& path) {
    if (const auto* s = v.if_string()) {
      if (s->empty()) {
        add(path, "must not be empty");
        return std::nullopt;
      }
      return std::string(*s);
    }
    add(path, "expected a string, got " + json_kind_name(v));
    return std::nullopt;
  }

  /// A duration in [min, max]: bounded, so that no `now + d` can overflow.
  std::optional<Millis> duration(const json::value& v, const std::string& path, Millis min,
                                 Millis max) {
    auto s = string(v, path);
    if (!s) return std::nullopt;
    auto d = parse_duration(*s);
    if (!d) {
      add(path, d.error());
      return std::nullopt;
    }
    if (*d < min) {
      add(path, "must be at least " + format_duration(min) + ", got \"" + *s + "\"");
      return std::nullopt;
    }
    if (*d > max) {
      add(path, "must be at most " + format_duration(max) + ", got \"" + *s + "\"");
      return std::nullopt;
    }
    return *d;
  }

  std::optional<std::int64_t> positive_int(const json::value& v, const std::string& path) {
    std::optional<std::int64_t> n;
    if (v.is_int64()) n = v.get_int64();
    if (v.is_uint64() && v.get_uint64() <= static_cast<std::uint64_t>(INT64_MAX))
      n = static_cast<std::int64_t>(v.get_uint64());
    if (!n) {
      add(path, "expected a positive integer, got " + json_kind_name(v));
      return std::nullopt;
    }
    if (*n <= 0) {
      add(path, "must be a positive integer, got " + std::to_string(*n));
      return std::nullopt;
    }
    return n;
  }

  std::optional<double> number(const json::value& v, const std::string& path) {
    if (v.is_double()) return v.get_double();
    if (v.is_int64()) return static_cast<double>(v.get_int64());
    if (v.is_uint64()) return static_cast<double>(v.get_uint64());
    add(path, "expected a number, got " + json_kind_name(v));
    return std::nullopt;
  }
};

std::optional<std::chrono::minutes> parse_utc_offset(std::string_view s) {
  if (s == "UTC" || s == "Z") return std::chrono::minutes{0};
  if (s.size() != 6 || (s[0] != '+' && s[0] != '-') || s[3] != ':') return std::nullopt;
  auto digit = [&](std::size_t i) { return s[i] >= '0' && s[i] <= '9'; };
  if (!digit(1) || !digit(2) || !digit(4) || !digit(5)) return std::nullopt;
  int h = (s[1] - '0') * 10 + (s[2] - '0');
  int m = (s[4] - '0') * 10 + (s[5] - '0');
  if (h > 14 || m > 59) return std::nullopt;
  int total = h * 60 + m;
  return std::chrono::minutes{s[0] == '-' ? -total : total};
}

/// `10/s`, `600/m`, `36000/h`, `0.5/s`: requests per second.
std::optional<double> parse_rate(std::string_view s) {
  auto slash = s.find('/');
  if (slash == std::string_view::npos || slash == 0 || slash + 2 != s.size()) return std::nullopt;
  double per = s[slash + 1] == 's' ? 1 : s[slash + 1] == 'm' ? 60 : s[slash + 1] == 'h' ? 3600 : 0;
  if (per == 0) return std::nullopt;
  std::string n(s.substr(0, slash));
  if (n.find_first_not_of("0123456789.") != std::string::npos) return std::nullopt;
  char* end = nullptr;
  double v = std::strtod(n.c_str(), &end);
  if (end != n.c_str() + n.size() || !(v > 0)) return std::nullopt;
  return v / per;
}

void decode_api(Decoder& d, const json::value& v, ApiConfig& api) {
  const std::string p = "api";
  const auto* o =
      d.object(v, p,
               {"region", "endpoint", "timeout", "ca_file", "max_response_bytes", "time_zone",
                "max_connections", "allow_insecure_http", "rate_limit", "rate_burst"});
  if (!o) return;
  if (auto* x = o->if_contains("rate_limit"))
    if (auto s = d.string(*x, "api.rate_limit")) {
      auto r = parse_rate(*s);
      if (!r || *r < 0.01 || *r > 10000)
        d.add("api.rate_limit",
              "expected requests per second, minute or hour between 0.01/s and 10000/s, e.g. "
              "\"10/s\" or \"600/m\", got \"" +
                  *s + "\"");
      else
        api.rate_limit = *r;
    }
  if (auto* x = o->if_contains("rate_burst"))
    if (auto n = d.positive_int(*x, "api.rate_burst")) {
      if (*n > 10000)
        d.add("api.rate_burst", "must be at most 10000");
      else
        api.rate_burst = static_cast<double>(*n);
    }
  if (auto* x = o->if_contains("region")) {
    if (auto s = d.string(*x, "api.region")) {
      bool okay = std::all_of(s->begin(), s->end(), [](char c) {
        return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-';
      });
      if (okay)
        api.region = *s;
      else
        d.add("api.region", "\"" + *s + "\" is not a region id like \"cn-hangzhou\"");
    }
  }
  bool insecure_ok = false;
  if (auto* x = o->if_contains("allow_insecure_http")) {
    if (x->is_bool())
      insecure_ok = x->get_bool();
    else
      d.add("api.allow_insecure_http", "expected true or false, got " + json_kind_name(*x));
  }
  if (auto* x = o->if_contains("endpoint")) {
    if (auto s = d.string(*x, "api.endpoint")) {
      auto ep = parse_endpoint(*s);
      if (!ep)
        d.add("api.endpoint", ep.error());
      else if (!ep->tls && !is_loopback_host(ep->host) && !insecure_ok)
        d.add("api.endpoint",
              "http:// to a host that is not loopback would send the signed requests and the "
              "security token in clear; use https://, or set \"allow_insecure_http\": true");
      else
        api.endpoint = *s;
    }
  }
  if (auto* x = o->if_contains("timeout"))
    if (auto t = d.duration(*x, "api.timeout", 100ms, 5min)) api.timeout = *t;
  if (auto* x = o->if_contains("ca_file"))
    if (auto s = d.string(*x, "api.ca_file")) api.ca_file = *s;
  if (auto* x = o->if_contains("max_response_bytes"))
    if (auto n = d.positive_int(*x, "api.max_response_bytes")) {
      if (*n < 4096)
        d.add("api.max_response_bytes", "must be at least 4096");
      else if (*n > (1 << 30))
        d.add("api.max_response_bytes", "must be at most 1073741824 (1 GiB)");
      else
        api.max_response_bytes = static_cast<std::size_t>(*n);
    }
  if (auto* x = o->if_contains("time_zone"))
    if (auto s = d.string(*x, "api.time_zone")) {
      if (auto off = parse_utc_offset(*s))
        api.utc_offset = *off;
      else
        d.add("api.time_zone", "expected an offset like \"+08:00\" or \"UTC\", got \"" + *s + "\"");
    }
  if (auto* x = o->if_contains("max_connections"))
    if (auto n = d.positive_int(*x, "api.max_connections")) {
      if (*n > 256)
        d.add("api.max_connections", "must be at most 256");
      else
        api.max_connections = static_cast<std::size_t>(*n);
    }
  if (!api.region && !api.endpoint && !o->contains("region") && !o->contains("endpoint"))
    d.add("api", "set \"region\" (e.g. \"cn-hangzhou\") or \"endpoint\"");
}

void decode_credentials(Decoder& d, const json::value& v, CredentialsConfig& c) {
  const auto* o = d.object(v, "credentials",
                           {"profile", "config_file", "type", "role_name", "role_arn",
                            "oidc_provider_arn", "oidc_token_file", "role_session_name",
                            "sts_endpoint", "duration", "uri", "credentials_file"});
  if (!o) return;
  auto text = [&](const char* key, std::optional<std::string>& out) {
    if (auto* y = o->if_contains(key))
      if (auto s = d.string(*y, std::string("credentials.") + key)) out = *s;
  };
  text("profile", c.profile);
  text("config_file", c.config_file);
  text("type", c.type);
  text("role_name", c.role_name);
  text("role_arn", c.role_arn);
  text("oidc_provider_arn", c.oidc_provider_arn);
  text("oidc_token_file", c.oidc_token_file);
  text("role_session_name", c.role_session_name);
  text("sts_endpoint", c.sts_endpoint);
  text("uri", c.uri);
  text("credentials_file", c.credentials_file);
  if (auto* y = o->if_contains("duration"))
    c.duration = d.duration(*y, "credentials.duration", 15min, 12h);
  // Credentials come back from STS and a credentials URI: in clear only on this machine.
  for (auto [key, val] : {std::pair{"sts_endpoint", &c.sts_endpoint}, std::pair{"uri", &c.uri}}) {
    if (!*val) continue;
    std::string_view u = **val;
    auto rest = u.substr(u.find("://") == std::string_view::npos ? 0 : u.find("://") + 3);
    auto ep = parse_endpoint(std::string(u.substr(0, u.size() - rest.size())) +
                             std::string(rest.substr(0, rest.find('/'))));
    if (!ep)
      d.add(std::string("credentials.") + key, ep.error());
    else if (!ep->tls && !is_loopback_host(ep->host))
      d.add(std::string("credentials.") + key,
            "http:// to a host that is not loopback would carry credentials in clear; use "
            "https://");
  }
  if (c.type && *c.type != "ecs_ram_role" && *c.type != "oidc" && *c.type != "credentials_uri")
    d.add("credentials.type",
          "must be \"ecs_ram_role\", \"oidc\" or \"credentials_uri\", got \"" + *c.type + "\"");
  if (c.type && c.profile) d.add("credentials.type", "\"type\" and \"profile\" exclude each other");
  if (c.type == "credentials_uri" && !c.uri)
    d.add("credentials.uri", "\"type\": \"credentials_uri\" needs \"uri\"");
  if (c.type == "oidc")
    for (auto [key, val] :
         {std::pair{"role_arn", &c.role_arn}, std::pair{"oidc_provider_arn", &c.oidc_provider_arn},
          std::pair{"oidc_token_file", &c.oidc_token_file}})
      if (!*val) d.add(std::string("credentials.") + key, "\"type\": \"oidc\" needs it");
}

void decode_poll(Decoder& d, const json::value& v, PollConfig& poll) {
  const auto* o =
      d.object(v, "poll",
               {"interval", "jitter", "max_in_flight", "pending_interval", "finished_interval",
                "page_size", "page_refresh", "finished_retention"});
  if (!o) return;
  if (auto* y = o->if_contains("max_in_flight"))
    if (auto n = d.positive_int(*y, "poll.max_in_flight")) {
      if (*n > 1024)
        d.add("poll.max_in_flight", "must be at most 1024");
      else
        poll.max_in_flight = static_cast<std::size_t>(*n);
    }
  if (auto* y = o->if_contains("interval"))
    if (auto t = d.duration(*y, "poll.interval", 1s, kWeek)) poll.interval = *t;
  if (auto* y = o->if_contains("finished_retention"))
    if (auto t = d.duration(*y, "poll.finished_retention", 1s, 365 * 24h))
      poll.finished_retention = *t;
  if (auto* y = o->if_contains("page_refresh")) {
    if (y->is_bool())
      poll.page_refresh = y->get_bool();
    else
      d.add("poll.page_refresh", "expected true or false, got " + json_kind_name(*y));
  }
  if (auto* y = o->if_contains("page_size"))
    if (auto n = d.positive_int(*y, "poll.page_size")) {
      if (*n > 1000)
        d.add("poll.page_size", "must be at most 1000");
      else
        poll.page_size = static_cast<std::size_t>(*n);
    }
  if (auto* y = o->if_contains("pending_interval"))
    if (auto t = d.duration(*y, "poll.pending_interval", 1s, kWeek)) poll.pending_interval = *t;
  if (auto* y = o->if_contains("finished_interval"))
    if (auto t = d.duration(*y, "poll.finished_interval", 0s, kWeek)) {
      if (*t > 0s && *t < 1s)
        d.add("poll.finished_interval", "must be 0s (never) or at least 1s");
      else
        poll.finished_interval = *t;
    }
  if (auto* y = o->if_contains("jitter"))
    if (auto j = d.number(*y, "poll.jitter")) {
      if (*j < 0 || *j > 1)
        d.add("poll.jitter", "must be between 0 and 1");
      else
        poll.jitter = *j;
    }
}

void decode_jobs(Decoder& d, const json::value& v, std::vector<JobRef>& jobs) {
  const auto* arr = v.if_array();
  if (!arr) {
    d.add("jobs", "expected an array, got " + json_kind_name(v));
    return;
  }
  std::set<JobKey> seen;
  for (std::size_t i = 0; i < arr->size(); ++i) {
    std::string p = "jobs[" + std::to_string(i) + "]";
    const auto* j = d.object((*arr)[i], p, {"source_id", "job_id", "interval", "stall_after"});
    if (!j) continue;
    std::optional<std::int64_t> sid, jid;
    if (auto* y = j->if_contains("source_id"))
      sid = d.positive_int(*y, p + ".source_id");
    else
      d.add(p, "missing \"source_id\"");
    if (auto* y = j->if_contains("job_id"))
      jid = d.positive_int(*y, p + ".job_id");
    else
      d.add(p, "missing \"job_id\"");
    std::optional<Millis> interval;
    if (auto* y = j->if_contains("interval"))
      if (!(interval = d.duration(*y, p + ".interval", 1s, kWeek))) continue;
    std::optional<Millis> stall;
    if (auto* y = j->if_contains("stall_after"))
      if (!(stall = d.duration(*y, p + ".stall_after", 0s, 30 * 24h))) continue;
    if (!sid || !jid) continue;
    JobKey k{SourceId{*sid}, JobId{*jid}};
    if (!seen.insert(k).second)
      d.add(p, "job " + std::to_string(*sid) + "/" + std::to_string(*jid) + " is listed twice");
    else
      jobs.push_back({k, interval, stall});
  }
}

std::vector<std::string> string_list(Decoder& d, const json::value& v, const std::string& p) {
  std::vector<std::string> out;
  const auto* arr = v.if_array();
  if (!arr) {
    d.add(p, "expected an array of strings, got " + json_kind_name(v));
    return out;
  }
  for (std::size_t i = 0; i < arr->size(); ++i)
    if (auto s = d.string((*arr)[i], p + "[" + std::to_string(i) + "]")) out.push_back(*s);
  return out;
}

void decode_discover(Decoder& d, const json::value& v, std::vector<DiscoverRule>& rules) {
  const auto* arr = v.if_array();
  if (!arr) {
    d.add("discover", "expected an array, got " + json_kind_name(v));
    return;
  }
  for (std::size_t i = 0; i < arr->size(); ++i) {
    std::string p = "discover[" + std::to_string(i) + "]";
    const auto* o = d.object((*arr)[i], p,
                             {"source_id", "all_sources", "include", "exclude", "status", "stopped",
                              "interval", "stall_after"});
    if (!o) continue;
    DiscoverRule r;
    if (auto* y = o->if_contains("source_id"))
      if (auto n = d.positive_int(*y, p + ".source_id")) r.source = SourceId{*n};
    if (auto* y = o->if_contains("all_sources")) {
      if (y->is_bool())
        r.all_sources = y->get_bool();
      else
        d.add(p + ".all_sources", "expected true or false, got " + json_kind_name(*y));
    }
    if (o->contains("source_id") == r.all_sources)
      d.add(p, "set one of \"source_id\" and \"all_sources\": true");
    if (auto* y = o->if_contains("include")) r.include = string_list(d, *y, p + ".include");
    if (auto* y = o->if_contains("exclude")) r.exclude = string_list(d, *y, p + ".exclude");
    if (auto* y = o->if_contains("status")) {
      r.status = string_list(d, *y, p + ".status");
      for (const auto& s : r.status)
        if (s != "INIT" && s != "DOING" && s != "DONE" && s != "FAILED")
          d.add(p + ".status", "expected INIT, DOING, DONE or FAILED, got \"" + s + "\"");
    }
    if (auto* y = o->if_contains("stopped")) {
      if (y->is_bool())
        r.stopped = y->get_bool();
      else
        d.add(p + ".stopped", "expected true or false, got " + json_kind_name(*y));
    }
    if (auto* y = o->if_contains("interval"))
      r.interval = d.duration(*y, p + ".interval", 1s, kWeek);
    if (auto* y = o->if_contains("stall_after"))
      r.stall_after = d.duration(*y, p + ".stall_after", 0s, 30 * 24h);
    rules.push_back(std::move(r));
  }
}

void decode_shard(Decoder& d, const json::value& v, ShardConfig& s) {
  const auto* o = d.object(v, "shard", {"index", "count"});
  if (!o) return;
  std::optional<std::int64_t> index, count;
  if (auto* y = o->if_contains("count")) count = d.positive_int(*y, "shard.count");
  if (auto* y = o->if_contains("index")) {
    if (y->is_int64() && y->get_int64() >= 0)
      index = y->get_int64();
    else if (y->is_uint64())
      index = static_cast<std::int64_t>(std::min<std::uint64_t>(y->get_uint64(), 1u << 20));
    else
      d.add("shard.index", "expected an integer from 0, got " + json_kind_name(*y));
  }
  if (!index || !count) {
    if (!o->contains("index") || !o->contains("count"))
      d.add("shard", "set both \"index\" and \"count\"");
    return;
  }
  if (*count > 1024) return d.add("shard.count", "must be at most 1024");
  if (*index >= *count)
    return d.add("shard.index", "must be less than shard.count (" + std::to_string(*count) + ")");
  s = ShardConfig{static_cast<std::uint32_t>(*index), static_cast<std::uint32_t>(*count)};
}

void decode_listen(Decoder& d, const json::value& v, std::string& listen) {
  auto s = d.string(v, "listen");
  if (!s) return;
  auto colon = s->rfind(':');
  bool okay = colon != std::string::npos && colon > 0 && colon + 1 < s->size();
  if (okay) {
    auto port = s->substr(colon + 1);
    okay = port.size() <= 5 && std::all_of(port.begin(), port.end(), ::isdigit) &&
           std::stoi(port) <= 65535;
  }
  std::string host = okay ? s->substr(0, colon) : std::string();
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']')
    host = host.substr(1, host.size() - 2);
  if (okay && !host.empty() && !is_ip_address(host)) {
    d.add("listen", "\"" + host + "\" is not an IP address (a host name is not resolved here): " +
                        "e.g. \"127.0.0.1:9854\" or \"[::1]:9854\"");
    return;
  }
  if (okay)
    listen = *s;
  else
    d.add("listen", "expected \"host:port\", e.g. \"127.0.0.1:9854\", got \"" + *s + "\"");
}

/// `{"name": "value", ...}` of strings.
std::vector<std::pair<std::string, std::string>> string_map(Decoder& d, const json::value& v,
                                                            const std::string& path) {
  std::vector<std::pair<std::string, std::string>> out;
  const auto* o = v.if_object();
  if (!o) {
    d.add(path, "expected an object of name: value, got " + json_kind_name(v));
    return out;
  }
  for (const auto& kv : *o) {
    std::string p = path + "." + std::string(kv.key());
    if (kv.key().empty()) d.add(path, "a name must not be empty");
    if (const auto* s = kv.value().if_string())
      out.emplace_back(std::string(kv.key()), std::string(*s));
    else
      d.add(p, "expected a string, got " + json_kind_name(kv.value()));
  }
  return out;
}

void decode_sink(Decoder& d, const json::value& v, const std::string& p, std::size_t index,
                 std::vector<SinkConfig>& out) {
  const auto* o = d.object(v, p,
                           {"type", "name", "url", "headers", "basic_auth", "ca_file", "timeout",
                            "resend_interval", "min_severity", "labels", "queue_size"});
  if (!o) return;
  SinkConfig s;
  if (auto* x = o->if_contains("type")) {
    if (auto t = d.string(*x, p + ".type")) {
      if (*t == "alertmanager")
        s.type = SinkConfig::Type::alertmanager;
      else if (*t == "webhook")
        s.type = SinkConfig::Type::webhook;
      else
        d.add(p + ".type", "expected \"alertmanager\" or \"webhook\", got \"" + *t + "\"");
    }
  } else {
    d.add(p, "missing \"type\" (\"alertmanager\" or \"webhook\")");
  }
  if (auto* x = o->if_contains("url")) {
    if (auto u = d.string(*x, p + ".url")) {
      auto ep = parse_endpoint(u->substr(0, u->find('/', u->find("://") + 3)));
      if (!ep || u->find('?') != std::string::npos || u->find('#') != std::string::npos)
        d.add(p + ".url", "expected http[s]://host[:port][/path], got \"" + *u + "\"");
      else
        s.url = *u;
    }
  } else {
    d.add(p, "missing \"url\"");
  }
  s.name = std::string(s.type == SinkConfig::Type::alertmanager ? "alertmanager-" : "webhook-") +
           std::to_string(index);
  if (auto* x = o->if_contains("name"))
    if (auto n = d.string(*x, p + ".name")) s.name = *n;
  if (auto* x = o->if_contains("headers")) s.headers = string_map(d, *x, p + ".headers");
  if (auto* x = o->if_contains("labels")) s.labels = string_map(d, *x, p + ".labels");
  if (auto* x = o->if_contains("basic_auth")) {
    if (const auto* b =
            d.object(*x, p + ".basic_auth", {"username", "password", "password_file"})) {
      if (auto* y = b->if_contains("username"))
        s.username = d.string(*y, p + ".basic_auth.username");
      if (auto* y = b->if_contains("password"))
        s.password = d.string(*y, p + ".basic_auth.password");
      if (auto* y = b->if_contains("password_file"))
        s.password_file = d.string(*y, p + ".basic_auth.password_file");
      if (!s.username) d.add(p + ".basic_auth", "missing \"username\"");
      if (s.password.has_value() == s.password_file.has_value())
        d.add(p + ".basic_auth", "set one of \"password\" and \"password_file\"");
    }
  }
  if (auto* x = o->if_contains("ca_file"))
    if (auto f = d.string(*x, p + ".ca_file")) s.ca_file = *f;
  if (auto* x = o->if_contains("timeout"))
    if (auto t = d.duration(*x, p + ".timeout", 100ms, 5min)) s.timeout = *t;
  if (auto* x = o->if_contains("resend_interval"))
    if (auto t = d.duration(*x, p + ".resend_interval", 1s, 1h)) s.resend_interval = *t;
  if (auto* x = o->if_contains("min_severity"))
    if (auto m = d.string(*x, p + ".min_severity")) {
      if (*m == "info" || *m == "warning" || *m == "critical")
        s.min_severity = *m;
      else
        d.add(p + ".min_severity",
              "expected \"info\", \"warning\" or \"critical\", got \"" + *m + "\"");
    }
  if (auto* x = o->if_contains("queue_size"))
    if (auto n = d.positive_int(*x, p + ".queue_size")) {
      if (*n > 100000)
        d.add(p + ".queue_size", "must be at most 100000");
      else
        s.queue_size = static_cast<std::size_t>(*n);
    }
  for (const auto& other : out)
    if (other.name == s.name) d.add(p + ".name", "\"" + s.name + "\" is the name of another sink");
  out.push_back(std::move(s));
}

void decode_alerts(Decoder& d, const json::value& v, AlertsConfig& alerts) {
  const auto* o = d.object(
      v, "alerts",
      {"file", "format", "unreachable_after", "throttled_after", "stall_after", "repeat_interval",
       "resolve_hold", "eta_margin", "eta_window", "sinks", "external_url"});
  if (!o) return;
  if (auto* y = o->if_contains("unreachable_after"))
    if (auto t = d.duration(*y, "alerts.unreachable_after", 0s, 30 * 24h))
      alerts.unreachable_after = *t;
  if (auto* y = o->if_contains("stall_after"))
    if (auto t = d.duration(*y, "alerts.stall_after", 0s, 30 * 24h)) alerts.stall_after = *t;
  if (auto* y = o->if_contains("throttled_after"))
    if (auto t = d.duration(*y, "alerts.throttled_after", 0s, 24h)) alerts.throttled_after = *t;
  if (auto* y = o->if_contains("repeat_interval"))
    if (auto t = d.duration(*y, "alerts.repeat_interval", 0s, 30 * 24h))
      alerts.repeat_interval = *t;
  if (auto* y = o->if_contains("eta_margin"))
    if (auto t = d.duration(*y, "alerts.eta_margin", 0s, 365 * 24h)) alerts.eta_margin = *t;
  if (auto* y = o->if_contains("eta_window"))
    if (auto t = d.duration(*y, "alerts.eta_window", 12s, 7 * 24h)) alerts.eta_window = *t;
  if (auto* y = o->if_contains("resolve_hold"))
    if (auto t = d.duration(*y, "alerts.resolve_hold", 0s, 24h)) alerts.resolve_hold = *t;
  if (auto* y = o->if_contains("file"))
    if (auto s = d.string(*y, "alerts.file")) alerts.file = *s;
  if (auto* y = o->if_contains("external_url"))
    if (auto s = d.string(*y, "alerts.external_url")) {
      if (s->starts_with("http://") || s->starts_with("https://"))
        alerts.external_url = s->back() == '/' ? s->substr(0, s->size() - 1) : *s;
      else
        d.add("alerts.external_url", "expected an http:// or https:// URL, got \"" + *s + "\"");
    }
  if (auto* y = o->if_contains("sinks")) {
    if (const auto* arr = y->if_array()) {
      for (std::size_t i = 0; i < arr->size(); ++i)
        decode_sink(d, (*arr)[i], "alerts.sinks[" + std::to_string(i) + "]", i, alerts.sinks);
    } else {
      d.add("alerts.sinks", "expected an array, got " + json_kind_name(*y));
    }
  }
  if (auto* y = o->if_contains("format"))
    if (auto s = d.string(*y, "alerts.format")) {
      if (*s == "json")
        alerts.format = AlertsConfig::Format::json;
      else if (*s == "logfmt")
        alerts.format = AlertsConfig::Format::logfmt;
      else
        d.add("alerts.format", "expected \"json\" or \"logfmt\", got \"" + *s + "\"");
    }
}

void decode_web(Decoder& d, const json::value& v, WebConfig& web) {
  const auto* o =
      d.object(v, "web", {"tls_server_config", "basic_auth_users", "health_without_auth"});
  if (!o) return;
  if (auto* x = o->if_contains("tls_server_config")) {
    const std::string p = "web.tls_server_config";
    if (const auto* t = d.object(
            *x, p,
            {"cert_file", "key_file", "client_ca_file", "client_auth_type", "min_version"})) {
      WebConfig::Tls tls;
      for (auto [key, field] :
           {std::pair{"cert_file", &tls.cert_file}, std::pair{"key_file", &tls.key_file}}) {
        if (auto* y = t->if_contains(key)) {
          if (auto s = d.string(*y, p + "." + key)) *field = *s;
        } else {
          d.add(p, std::string("missing \"") + key + "\"");
        }
      }
      if (auto* y = t->if_contains("client_ca_file"))
        if (auto s = d.string(*y, p + ".client_ca_file")) tls.client_ca_file = *s;
      if (auto* y = t->if_contains("client_auth_type"))
        if (auto s = d.string(*y, p + ".client_auth_type")) {
          static const std::vector<std::pair<std::string_view, WebConfig::ClientAuth>> kinds{
              {"NoClientCert", WebConfig::ClientAuth::none},
              {"RequestClientCert", WebConfig::ClientAuth::request},
              {"RequireAnyClientCert", WebConfig::ClientAuth::require_any},
              {"VerifyClientCertIfGiven", WebConfig::ClientAuth::verify_if_given},
              {"RequireAndVerifyClientCert", WebConfig::ClientAuth::require_and_verify}};
          auto it = std::find_if(kinds.begin(), kinds.end(),
                                 [&](const auto& k) { return k.first == *s; });
          if (it != kinds.end())
            tls.client_auth = it->second;
          else
            d.add(p + ".client_auth_type",
                  "expected NoClientCert, RequestClientCert, RequireAnyClientCert, "
                  "VerifyClientCertIfGiven or RequireAndVerifyClientCert; got \"" +
                      *s + "\"");
        }
      if (tls.client_auth == WebConfig::ClientAuth::verify_if_given ||
          tls.client_auth == WebConfig::ClientAuth::require_and_verify)
        if (!tls.client_ca_file)
          d.add(p,
                "client_auth_type "
                "needs \"client_ca_file\"");
      if (auto* y = t->if_contains("min_version"))
        if (auto s = d.string(*y, p + ".min_version")) {
          if (*s == "TLS13")
            tls.tls13_only = true;
          else if (*s != "TLS12")
            d.add(p + ".min_version",
                  "expected \"TLS12\" or \"TLS13\" (older versions are "
                  "not offered), got \"" +
                      *s + "\"");
        }
      web.tls = tls;
    }
  }
  if (auto* x = o->if_contains("basic_auth_users")) {
    if (const auto* users = x->if_object()) {
      for (const auto& kv : *users) {
        std::string p = "web.basic_auth_users." + std::string(kv.key());
        auto hash = d.string(kv.value(), p);
        if (!hash) continue;
        bool bcrypt =
            hash->size() == 60 &&
            (hash->starts_with("$2y$") || hash->starts_with("$2b$") || hash->starts_with("$2a$"));
        if (!bcrypt)
          d.add(p,
                "expected a bcrypt hash (\"$2y$...\", 60 characters), e.g. from "
                "`htpasswd -nBC 10 \"\" | tr -d ':\\n'`");
        else
          web.basic_auth_users.emplace_back(std::string(kv.key()), *hash);
      }
    } else {
      d.add("web.basic_auth_users",
            "expected an object of user: bcrypt hash, got " + json_kind_name(*x));
    }
  }
  if (auto* x = o->if_contains("health_without_auth")) {
    if (x->is_bool())
      web.health_without_auth = x->get_bool();
    else
      d.add("web.health_without_auth", "expected true or false, got " + json_kind_name(*x));
  }
}

void decode_log_level(Decoder& d, const json::value& v, std::string& level) {
  auto s = d.string(v, "log_level");
  if (!s) return;
  static const std::vector<std::string_view> levels{"trace", "debug", "info", "warn", "error"};
  if (std::find(levels.begin(), levels.end(), *s) != levels.end()) {
    level = *s;
    return;
  }
  std::string msg = "expected one of trace, debug, info, warn, error; got \"" + *s + "\"";
  if (auto m = did_you_mean(*s, levels)) msg += "; did you mean \"" + *m + "\"?";
  d.add("log_level", msg);
}

}  // namespace

Result<Config, std::vector<ConfigError>> parse_config(std::string_view text,
                                                      std::string_view file) {
  auto parsed = parse_relaxed_json(text);
  if (!parsed) {
    const auto& e = parsed.error();
    return Failure{std::vector<ConfigError>{
        {std::string(file), e.pos.line, e.pos.column, "", "invalid JSON: " + e.message}}};
  }
  Config cfg;
  Decoder d;
  // One decoder per top-level key; keys of later releases are refused, never ignored.
  const auto* o = d.object(
      parsed.value(), "",
      {"api", "credentials", "poll", "jobs", "listen", "web", "alerts", "tasks", "log_level",
       "state_file", "state_save_interval", "discover", "discover_interval", "shard"});
  if (o) {
    if (auto* x = o->if_contains("api"))
      decode_api(d, *x, cfg.api);
    else
      d.add("", "missing \"api\" (set api.region or api.endpoint)");
    if (auto* x = o->if_contains("credentials")) decode_credentials(d, *x, cfg.credentials);
    if (auto* x = o->if_contains("poll")) decode_poll(d, *x, cfg.poll);
    if (auto* x = o->if_contains("jobs")) decode_jobs(d, *x, cfg.jobs);
    if (auto* x = o->if_contains("discover")) decode_discover(d, *x, cfg.discover);
    if (auto* x = o->if_contains("discover_interval"))
      if (auto t = d.duration(*x, "discover_interval", 1s, kWeek)) cfg.discover_interval = *t;
    if (auto* x = o->if_contains("shard")) decode_shard(d, *x, cfg.shard);
    if (auto* x = o->if_contains("listen")) decode_listen(d, *x, cfg.listen);
    if (auto* x = o->if_contains("web")) decode_web(d, *x, cfg.web);
    if (auto* x = o->if_contains("alerts")) decode_alerts(d, *x, cfg.alerts);
    if (auto* x = o->if_contains("tasks"))
      if (const auto* t = d.object(*x, "tasks", {"interval"}))
        if (auto* y = t->if_contains("interval"))
          if (auto v = d.duration(*y, "tasks.interval", 0s, 24h)) cfg.tasks.interval = *v;
    if (auto* x = o->if_contains("log_level")) decode_log_level(d, *x, cfg.log_level);
    if (auto* x = o->if_contains("state_file"))
      if (auto f = d.string(*x, "state_file")) cfg.state_file = *f;
    if (auto* x = o->if_contains("state_save_interval"))
      if (auto t = d.duration(*x, "state_save_interval", 100ms, 1h)) cfg.state_save_interval = *t;
    if (!o->contains("jobs") && !o->contains("discover"))
      d.add("", "no jobs to watch: set \"jobs\" or \"discover\"");
    else if (o->contains("jobs") && cfg.jobs.empty() && !o->contains("discover") &&
             d.problems.empty())
      d.add("jobs", "is empty: list at least one job");
    else if (o->contains("discover") && cfg.discover.empty() && cfg.jobs.empty() &&
             d.problems.empty())
      d.add("discover", "is empty: add at least one entry");
  }
  JsonLocator loc(text);
  std::vector<ConfigError> errors;
  // A key given twice: the JSON parser kept one of them silently; an operator meant one.
  for (const auto& dup : loc.duplicates())
    errors.push_back({std::string(file), dup.second.line, dup.second.column, dup.path,
                      "given twice (first at line " + std::to_string(dup.first.line) + ", column " +
                          std::to_string(dup.first.column) + "); keep one"});
  if (d.problems.empty() && errors.empty()) return cfg;
  for (auto& pr : d.problems) {
    auto pos = loc.find(pr.path);
    errors.push_back({std::string(file), pos.line, pos.column, pr.path, pr.message});
  }
  return Failure{std::move(errors)};
}

Result<Config, std::vector<ConfigError>> load_config_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in)
    return Failure{std::vector<ConfigError>{{path, 0, 0, "", "cannot read the config file"}}};
  std::ostringstream ss;
  ss << in.rdbuf();
  return parse_config(ss.str(), path);
}

std::string api_base_url(const ApiConfig& api) {
  if (api.endpoint) return *api.endpoint;
  return "https://maxcompute." + api.region.value_or("cn-hangzhou") + ".aliyuncs.com";
}

}  // namespace mmsmon

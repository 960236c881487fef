#include "io/alert_sinks.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <deque>
#include <fstream>
#include <map>
#include <sstream>

#include "core/alert_sinks.hpp"
#include "core/credential_sources.hpp"
#include "core/endpoint.hpp"
#include "io/http_client.hpp"

namespace mmsmon {
namespace asio = boost::asio;
using asio::awaitable;
using std::chrono::steady_clock;
using namespace std::chrono_literals;
constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);

std::string basic_authorization(std::string_view user, std::string_view password) {
  static constexpr char k[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string in = std::string(user) + ":" + std::string(password), out = "Basic ";
  for (std::size_t i = 0; i < in.size(); i += 3) {
    std::uint32_t v = static_cast<unsigned char>(in[i]) << 16;
    if (i + 1 < in.size()) v |= static_cast<unsigned char>(in[i + 1]) << 8;
    if (i + 2 < in.size()) v |= static_cast<unsigned char>(in[i + 2]);
    out += k[(v >> 18) & 63];
    out += k[(v >> 12) & 63];
    out += i + 1 < in.size() ? k[(v >> 6) & 63] : '=';
    out += i + 2 < in.size() ? k[v & 63] : '=';
  }
  return out;
}

namespace {

/// Whether a failed answer is worth sending again.
bool retryable(unsigned status) {
  return status == 0 || status == 408 || status == 429 || status >= 500;
}

/// One sink: its HTTP client, queue and worker. Alertmanager and webhook differ in what
/// they queue and send; the delivery loop is shared.
struct Sink {
  Sink(asio::any_io_executor ex, SinkConfig c, std::unique_ptr<HttpClient> h, std::string t,
       AlertSinks::Observer o)
      : cfg(std::move(c)), http(std::move(h)), target(std::move(t)), timer(ex), obs(std::move(o)) {}

  SinkConfig cfg;
  std::unique_ptr<HttpClient> http;
  std::string target;  ///< the request target (path)
  std::string authorization;
  asio::steady_timer timer;
  AlertSinks::Observer obs;  ///< a copy: the sink's worker may outlive its AlertSinks
  bool stopping = false, failing = false, idle = false;
  AlertmanagerFormat format;

  // Webhook: alert bodies waiting, the one being sent.
  std::deque<std::string> queue;
  std::optional<std::string> current;
  // Alertmanager: firing conditions (key → alert, since), and one-off lines to send.
  struct Active {
    Alert alert;
    WallTime starts;
  };
  std::map<std::string, Active> active;
  std::deque<std::pair<std::uint64_t, std::string>> once;
  std::uint64_t seq = 0;
  /// Firing conditions new or changed since last sent, with the `seq` of their last change.
  std::map<std::string, std::uint64_t> changed;
  std::deque<std::string> resend;  ///< the firing conditions this round of resending has left
  steady_clock::time_point next_resend{};  ///< when the next round starts (none while one runs)
  /// Alerts in one request at most: 10,000 firing conditions go as 20 requests, not one of 10 MB.
  static constexpr std::size_t kBatch = 500;

  bool alertmanager() const { return cfg.type == SinkConfig::Type::alertmanager; }
  std::size_t queued() const {
    return alertmanager() ? once.size() : queue.size() + (current ? 1 : 0);
  }
  void event(AlertSinks::EventKind k, std::size_t n) {
    if (obs.on_event) obs.on_event(cfg.name, k, n, queued());
  }
  void wake() {
    if (idle) timer.cancel();
  }

  void overflowed() {
    bool dropped = false;
    while (queued() > cfg.queue_size) {
      if (alertmanager())
        once.pop_front();
      else
        queue.pop_front();
      event(AlertSinks::EventKind::dropped, 1);
      dropped = true;
    }
    if (dropped && obs.log)
      obs.log(true, "alert sink " + cfg.name + ": queue full (" + std::to_string(cfg.queue_size) +
                        " alerts); the oldest waiting are dropped");
  }

  void submit(const Alert& a) {
    if (!severe_enough(a, cfg.min_severity)) return;
    if (!alertmanager()) {
      queue.push_back(webhook_json(a));
    } else {
      auto key = alertmanager_key(a);
      auto it = active.find(key);
      WallTime starts = a.ts;
      if (it != active.end()) {
        starts = it->second.starts;
      } else {
        for (const auto& f : a.facts)  // a reminder or update of a condition not seen yet
          if (f.key == "firing_seconds")
            if (const auto* s = std::get_if<double>(&f.value))
              starts = a.ts - std::chrono::duration_cast<WallTime::duration>(
                                  std::chrono::duration<double>(*s));
      }
      if (a.state == AlertState::firing) {
        active.insert_or_assign(key, Active{a, starts});
        changed[key] = ++seq;
      } else if (a.state == AlertState::resolved) {
        if (it != active.end()) active.erase(it);
        changed.erase(key);
        once.emplace_back(++seq, alertmanager_alert_json(a, starts, a.ts, format));
      } else {
        once.emplace_back(++seq, alertmanager_alert_json(a, a.ts, a.ts + 1h, format));
      }
    }
    overflowed();
    event(AlertSinks::EventKind::sent, 0);  // the queue length
    wake();
  }

  /// Sleeps until woken by submit() or `until`; false when stopping.
  awaitable<bool> sleep(steady_clock::time_point until) {
    idle = true;
    timer.expires_at(until);
    co_await timer.async_wait(use_tuple);
    idle = false;
    co_return !stopping;
  }

  awaitable<Result<HttpResponse, TransportError>> post(std::string body) {
    HttpRequest req;
    req.method = "POST";
    req.target = target;
    req.headers.emplace_back("content-type", "application/json");
    req.headers.emplace_back("user-agent", "mmsmon");
    for (const auto& h : cfg.headers)
      req.headers.push_back(h);
    if (!authorization.empty()) req.headers.emplace_back("authorization", authorization);
    req.body = std::move(body);
    co_return co_await http->send(std::move(req), steady_clock::now() + cfg.timeout);
  }

  /// Tells the log about the first failure of a run, and the recovery after one.
  void outcome(bool ok, bool again, const std::string& what) {
    if (ok && failing && obs.log) obs.log(false, "alert sink " + cfg.name + ": delivers again");
    if (!ok && !failing && obs.log)
      obs.log(true, "alert sink " + cfg.name + " (" + http->endpoint().url() + "): " + what +
                        (again ? "; retrying with backoff" : "; not retried"));
    failing = !ok;
  }

  static std::string describe(const Result<HttpResponse, TransportError>& r) {
    if (!r) return r.error().message;
    std::string s = "HTTP " + std::to_string(r->status);
    if (r->status >= 300 && r->status < 400) s += " (a redirect: not followed; fix the url)";
    return s;
  }

  awaitable<void> run() {
    Millis backoff = 1s;
    unsigned attempts = 0;
    while (!stopping) {
      std::string body;
      std::size_t count = 0;
      std::uint64_t last_seq = 0;
      std::vector<std::pair<std::string, std::uint64_t>> sent;  // changes in this body
      std::size_t resend_taken = 0;  // entries of `resend` this body used up
      if (alertmanager()) {
        // Changed conditions and one-off lines go at once; every firing condition again every
        // resend_interval, as Prometheus does, so that an Alertmanager restart loses nothing.
        // Each request carries at most kBatch alerts.
        auto now = steady_clock::now();
        if (resend.empty() && !active.empty() && now >= next_resend) {
          for (const auto& [k, x] : active)
            resend.push_back(k);
          next_resend = steady_clock::time_point::max();
        }
        if (once.empty() && changed.empty() && resend.empty()) {
          if (!co_await sleep(active.empty() ? steady_clock::time_point::max() : next_resend))
            break;
          continue;
        }
        auto wall = std::chrono::system_clock::now();
        body = "[";
        auto add = [&](const std::string& key) {
          auto it = active.find(key);
          if (it == active.end()) return;  // resolved meanwhile
          if (count++) body += ',';
          body += alertmanager_alert_json(it->second.alert, it->second.starts,
                                          wall + 4 * cfg.resend_interval, format);
        };
        for (const auto& [k, version] : changed) {
          if (count >= kBatch) break;
          add(k);
          sent.emplace_back(k, version);
        }
        for (const auto& k : resend) {
          if (count >= kBatch) break;
          ++resend_taken;
          if (!changed.count(k)) add(k);
        }
        for (const auto& [n, json] : once) {
          if (count >= kBatch) break;
          if (count++) body += ',';
          body += json;
          last_seq = n;
        }
        body += "]";
      } else {
        if (!current) {
          if (queue.empty()) {
            if (!co_await sleep(steady_clock::time_point::max())) break;
            continue;
          }
          current = std::move(queue.front());
          queue.pop_front();
          attempts = 0;
        }
        body = *current;
        count = 1;
      }
      auto r = co_await post(std::move(body));
      if (stopping) break;
      bool ok = r && r->status >= 200 && r->status < 300;
      bool again = retryable(r ? r->status : 0);
      outcome(ok, again, describe(r));
      if (ok) {
        backoff = 1s;
        if (alertmanager()) {
          while (!once.empty() && once.front().first <= last_seq)
            once.pop_front();
          for (const auto& [k, version] : sent)  // unless it changed again meanwhile
            if (auto it = changed.find(k); it != changed.end() && it->second == version)
              changed.erase(it);
          resend.erase(resend.begin(), resend.begin() + static_cast<std::ptrdiff_t>(resend_taken));
          if (resend.empty() && next_resend == steady_clock::time_point::max())
            next_resend = steady_clock::now() + cfg.resend_interval;
        } else {
          current.reset();
        }
        event(AlertSinks::EventKind::sent, count);
        continue;
      }
      event(AlertSinks::EventKind::failed, 0);
      if (alertmanager()) {
        if (!again) {  // Alertmanager refuses them: sending them again will not help
          std::size_t n = 0;
          while (!once.empty() && once.front().first <= last_seq) {
            once.pop_front();
            ++n;
          }
          if (n) event(AlertSinks::EventKind::dropped, n);
        }
      } else if (!again || ++attempts >= 10) {
        current.reset();
        event(AlertSinks::EventKind::dropped, 1);
        if (obs.log)
          obs.log(true, "alert sink " + cfg.name + ": an alert dropped after " +
                            (again ? "10 attempts" : describe(r)));
      }
      if (!co_await sleep(steady_clock::now() + backoff)) break;
      backoff = std::min<Millis>(backoff * 2, alertmanager() ? cfg.resend_interval : Millis{60s});
    }
  }
};

}  // namespace

struct AlertSinks::Impl {
  Observer obs;
  std::vector<std::shared_ptr<Sink>> sinks;
};

AlertSinks::AlertSinks(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

AlertSinks::~AlertSinks() {
  stop();
}

Result<std::unique_ptr<AlertSinks>> AlertSinks::create(asio::any_io_executor ex,
                                                       const std::vector<SinkConfig>& configs,
                                                       std::string generator_url, Observer obs) {
  auto impl = std::make_unique<Impl>();
  impl->obs = std::move(obs);
  for (const auto& c : configs) {
    auto where = "alerts.sinks " + c.name + ": ";
    auto parts = split_url(c.url);
    if (!parts) return Failure{where + parts.error()};
    auto ep = parse_endpoint(parts->first);
    if (!ep) return Failure{where + ep.error()};
    HttpClientOptions ho;
    ho.timeout = c.timeout;
    ho.ca_file = c.ca_file;
    ho.max_body = 1u << 20;
    ho.max_idle = 1;
    auto http = HttpClient::create(ex, *ep, ho);
    if (!http) return Failure{where + http.error()};
    std::string target = parts->second.empty() ? "/" : parts->second;
    if (c.type == SinkConfig::Type::alertmanager)
      target =
          (target.back() == '/' ? target.substr(0, target.size() - 1) : target) + "/api/v2/alerts";
    auto sink = std::make_shared<Sink>(ex, c, std::move(http).value(), target, impl->obs);
    if (c.username) {
      std::string password = c.password.value_or("");
      if (c.password_file) {
        std::ifstream in(*c.password_file);
        if (!in) return Failure{where + "cannot read basic_auth.password_file " + *c.password_file};
        std::getline(in, password);
      }
      sink->authorization = basic_authorization(*c.username, password);
    }
    sink->format.generator_url = generator_url;
    sink->format.labels = c.labels;
    impl->sinks.push_back(std::move(sink));
  }
  for (const auto& s : impl->sinks)
    asio::co_spawn(ex, s->run(), [s](std::exception_ptr e) {
      if (e && !s->stopping && s->obs.log)
        s->obs.log(true, "alert sink " + s->cfg.name + ": internal error; it sends nothing more");
    });
  return std::unique_ptr<AlertSinks>(new AlertSinks(std::move(impl)));
}

void AlertSinks::seed(const std::vector<Alert>& firing) {
  for (const auto& s : impl_->sinks) {
    if (!s->alertmanager()) continue;
    for (const auto& a : firing)
      if (severe_enough(a, s->cfg.min_severity))
        s->active.insert_or_assign(alertmanager_key(a), Sink::Active{a, a.ts});
    s->wake();  // the first round of resending sends them
  }
}

void AlertSinks::submit(const Alert& a) {
  for (const auto& s : impl_->sinks)
    s->submit(a);
}

std::size_t AlertSinks::stop() {
  std::size_t lost = 0;
  for (const auto& s : impl_->sinks) {
    if (s->stopping) continue;
    s->stopping = true;
    lost += s->queued();
    s->timer.cancel();
    s->http->cancel_all();
  }
  return lost;
}

std::vector<std::string> AlertSinks::names() const {
  std::vector<std::string> out;
  for (const auto& s : impl_->sinks)
    out.push_back(s->cfg.name);
  return out;
}

}  // namespace mmsmon

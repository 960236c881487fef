#include "io/credential_provider.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <fstream>
#include <sstream>

#include "core/alert_policy.hpp"
#include "io/http_client.hpp"

namespace mmsmon {
namespace asio = boost::asio;
using namespace std::chrono_literals;

struct CredentialProvider::Impl : std::enable_shared_from_this<Impl> {
  asio::any_io_executor ex;
  RefreshingSource source;
  std::string name;
  CredentialProviderOptions opt;
  WallClock clock;
  std::unique_ptr<HttpClient> http;
  std::string uri_target;  ///< the credentials URI's path and query
  asio::steady_timer timer;
  bool stopped = false;

  Impl(asio::any_io_executor e, RefreshingSource s, std::string n, CredentialProviderOptions o,
       WallClock c)
      : ex(std::move(e)),
        source(std::move(s)),
        name(std::move(n)),
        opt(std::move(o)),
        clock(c ? std::move(c) : WallClock([] { return std::chrono::system_clock::now(); })),
        timer(ex) {}

  std::string failure(const TransportError& e) const { return name + ": " + e.message; }

  asio::awaitable<Result<HttpResponse, std::string>> send(HttpRequest req) {
    auto r = co_await http->send(std::move(req));
    if (!r) co_return Failure{failure(r.error())};
    co_return std::move(r).value();
  }

  static std::string status_error(const std::string& name, const std::string& what,
                                  const HttpResponse& r) {
    return name + ": " + what + " answered HTTP " + std::to_string(r.status);
  }

  asio::awaitable<Result<TemporaryCredentials>> fetch_ecs(const EcsRoleSource& e) {
    // Hardened mode first: a session token, sent with every request after.
    std::string token;
    HttpRequest put;
    put.method = "PUT";
    put.target = "/latest/api/token";
    put.headers.emplace_back("X-aliyun-ecs-metadata-token-ttl-seconds", "21600");
    auto t = co_await send(std::move(put));
    if (t && t.value().status == 200 && !t.value().body.empty()) {
      token = std::move(t.value().body);
    } else if (!e.allow_without_token) {
      std::string why =
          t ? status_error(name, "the metadata token request", t.value()) : std::move(t).error();
      co_return Failure{why +
                        " (no metadata session token, and ALIBABA_CLOUD_IMDSV1_DISABLED is true)"};
    }
    auto get = [&](std::string target) {
      HttpRequest r;
      r.target = std::move(target);
      if (!token.empty()) r.headers.emplace_back("X-aliyun-ecs-metadata-token", token);
      return r;
    };
    const std::string base = "/latest/meta-data/ram/security-credentials/";
    std::string role = e.role_name;
    if (role.empty()) {
      auto r = co_await send(get(base));
      if (!r) co_return Failure{std::move(r).error()};
      if (r.value().status != 200) co_return Failure{status_error(name, base, r.value())};
      role = r.value().body;
      while (!role.empty() && (role.back() == '\n' || role.back() == '\r' || role.back() == ' '))
        role.pop_back();
      if (role.empty() || role.find('/') != std::string::npos || role.size() > 128)
        co_return Failure{name + ": the metadata service named no usable role"};
    }
    auto r = co_await send(get(base + role));
    if (!r) co_return Failure{std::move(r).error()};
    if (r.value().status != 200)
      co_return Failure{status_error(name, "the credentials of role \"" + role + "\"", r.value())};
    co_return parse_temporary_credentials(r.value().body, CredentialAnswer::ecs, name);
  }

  asio::awaitable<Result<TemporaryCredentials>> fetch_oidc(const OidcSource& o) {
    // The token is read afresh every time: Kubernetes rotates the file.
    std::ifstream in(o.token_file, std::ios::binary);
    if (!in) co_return Failure{name + ": cannot read the OIDC token file " + o.token_file};
    std::ostringstream ss;
    ss << in.rdbuf();
    std::string token = ss.str();
    while (!token.empty() && (token.back() == '\n' || token.back() == '\r'))
      token.pop_back();
    if (token.empty())
      co_return Failure{name + ": the OIDC token file " + o.token_file + " is empty"};
    HttpRequest req;
    req.method = "POST";
    req.target = oidc_target(clock());
    req.headers.emplace_back("Content-Type", "application/x-www-form-urlencoded");
    req.headers.emplace_back("Accept", "application/json");
    req.body = oidc_form(o, token);
    std::fill(token.begin(), token.end(), '\0');
    auto r = co_await send(std::move(req));
    std::fill(req.body.begin(), req.body.end(), '\0');
    if (!r) co_return Failure{std::move(r).error()};
    // STS says why in the body (Code, Message) on errors too.
    co_return parse_temporary_credentials(
        r.value().body, CredentialAnswer::sts,
        name + (r.value().status == 200 ? std::string()
                                        : " (HTTP " + std::to_string(r.value().status) + ")"));
  }

  asio::awaitable<Result<TemporaryCredentials>> fetch_uri() {
    HttpRequest req;
    req.target = uri_target;
    req.headers.emplace_back("Accept", "application/json");
    auto r = co_await send(std::move(req));
    if (!r) co_return Failure{std::move(r).error()};
    if (r.value().status != 200) co_return Failure{status_error(name, "the URI", r.value())};
    co_return parse_temporary_credentials(r.value().body, CredentialAnswer::uri, name);
  }

  asio::awaitable<Result<TemporaryCredentials>> fetch() {
    Result<TemporaryCredentials> r = Failure{std::string("no source")};
    if (auto* e = std::get_if<EcsRoleSource>(&source))
      r = co_await fetch_ecs(*e);
    else if (auto* o = std::get_if<OidcSource>(&source))
      r = co_await fetch_oidc(*o);
    else
      r = co_await fetch_uri();
    if (!r) co_return r;
    if (r.value().expiration <= clock())
      co_return Failure{name + ": the credentials expired already (Expiration " +
                        rfc3339(r.value().expiration) + ")"};
    r.value().creds.source = name;
    co_return r;
  }

  asio::awaitable<void> loop(std::optional<TemporaryCredentials> current, Observer obs) {
    auto self = shared_from_this();  // alive while the loop runs
    WallTime obtained = clock();
    Millis backoff = 1s;
    bool ask_now = !current;
    while (!stopped) {
      if (!ask_now) {
        auto wait =
            std::chrono::duration_cast<Millis>(refresh_at(obtained, current->expiration) - clock());
        if (wait > 0ms) {
          timer.expires_after(wait);
          co_await timer.async_wait(asio::as_tuple(asio::use_awaitable));  // cancelled: stop()
          if (stopped) co_return;
        }
      }
      auto r = co_await fetch();
      if (stopped) co_return;
      if (r) {
        current = std::move(r).value();
        obtained = clock();
        backoff = 1s;
        ask_now = false;
        if (obs.updated) obs.updated(*current);
        continue;
      }
      bool expired = !current || clock() >= current->expiration;
      if (obs.failed) obs.failed(r.error(), expired);
      // Ask again after the backoff, and always before the credentials in use expire.
      Millis wait = backoff;
      if (!expired) {
        auto left = std::chrono::duration_cast<Millis>(current->expiration - clock());
        wait = std::max<Millis>(200ms, std::min(wait, left / 2));
      }
      backoff = std::min<Millis>(backoff * 2, 60s);
      ask_now = true;
      timer.expires_after(wait);
      co_await timer.async_wait(asio::as_tuple(asio::use_awaitable));  // cancelled: stop()
    }
  }
};

Result<std::unique_ptr<CredentialProvider>> CredentialProvider::create(
    asio::any_io_executor ex, RefreshingSource source, std::string name,
    CredentialProviderOptions opt, WallClock clock) {
  auto impl = std::make_shared<Impl>(ex, std::move(source), std::move(name), opt, std::move(clock));
  std::string base;
  Millis timeout = opt.timeout;
  if (auto* e = std::get_if<EcsRoleSource>(&impl->source)) {
    base = e->endpoint;
    timeout = opt.metadata_timeout;
  } else if (auto* o = std::get_if<OidcSource>(&impl->source)) {
    base = o->sts_endpoint;
  } else {
    auto split = split_url(std::get<UriSource>(impl->source).url);
    if (!split) return Failure{impl->name + ": " + split.error()};
    base = split.value().first;
    impl->uri_target = split.value().second;
  }
  auto ep = parse_endpoint(base);
  if (!ep) return Failure{impl->name + ": " + ep.error()};
  HttpClientOptions hopt;
  hopt.timeout = timeout;
  hopt.ca_file = opt.ca_file;
  hopt.max_body = 64 * 1024;  // credentials are small; anything larger is not an answer
  hopt.max_idle = 1;
  auto h = HttpClient::create(ex, *ep, hopt);
  if (!h) return Failure{impl->name + ": " + h.error()};
  impl->http = std::move(h).value();
  return std::unique_ptr<CredentialProvider>(new CredentialProvider(std::move(impl)));
}

CredentialProvider::CredentialProvider(std::shared_ptr<Impl> impl) : impl_(std::move(impl)) {}

CredentialProvider::~CredentialProvider() {
  stop();
}

asio::awaitable<Result<TemporaryCredentials>> CredentialProvider::fetch() {
  return impl_->fetch();
}

void CredentialProvider::start(std::optional<TemporaryCredentials> current, Observer observer) {
  asio::co_spawn(impl_->ex, impl_->loop(std::move(current), std::move(observer)), asio::detached);
}

void CredentialProvider::stop() {
  if (impl_->stopped) return;
  impl_->stopped = true;
  impl_->timer.cancel();
  if (impl_->http) impl_->http->cancel_all();
}

const std::string& CredentialProvider::name() const {
  return impl_->name;
}

Result<TemporaryCredentials> fetch_credentials_now(const RefreshingSource& source,
                                                   const std::string& name,
                                                   CredentialProviderOptions opt) {
  asio::io_context io;
  auto p = CredentialProvider::create(io.get_executor(), source, name, opt);
  if (!p) return Failure{std::move(p).error()};
  std::optional<Result<TemporaryCredentials>> out;
  asio::co_spawn(
      io, [&]() -> asio::awaitable<void> { out = co_await p.value()->fetch(); }, asio::detached);
  io.run();
  if (!out) return Failure{name + ": no answer"};
  return std::move(*out);
}

}  // namespace mmsmon

#include "core/credential_sources.hpp"

#include <algorithm>
#include <boost/json.hpp>
#include <cstdio>

#include "core/alert_policy.hpp"
#include "core/signer.hpp"

namespace mmsmon {
namespace json = boost::json;

std::optional<WallTime> parse_expiration(std::string_view s) {
  // 2006-01-02T15:04:05Z
  if (s.size() != 20 || s[4] != '-' || s[7] != '-' || s[10] != 'T' || s[13] != ':' ||
      s[16] != ':' || s[19] != 'Z')
    return std::nullopt;
  auto num = [&](std::size_t pos, std::size_t len) -> std::optional<int> {
    int v = 0;
    for (std::size_t i = pos; i < pos + len; ++i) {
      if (s[i] < '0' || s[i] > '9') return std::nullopt;
      v = v * 10 + (s[i] - '0');
    }
    return v;
  };
  auto y = num(0, 4), mo = num(5, 2), d = num(8, 2), h = num(11, 2), mi = num(14, 2),
       se = num(17, 2);
  if (!y || !mo || !d || !h || !mi || !se) return std::nullopt;
  // system_clock counts nanoseconds: years far from now overflow it (found by fuzzing).
  if (*y < 1970 || *y > 2200) return std::nullopt;
  using namespace std::chrono;
  year_month_day ymd{year{*y}, month{static_cast<unsigned>(*mo)}, day{static_cast<unsigned>(*d)}};
  if (!ymd.ok() || *h > 23 || *mi > 59 || *se > 60) return std::nullopt;
  return WallTime{sys_days{ymd}} + hours{*h} + minutes{*mi} + seconds{*se};
}

namespace {

std::string field(const json::object& o, std::string_view key) {
  if (auto* v = o.if_contains(key))
    if (auto* s = v->if_string()) return std::string(*s);
  return {};
}

}  // namespace

Result<TemporaryCredentials> parse_temporary_credentials(std::string_view body,
                                                         CredentialAnswer shape,
                                                         const std::string& source) {
  boost::system::error_code ec;
  json::value root = json::parse(body, ec);
  // Never quote the body: it holds secrets.
  if (ec || !root.is_object())
    return Failure{source + ": the answer is not a JSON object (" +
                   (ec ? ec.message() : std::string("another JSON value")) + ")"};
  const json::object* o = &root.get_object();
  std::string code = field(*o, "Code");
  if (shape == CredentialAnswer::sts) {
    const json::value* c = o->if_contains("Credentials");
    if (!c || !c->is_object()) {
      std::string why = code.empty() ? "no \"Credentials\" object" : "Code \"" + code + "\"";
      std::string msg = field(*o, "Message");
      return Failure{source + ": " + why + (msg.empty() ? "" : ": " + msg)};
    }
    o = &c->get_object();
  } else if (!code.empty() && code != "Success") {
    return Failure{source + ": Code is \"" + code + "\", not \"Success\""};
  }
  TemporaryCredentials t;
  t.creds.access_key_id = field(*o, "AccessKeyId");
  std::string secret = field(*o, "AccessKeySecret"), token = field(*o, "SecurityToken");
  t.creds.access_key_secret = Secret(secret);
  t.creds.security_token = Secret(token);
  std::fill(secret.begin(), secret.end(), '\0');
  std::fill(token.begin(), token.end(), '\0');
  for (auto [name, empty] : {std::pair{"AccessKeyId", t.creds.access_key_id.empty()},
                             std::pair{"AccessKeySecret", t.creds.access_key_secret.empty()},
                             std::pair{"SecurityToken", t.creds.security_token.empty()}})
    if (empty) return Failure{source + ": the answer has no " + name};
  std::string exp = field(*o, "Expiration");
  auto when = parse_expiration(exp);
  if (!when)
    return Failure{source + ": Expiration " +
                   (exp.empty() ? std::string("is missing") : "\"" + exp.substr(0, 40) + "\"") +
                   " is not yyyy-mm-ddThh:mm:ssZ"};
  t.expiration = *when;
  t.creds.source = source;
  return t;
}

WallTime refresh_at(WallTime obtained, WallTime expiration) {
  using namespace std::chrono;
  if (expiration <= obtained) return obtained;
  auto life = expiration - obtained;
  auto ahead = std::min<system_clock::duration>(seconds(180), life / 3);
  return expiration - ahead;
}

std::string sts_endpoint(const std::optional<std::string>& region, bool vpc) {
  if (!region || region->empty()) return "https://sts.aliyuncs.com";
  return std::string("https://") + (vpc ? "sts-vpc." : "sts.") + *region + ".aliyuncs.com";
}

std::string oidc_target(WallTime now) {
  // rfc3339 gives milliseconds; STS takes yyyy-MM-ddTHH:mm:ssZ.
  std::string ts = rfc3339(std::chrono::floor<std::chrono::seconds>(now));
  if (auto dot = ts.find('.'); dot != std::string::npos) ts = ts.substr(0, dot) + "Z";
  return "/?Action=AssumeRoleWithOIDC&Format=JSON&Version=2015-04-01&Timestamp=" +
         percent_encode(ts);
}

std::string oidc_form(const OidcSource& s, std::string_view token) {
  return "RoleArn=" + percent_encode(s.role_arn) +
         "&OIDCProviderArn=" + percent_encode(s.provider_arn) +
         "&OIDCToken=" + percent_encode(token) +
         "&RoleSessionName=" + percent_encode(s.session_name) +
         "&DurationSeconds=" + std::to_string(s.duration.count());
}

Result<std::pair<std::string, std::string>> split_url(std::string_view url) {
  auto scheme = url.find("://");
  if (scheme == std::string_view::npos)
    return Failure{"\"" + std::string(url) + "\" is not an http:// or https:// URL"};
  auto slash = url.find('/', scheme + 3);
  if (slash == std::string_view::npos) return std::pair{std::string(url), std::string("/")};
  return std::pair{std::string(url.substr(0, slash)), std::string(url.substr(slash))};
}

}  // namespace mmsmon

#include "core/credentials.hpp"

#include <map>

#include "core/credential_sources.hpp"

#include <openssl/crypto.h>
#include <sys/stat.h>
#include <boost/json.hpp>
#include <cstdlib>

#include <cstdio>
#include <fstream>
#include <sstream>
#include <vector>

namespace mmsmon {
namespace json = boost::json;

Secret::~Secret() {
  // Best effort: do not leave the secret in freed memory.
  volatile char* p = s_.data();
  for (std::size_t i = 0; i < s_.size(); ++i)
    p[i] = 0;
}

EnvLookup process_env() {
  return [](std::string_view name) -> std::optional<std::string> {
    const char* v = std::getenv(std::string(name).c_str());
    if (!v || !*v) return std::nullopt;
    return std::string(v);
  };
}

namespace {

/// Overwrites a copy of secret material before it is freed.
void wipe(std::string& s) {
  OPENSSL_cleanse(s.data(), s.size());
  s.clear();
}

std::optional<std::string> read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return std::nullopt;
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string trim_newlines(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r' || s.back() == ' '))
    s.pop_back();
  return s;
}

std::optional<Credentials> from_env(const EnvLookup& env) {
  auto id = env("ALIBABA_CLOUD_ACCESS_KEY_ID");
  auto secret = env("ALIBABA_CLOUD_ACCESS_KEY_SECRET");
  if (!id || !secret) return std::nullopt;
  Credentials c;
  c.access_key_id = *id;
  c.access_key_secret = Secret(*secret);
  if (auto tok = env("ALIBABA_CLOUD_SECURITY_TOKEN")) c.security_token = Secret(*tok);
  c.source = "environment (ALIBABA_CLOUD_ACCESS_KEY_ID)";
  return c;
}

Result<std::optional<Credentials>> from_systemd(const EnvLookup& env) {
  auto dir = env("CREDENTIALS_DIRECTORY");
  if (!dir) return std::optional<Credentials>{};
  auto id = read_file(*dir + "/access_key_id");
  auto secret = read_file(*dir + "/access_key_secret");
  if (!id && !secret) return std::optional<Credentials>{};
  if (!id || !secret)
    return Failure{"systemd credentials in " + *dir +
                   ": need both access_key_id and access_key_secret"};
  Credentials c;
  c.access_key_id = trim_newlines(*id);
  c.access_key_secret = Secret(trim_newlines(*secret));
  if (auto tok = read_file(*dir + "/security_token"))
    c.security_token = Secret(trim_newlines(*tok));
  c.source = "systemd credentials in " + *dir;
  if (c.access_key_id.empty() || c.access_key_secret.empty())
    return Failure{"systemd credentials in " + *dir +
                   ": access_key_id or access_key_secret is empty"};
  return std::optional<Credentials>{std::move(c)};
}

bool env_true(const EnvLookup& env, std::string_view name) {
  auto v = env(name);
  return v && (*v == "true" || *v == "TRUE" || *v == "True" || *v == "1");
}

EcsRoleSource ecs_defaults(const EnvLookup& env) {
  EcsRoleSource e;
  e.allow_without_token = !env_true(env, "ALIBABA_CLOUD_IMDSV1_DISABLED");
  return e;
}

OidcSource oidc_defaults(const EnvLookup& env) {
  OidcSource o;
  o.sts_endpoint = sts_endpoint(env("ALIBABA_CLOUD_STS_REGION"),
                                env_true(env, "ALIBABA_CLOUD_VPC_ENDPOINT_ENABLED"));
  if (auto n = env("ALIBABA_CLOUD_ROLE_SESSION_NAME")) o.session_name = *n;
  return o;
}

/// OIDC / RRSA from the environment, when all three variables are set.
std::optional<CredentialPlan> from_oidc_env(const EnvLookup& env) {
  auto arn = env("ALIBABA_CLOUD_ROLE_ARN"), provider = env("ALIBABA_CLOUD_OIDC_PROVIDER_ARN"),
       file = env("ALIBABA_CLOUD_OIDC_TOKEN_FILE");
  if (!arn || !provider || !file) return std::nullopt;
  OidcSource o = oidc_defaults(env);
  o.role_arn = *arn;
  o.provider_arn = *provider;
  o.token_file = *file;
  return CredentialPlan{RefreshingSource{o}, "OIDC role " + *arn + " (environment)"};
}

/// Refuses a file of secrets that others may read, as ssh does with its keys.
std::optional<std::string> group_readable(const std::string& what, const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0 || (st.st_mode & 077) == 0) return std::nullopt;
  char mode[8];
  std::snprintf(mode, sizeof mode, "%04o", static_cast<unsigned>(st.st_mode & 07777));
  return what + " " + path + " is readable by group or others (mode " + mode +
         "); it holds secrets: chmod 600 it";
}

std::string shared_file_path(const CredentialsConfig& cfg, const EnvLookup& env) {
  if (cfg.credentials_file) return *cfg.credentials_file;
  if (auto f = env("ALIBABA_CLOUD_CREDENTIALS_FILE")) return *f;
  if (auto home = env("HOME")) return *home + "/.alibabacloud/credentials";
  return "~/.alibabacloud/credentials";
}

std::string trim(std::string_view s) {
  auto b = s.find_first_not_of(" \t\r");
  if (b == std::string_view::npos) return {};
  auto e = s.find_last_not_of(" \t\r");
  return std::string(s.substr(b, e - b + 1));
}

/// The shared credentials file of the official libraries (INI): the section named by
/// ALIBABA_CLOUD_PROFILE or `default`, types `access_key` and `ecs_ram_role`.
Result<std::optional<CredentialPlan>> from_shared_file(const CredentialsConfig& cfg,
                                                       const EnvLookup& env) {
  std::string path = shared_file_path(cfg, env);
  auto text = read_file(path);
  if (!text) {
    if (cfg.credentials_file) return Failure{"credentials file " + path + " cannot be read"};
    return std::optional<CredentialPlan>{};
  }
  struct Wiper {
    std::string& s;
    ~Wiper() { wipe(s); }
  } wiper{*text};
  if (auto bad = group_readable("credentials file", path)) return Failure{*bad};
  std::string want = env("ALIBABA_CLOUD_PROFILE").value_or("default");
  std::map<std::string, std::string> kv;
  std::string section;
  bool found = false;
  std::size_t line_no = 0, pos = 0;
  while (pos <= text->size()) {
    auto nl = text->find('\n', pos);
    std::string line = trim(
        std::string_view(*text).substr(pos, (nl == std::string::npos ? text->size() : nl) - pos));
    pos = nl == std::string::npos ? text->size() + 1 : nl + 1;
    ++line_no;
    if (line.empty() || line[0] == '#' || line[0] == ';') continue;
    if (line.front() == '[') {
      if (line.back() != ']')
        return Failure{path + ":" + std::to_string(line_no) + ": a section header needs a ]"};
      section = trim(std::string_view(line).substr(1, line.size() - 2));
      found = found || section == want;
      continue;
    }
    auto eq = line.find('=');
    // Never quote the line: it may hold a secret.
    if (eq == std::string::npos)
      return Failure{path + ":" + std::to_string(line_no) + ": expected key = value"};
    if (section == want)
      kv[trim(std::string_view(line).substr(0, eq))] = trim(std::string_view(line).substr(eq + 1));
  }
  std::string where = "section [" + want + "] of " + path;
  if (!found) return Failure{path + " has no section [" + want + "]"};
  if (kv.count("enable") && (kv["enable"] == "false" || kv["enable"] == "0"))
    return Failure{where + " is disabled (enable = false)"};
  std::string type = kv.count("type") ? kv["type"] : "";
  if (type == "access_key") {
    Credentials c;
    c.access_key_id = kv["access_key_id"];
    c.access_key_secret = Secret(kv["access_key_secret"]);
    wipe(kv["access_key_secret"]);
    if (c.access_key_id.empty() || c.access_key_secret.empty())
      return Failure{where + " (access_key) lacks access_key_id or access_key_secret"};
    c.source = where;
    return std::optional<CredentialPlan>{CredentialPlan{std::move(c), where}};
  }
  if (type == "ecs_ram_role") {
    EcsRoleSource e = ecs_defaults(env);
    e.role_name = kv["role_name"];
    return std::optional<CredentialPlan>{
        CredentialPlan{RefreshingSource{e}, where + " (ecs_ram_role)"}};
  }
  return Failure{where + " has type \"" + type +
                 "\"; supported types are access_key and ecs_ram_role"};
}

std::string profile_path(const CredentialsConfig& cfg, const EnvLookup& env) {
  if (cfg.config_file) return *cfg.config_file;
  if (auto f = env("ALIBABA_CLOUD_CONFIG_FILE")) return *f;
  if (auto home = env("HOME")) return *home + "/.aliyun/config.json";
  return "~/.aliyun/config.json";
}

std::string str(const json::object& o, std::string_view key) {
  if (auto* v = o.if_contains(key))
    if (auto* s = v->if_string()) return std::string(*s);
  return {};
}

/// Loads an Aliyun CLI profile. nullopt + no error means "file absent".
Result<std::optional<CredentialPlan>> from_profile(const CredentialsConfig& cfg,
                                                   const EnvLookup& env, bool required) {
  std::string path = profile_path(cfg, env);
  auto text = read_file(path);
  if (!text) {
    if (required) return Failure{"Aliyun CLI config " + path + " cannot be read"};
    return std::optional<CredentialPlan>{};
  }
  if (auto bad = group_readable("Aliyun CLI config", path)) {
    wipe(*text);
    return Failure{*bad};
  }
  struct Wiper {
    std::string& s;
    ~Wiper() { wipe(s); }
  } wiper{*text};
  boost::system::error_code ec;
  json::value root = json::parse(*text, ec);
  // Never quote the file's content: it holds secrets.
  if (ec || !root.is_object())
    return Failure{"Aliyun CLI config " + path + " is not valid JSON (" + ec.message() + ")"};
  const auto& o = root.get_object();
  std::string name;
  if (cfg.profile)
    name = *cfg.profile;
  else if (auto p = env("ALIBABA_CLOUD_PROFILE"))
    name = *p;
  else
    name = str(o, "current");
  if (name.empty()) name = "default";
  const json::array* profiles = nullptr;
  if (auto* v = o.if_contains("profiles")) profiles = v->if_array();
  if (!profiles) return Failure{"Aliyun CLI config " + path + " has no \"profiles\" array"};
  for (const auto& pv : *profiles) {
    const auto* p = pv.if_object();
    if (!p || str(*p, "name") != name) continue;
    std::string mode = str(*p, "mode");
    std::string where = "profile \"" + name + "\" in " + path;
    if (mode == "EcsRamRole") {
      EcsRoleSource e = ecs_defaults(env);
      e.role_name = str(*p, "ram_role_name");
      return std::optional<CredentialPlan>{
          CredentialPlan{RefreshingSource{e}, where + " (EcsRamRole)"}};
    }
    if (mode == "OIDC") {
      OidcSource o = oidc_defaults(env);
      o.role_arn = str(*p, "ram_role_arn");
      o.provider_arn = str(*p, "oidc_provider_arn");
      o.token_file = str(*p, "oidc_token_file");
      if (auto n = str(*p, "ram_session_name"); !n.empty()) o.session_name = n;
      if (o.role_arn.empty() || o.provider_arn.empty() || o.token_file.empty())
        return Failure{where + " (OIDC) needs ram_role_arn, oidc_provider_arn and oidc_token_file"};
      return std::optional<CredentialPlan>{CredentialPlan{RefreshingSource{o}, where + " (OIDC)"}};
    }
    if (mode != "AK" && mode != "StsToken")
      return Failure{where + " has mode \"" + mode +
                     "\"; supported modes are AK, StsToken, EcsRamRole and OIDC"};
    Credentials c;
    c.access_key_id = str(*p, "access_key_id");
    c.access_key_secret = Secret(str(*p, "access_key_secret"));
    if (mode == "StsToken") {
      c.security_token = Secret(str(*p, "sts_token"));
      if (c.security_token.empty()) return Failure{where + " (StsToken) has no sts_token"};
    }
    if (c.access_key_id.empty() || c.access_key_secret.empty())
      return Failure{where + " lacks access_key_id or access_key_secret"};
    c.source = where;
    return std::optional<CredentialPlan>{CredentialPlan{std::move(c), where}};
  }
  return Failure{"Aliyun CLI config " + path + " has no profile \"" + name + "\""};
}

}  // namespace

Result<CredentialPlan> plan_credentials(const CredentialsConfig& cfg, const EnvLookup& env) {
  if (cfg.profile) {
    auto p = from_profile(cfg, env, true);
    if (!p) return Failure{std::move(p).error()};
    return std::move(*p.value());
  }
  if (cfg.type == "ecs_ram_role") {
    EcsRoleSource e = ecs_defaults(env);
    e.role_name = cfg.role_name.value_or(env("ALIBABA_CLOUD_ECS_METADATA").value_or(""));
    return CredentialPlan{
        RefreshingSource{e},
        "ECS RAM role" + (e.role_name.empty() ? std::string() : " \"" + e.role_name + "\"")};
  }
  if (cfg.type == "oidc") {
    OidcSource o = oidc_defaults(env);
    o.role_arn = cfg.role_arn.value_or("");
    o.provider_arn = cfg.oidc_provider_arn.value_or("");
    o.token_file = cfg.oidc_token_file.value_or("");
    if (cfg.role_session_name) o.session_name = *cfg.role_session_name;
    if (cfg.sts_endpoint) o.sts_endpoint = *cfg.sts_endpoint;
    if (cfg.duration) o.duration = std::chrono::duration_cast<std::chrono::seconds>(*cfg.duration);
    return CredentialPlan{RefreshingSource{o}, "OIDC role " + o.role_arn};
  }
  if (cfg.type == "credentials_uri")
    return CredentialPlan{RefreshingSource{UriSource{cfg.uri.value_or("")}},
                          "credentials URI " + cfg.uri.value_or("")};

  std::vector<std::string> tried;
  if (auto c = from_env(env)) {
    std::string where = c->source;
    return CredentialPlan{std::move(*c), where};
  }
  tried.push_back(
      "environment: ALIBABA_CLOUD_ACCESS_KEY_ID and ALIBABA_CLOUD_ACCESS_KEY_SECRET not both set");
  auto sd = from_systemd(env);
  if (!sd) return Failure{std::move(sd).error()};
  if (sd.value()) {
    std::string where = sd.value()->source;
    return CredentialPlan{std::move(*sd.value()), where};
  }
  tried.push_back(
      env("CREDENTIALS_DIRECTORY")
          ? "systemd credentials: no access_key_id/access_key_secret in $CREDENTIALS_DIRECTORY"
          : "systemd credentials: $CREDENTIALS_DIRECTORY not set");
  if (auto o = from_oidc_env(env)) return std::move(*o);
  tried.push_back(
      "OIDC: ALIBABA_CLOUD_ROLE_ARN, ALIBABA_CLOUD_OIDC_PROVIDER_ARN and "
      "ALIBABA_CLOUD_OIDC_TOKEN_FILE not all set");
  auto prof = from_profile(cfg, env, cfg.config_file.has_value());
  if (!prof) return Failure{std::move(prof).error()};
  if (prof.value()) return std::move(*prof.value());
  tried.push_back("Aliyun CLI config: " + profile_path(cfg, env) + " not found");
  auto shared = from_shared_file(cfg, env);
  if (!shared) return Failure{std::move(shared).error()};
  if (shared.value()) return std::move(*shared.value());
  tried.push_back("credentials file: " + shared_file_path(cfg, env) + " not found");
  // The metadata service only when asked for: a machine that did not ask never sees a
  // request to 100.100.100.200.
  if (auto role = env("ALIBABA_CLOUD_ECS_METADATA");
      role && !env_true(env, "ALIBABA_CLOUD_ECS_METADATA_DISABLED")) {
    EcsRoleSource e = ecs_defaults(env);
    e.role_name = *role;
    return CredentialPlan{RefreshingSource{e}, "ECS RAM role \"" + *role + "\" (environment)"};
  }
  tried.push_back(
      "ECS RAM role: not configured (credentials.type \"ecs_ram_role\" or "
      "ALIBABA_CLOUD_ECS_METADATA)");
  if (auto uri = env("ALIBABA_CLOUD_CREDENTIALS_URI"))
    return CredentialPlan{RefreshingSource{UriSource{*uri}},
                          "credentials URI " + *uri + " (environment)"};
  tried.push_back("credentials URI: ALIBABA_CLOUD_CREDENTIALS_URI not set");
  std::string msg = "no Alibaba Cloud credentials found; tried:";
  for (const auto& t : tried)
    msg += "\n  - " + t;
  return Failure{std::move(msg)};
}

Result<Credentials> resolve_credentials(const CredentialsConfig& cfg, const EnvLookup& env) {
  auto plan = plan_credentials(cfg, env);
  if (!plan) return Failure{std::move(plan).error()};
  if (auto* fixed = std::get_if<Credentials>(&plan->how)) return std::move(*fixed);
  return Failure{plan->source + " gives temporary credentials, fetched over the network"};
}

}  // namespace mmsmon

#include "core/credentials.hpp"

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
Result<std::optional<Credentials>> from_profile(const CredentialsConfig& cfg, const EnvLookup& env,
                                                bool required) {
  std::string path = profile_path(cfg, env);
  auto text = read_file(path);
  if (!text) {
    if (required) return Failure{"Aliyun CLI config " + path + " cannot be read"};
    return std::optional<Credentials>{};
  }
  // It holds secrets: like ssh with its keys, refuse a file others may read.
  struct stat st {};
  if (::stat(path.c_str(), &st) == 0 && (st.st_mode & 077) != 0) {
    wipe(*text);
    char mode[8];
    std::snprintf(mode, sizeof mode, "%04o", static_cast<unsigned>(st.st_mode & 07777));
    return Failure{"Aliyun CLI config " + path + " is readable by group or others (mode " + mode +
                   "); it holds secrets: chmod 600 it"};
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
    if (mode != "AK" && mode != "StsToken")
      return Failure{where + " has mode \"" + mode + "\"; supported modes are AK and StsToken"};
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
    return std::optional<Credentials>{std::move(c)};
  }
  return Failure{"Aliyun CLI config " + path + " has no profile \"" + name + "\""};
}

}  // namespace

Result<Credentials> resolve_credentials(const CredentialsConfig& cfg, const EnvLookup& env) {
  if (cfg.profile) {
    auto p = from_profile(cfg, env, true);
    if (!p) return Failure{std::move(p).error()};
    return std::move(*p.value());
  }
  std::vector<std::string> tried;
  if (auto c = from_env(env)) return std::move(*c);
  tried.push_back(
      "environment: ALIBABA_CLOUD_ACCESS_KEY_ID and ALIBABA_CLOUD_ACCESS_KEY_SECRET not both set");
  auto sd = from_systemd(env);
  if (!sd) return Failure{std::move(sd).error()};
  if (sd.value()) return std::move(*sd.value());
  tried.push_back(
      env("CREDENTIALS_DIRECTORY")
          ? "systemd credentials: no access_key_id/access_key_secret in $CREDENTIALS_DIRECTORY"
          : "systemd credentials: $CREDENTIALS_DIRECTORY not set");
  auto prof = from_profile(cfg, env, cfg.config_file.has_value());
  if (!prof) return Failure{std::move(prof).error()};
  if (prof.value()) return std::move(*prof.value());
  tried.push_back("Aliyun CLI config: " + profile_path(cfg, env) + " not found");
  std::string msg = "no Alibaba Cloud credentials found; tried:";
  for (const auto& t : tried)
    msg += "\n  - " + t;
  return Failure{std::move(msg)};
}

}  // namespace mmsmon

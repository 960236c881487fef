#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>
#include <map>

#include "core/credentials.hpp"

using namespace mmsmon;
namespace fs = std::filesystem;

namespace {

struct FakeEnv {
  std::map<std::string, std::string, std::less<>> vars;
  EnvLookup lookup() const {
    return [this](std::string_view n) -> std::optional<std::string> {
      auto it = vars.find(n);
      if (it == vars.end()) return std::nullopt;
      return it->second;
    };
  }
};

struct TempDir {
  fs::path path;
  TempDir() {
    char tmpl[] = "/tmp/mmsmon-cred-XXXXXX";
    path = mkdtemp(tmpl);
  }
  ~TempDir() { fs::remove_all(path); }
  std::string write(const std::string& name, const std::string& content) const {
    auto p = path / name;
    std::ofstream(p) << content;
    fs::permissions(p, fs::perms::owner_read | fs::perms::owner_write);  // secrets: 0600
    return p.string();
  }
};

const char* kCliConfig = R"({
  "current": "prod",
  "profiles": [
    {"name": "prod", "mode": "AK", "access_key_id": "LTAIprod", "access_key_secret": "prod-secret-1"},
    {"name": "sts", "mode": "StsToken", "access_key_id": "STS.id", "access_key_secret": "sts-secret-2",
     "sts_token": "tok-3"},
    {"name": "role", "mode": "RamRoleArn", "access_key_id": "x", "access_key_secret": "y"}
  ]
})";

}  // namespace

TEST_CASE("environment comes first") {
  TempDir d;
  FakeEnv env;
  env.vars = {{"ALIBABA_CLOUD_ACCESS_KEY_ID", "envid"},
              {"ALIBABA_CLOUD_ACCESS_KEY_SECRET", "env-secret"},
              {"ALIBABA_CLOUD_SECURITY_TOKEN", "env-token"},
              {"ALIBABA_CLOUD_CONFIG_FILE", d.write("config.json", kCliConfig)}};
  auto c = resolve_credentials({}, env.lookup());
  REQUIRE(c.ok());
  CHECK(c->access_key_id == "envid");
  CHECK(c->access_key_secret.reveal() == "env-secret");
  CHECK(c->security_token.reveal() == "env-token");
  CHECK(c->source.find("environment") != std::string::npos);
}

TEST_CASE("systemd credentials directory comes second") {
  TempDir d;
  d.write("access_key_id", "sdid\n");
  d.write("access_key_secret", "sd-secret\n");
  FakeEnv env;
  env.vars = {{"CREDENTIALS_DIRECTORY", d.path.string()}};
  auto c = resolve_credentials({}, env.lookup());
  REQUIRE(c.ok());
  CHECK(c->access_key_id == "sdid");
  CHECK(c->access_key_secret.reveal() == "sd-secret");
  CHECK(c->security_token.empty());
}

TEST_CASE("systemd credentials with only one file are an error") {
  TempDir d;
  d.write("access_key_id", "sdid\n");
  FakeEnv env;
  env.vars = {{"CREDENTIALS_DIRECTORY", d.path.string()}};
  auto c = resolve_credentials({}, env.lookup());
  REQUIRE_FALSE(c.ok());
  CHECK(c.error().find("access_key_secret") != std::string::npos);
}

TEST_CASE("Aliyun CLI profile: current profile, AK mode") {
  TempDir d;
  FakeEnv env;
  env.vars = {{"ALIBABA_CLOUD_CONFIG_FILE", d.write("config.json", kCliConfig)}};
  auto c = resolve_credentials({}, env.lookup());
  REQUIRE(c.ok());
  CHECK(c->access_key_id == "LTAIprod");
  CHECK(c->access_key_secret.reveal() == "prod-secret-1");
  CHECK(c->source.find("profile \"prod\"") != std::string::npos);
}

TEST_CASE("Aliyun CLI profile: ALIBABA_CLOUD_PROFILE picks StsToken") {
  TempDir d;
  FakeEnv env;
  env.vars = {{"ALIBABA_CLOUD_CONFIG_FILE", d.write("config.json", kCliConfig)},
              {"ALIBABA_CLOUD_PROFILE", "sts"}};
  auto c = resolve_credentials({}, env.lookup());
  REQUIRE(c.ok());
  CHECK(c->access_key_id == "STS.id");
  CHECK(c->security_token.reveal() == "tok-3");
}

TEST_CASE("Aliyun CLI profile from HOME, and the config profile wins over env") {
  TempDir d;
  fs::create_directories(d.path / ".aliyun");
  d.write(".aliyun/config.json", kCliConfig);
  FakeEnv env;
  env.vars = {{"HOME", d.path.string()},
              {"ALIBABA_CLOUD_ACCESS_KEY_ID", "envid"},
              {"ALIBABA_CLOUD_ACCESS_KEY_SECRET", "env-secret"}};
  CredentialsConfig cfg;
  cfg.profile = "sts";
  auto c = resolve_credentials(cfg, env.lookup());
  REQUIRE(c.ok());
  CHECK(c->access_key_id == "STS.id");
}

TEST_CASE("unsupported profile mode is named, secret is not") {
  TempDir d;
  FakeEnv env;
  env.vars = {{"ALIBABA_CLOUD_CONFIG_FILE", d.write("config.json", kCliConfig)},
              {"ALIBABA_CLOUD_PROFILE", "role"}};
  auto c = resolve_credentials({}, env.lookup());
  REQUIRE_FALSE(c.ok());
  CHECK(c.error().find("RamRoleArn") != std::string::npos);
}

TEST_CASE("missing profile") {
  TempDir d;
  FakeEnv env;
  env.vars = {{"ALIBABA_CLOUD_CONFIG_FILE", d.write("config.json", kCliConfig)},
              {"ALIBABA_CLOUD_PROFILE", "nope"}};
  auto c = resolve_credentials({}, env.lookup());
  REQUIRE_FALSE(c.ok());
  CHECK(c.error().find("no profile \"nope\"") != std::string::npos);
}

TEST_CASE("broken CLI config never quotes its content") {
  TempDir d;
  FakeEnv env;
  env.vars = {{"ALIBABA_CLOUD_CONFIG_FILE",
               d.write("config.json", R"({"profiles": [{"access_key_secret": "leak-me")")}};
  auto c = resolve_credentials({}, env.lookup());
  REQUIRE_FALSE(c.ok());
  CHECK(c.error().find("leak-me") == std::string::npos);
}

TEST_CASE("nothing found: the message names every place tried") {
  FakeEnv env;
  env.vars = {{"HOME", "/nonexistent-home"}};
  auto c = resolve_credentials({}, env.lookup());
  REQUIRE_FALSE(c.ok());
  CHECK(c.error().find("ALIBABA_CLOUD_ACCESS_KEY_ID") != std::string::npos);
  CHECK(c.error().find("CREDENTIALS_DIRECTORY") != std::string::npos);
  CHECK(c.error().find("/nonexistent-home/.aliyun/config.json") != std::string::npos);
}

TEST_CASE("systemd credentials: an optional security_token file makes STS credentials") {
  TempDir d;
  d.write("access_key_id", "STS.sdid\n");
  d.write("access_key_secret", "sd-secret\n");
  d.write("security_token", "sd-token\n");
  FakeEnv env;
  env.vars = {{"CREDENTIALS_DIRECTORY", d.path.string()}};
  auto c = resolve_credentials({}, env.lookup());
  REQUIRE(c.ok());
  CHECK(c->access_key_id == "STS.sdid");
  CHECK(c->security_token.reveal() == "sd-token");  // the trailing newline is not part of it
  CHECK(c->source.find("systemd credentials") != std::string::npos);
}

TEST_CASE("an Aliyun CLI config that group or others may read is refused, naming it") {
  TempDir d;
  FakeEnv env;
  auto path = d.write("config.json", kCliConfig);
  fs::permissions(path, fs::perms::group_read | fs::perms::others_read, fs::perm_options::add);
  env.vars = {{"ALIBABA_CLOUD_CONFIG_FILE", path}};
  auto c = resolve_credentials({}, env.lookup());
  REQUIRE_FALSE(c.ok());
  CHECK(c.error().find(path + " is readable by group or others (mode 0644)") != std::string::npos);
  CHECK(c.error().find("prod-secret-1") == std::string::npos);
}

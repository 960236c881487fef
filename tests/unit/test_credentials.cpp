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

// ---- temporary credentials: the chain, the answers, the refresh time -------------------

#include "core/credential_sources.hpp"

namespace {

const RefreshingSource& refreshing(const CredentialPlan& p) {
  REQUIRE(std::holds_alternative<RefreshingSource>(p.how));
  return std::get<RefreshingSource>(p.how);
}

}  // namespace

TEST_CASE("chain: OIDC from the environment comes after the keys and before the CLI profile") {
  TempDir d;
  FakeEnv env;
  env.vars = {{"ALIBABA_CLOUD_ROLE_ARN", "acs:ram::1:role/r"},
              {"ALIBABA_CLOUD_OIDC_PROVIDER_ARN", "acs:ram::1:oidc-provider/p"},
              {"ALIBABA_CLOUD_OIDC_TOKEN_FILE", "/var/run/secrets/token"},
              {"ALIBABA_CLOUD_STS_REGION", "cn-shanghai"},
              {"ALIBABA_CLOUD_VPC_ENDPOINT_ENABLED", "true"},
              {"ALIBABA_CLOUD_ROLE_SESSION_NAME", "me"},
              {"ALIBABA_CLOUD_CONFIG_FILE", d.write("config.json", kCliConfig)}};
  auto p = plan_credentials({}, env.lookup());
  REQUIRE(p);
  const auto& o = std::get<OidcSource>(refreshing(*p));
  CHECK(o.role_arn == "acs:ram::1:role/r");
  CHECK(o.provider_arn == "acs:ram::1:oidc-provider/p");
  CHECK(o.token_file == "/var/run/secrets/token");
  CHECK(o.sts_endpoint == "https://sts-vpc.cn-shanghai.aliyuncs.com");
  CHECK(o.session_name == "me");
  env.vars["ALIBABA_CLOUD_ACCESS_KEY_ID"] = "id";
  env.vars["ALIBABA_CLOUD_ACCESS_KEY_SECRET"] = "secret";
  auto keys = plan_credentials({}, env.lookup());
  REQUIRE(keys);
  CHECK(std::holds_alternative<Credentials>(keys->how));  // the environment's keys first
}

TEST_CASE("chain: the CLI profile's EcsRamRole and OIDC modes") {
  TempDir d;
  FakeEnv env;
  env.vars = {
      {"ALIBABA_CLOUD_CONFIG_FILE", d.write("config.json", R"({"current": "ecs", "profiles": [
    {"name": "ecs", "mode": "EcsRamRole", "ram_role_name": "worker"},
    {"name": "oidc", "mode": "OIDC", "ram_role_arn": "acs:ram::1:role/r",
     "oidc_provider_arn": "acs:ram::1:oidc-provider/p", "oidc_token_file": "/t"},
    {"name": "half", "mode": "OIDC", "ram_role_arn": "acs:ram::1:role/r"}]})")}};
  auto ecs = plan_credentials({}, env.lookup());
  REQUIRE(ecs);
  CHECK(std::get<EcsRoleSource>(refreshing(*ecs)).role_name == "worker");
  CHECK(ecs->source.find("(EcsRamRole)") != std::string::npos);
  env.vars["ALIBABA_CLOUD_PROFILE"] = "oidc";
  auto oidc = plan_credentials({}, env.lookup());
  REQUIRE(oidc);
  CHECK(std::get<OidcSource>(refreshing(*oidc)).sts_endpoint == "https://sts.aliyuncs.com");
  env.vars["ALIBABA_CLOUD_PROFILE"] = "half";
  auto half = plan_credentials({}, env.lookup());
  REQUIRE(!half);
  CHECK(half.error().find("needs ram_role_arn, oidc_provider_arn and oidc_token_file") !=
        std::string::npos);
}

TEST_CASE("chain: the shared credentials file, its access_key and ecs_ram_role types") {
  TempDir d;
  FakeEnv env;
  env.vars = {{"HOME", d.path.string()}};
  fs::create_directories(d.path / ".alibabacloud");
  d.write(".alibabacloud/credentials",
          "# a comment\n[default]\nenable = true\ntype = access_key\naccess_key_id = LTAIfile\n"
          "access_key_secret = file-secret-9\n\n[ecs]\ntype = ecs_ram_role\nrole_name = r1\n"
          "[bad]\ntype = rsa_key_pair\n");
  auto p = plan_credentials({}, env.lookup());
  REQUIRE(p);
  const auto& c = std::get<Credentials>(p->how);
  CHECK(c.access_key_id == "LTAIfile");
  CHECK(c.access_key_secret.reveal() == "file-secret-9");
  CHECK(p->source.find("section [default] of") != std::string::npos);
  env.vars["ALIBABA_CLOUD_PROFILE"] = "ecs";
  auto e = plan_credentials({}, env.lookup());
  REQUIRE(e);
  CHECK(std::get<EcsRoleSource>(refreshing(*e)).role_name == "r1");
  env.vars["ALIBABA_CLOUD_PROFILE"] = "bad";
  auto bad = plan_credentials({}, env.lookup());
  REQUIRE(!bad);
  CHECK(bad.error().find("supported types are access_key and ecs_ram_role") != std::string::npos);
  env.vars["ALIBABA_CLOUD_PROFILE"] = "nope";
  CHECK(!plan_credentials({}, env.lookup()));
  // A file others may read is refused, and the secret is never quoted.
  fs::permissions(d.path / ".alibabacloud/credentials", fs::perms::others_read,
                  fs::perm_options::add);
  env.vars.erase("ALIBABA_CLOUD_PROFILE");
  auto open = plan_credentials({}, env.lookup());
  REQUIRE(!open);
  CHECK(open.error().find("chmod 600") != std::string::npos);
  CHECK(open.error().find("file-secret-9") == std::string::npos);
}

TEST_CASE("chain: the ECS RAM role only when asked for, the credentials URI last") {
  FakeEnv env;
  env.vars = {{"HOME", "/nonexistent"}};
  auto none = plan_credentials({}, env.lookup());
  REQUIRE(!none);
  // Every place tried is named: nothing goes to the metadata service unasked.
  for (const char* place :
       {"environment:", "systemd credentials:", "OIDC:", "Aliyun CLI config:", "credentials file:",
        "ECS RAM role: not configured", "credentials URI:"})
    CHECK(none.error().find(place) != std::string::npos);
  env.vars["ALIBABA_CLOUD_CREDENTIALS_URI"] = "http://127.0.0.1:8000/creds";
  auto uri = plan_credentials({}, env.lookup());
  REQUIRE(uri);
  CHECK(std::get<UriSource>(refreshing(*uri)).url == "http://127.0.0.1:8000/creds");
  env.vars["ALIBABA_CLOUD_ECS_METADATA"] = "worker";
  env.vars["ALIBABA_CLOUD_IMDSV1_DISABLED"] = "true";
  auto ecs = plan_credentials({}, env.lookup());
  REQUIRE(ecs);
  const auto& e = std::get<EcsRoleSource>(refreshing(*ecs));
  CHECK(e.role_name == "worker");
  CHECK(!e.allow_without_token);
  CHECK(e.endpoint == "http://100.100.100.200");
  env.vars["ALIBABA_CLOUD_ECS_METADATA_DISABLED"] = "true";
  auto off = plan_credentials({}, env.lookup());
  REQUIRE(off);
  CHECK(std::holds_alternative<UriSource>(refreshing(*off)));
  // credentials.type picks one source alone.
  CredentialsConfig cfg;
  cfg.type = "ecs_ram_role";
  auto only = plan_credentials(cfg, env.lookup());
  REQUIRE(only);
  CHECK(std::holds_alternative<EcsRoleSource>(refreshing(*only)));
}

TEST_CASE("temporary credentials: the answers of each source, and their mistakes") {
  auto ecs = parse_temporary_credentials(
      R"({"Code":"Success","AccessKeyId":"STS.a","AccessKeySecret":"s3cr3t","SecurityToken":"t0k",)"
      R"("Expiration":"2026-12-01T10:20:30Z","LastUpdated":"2026-12-01T04:20:30Z"})",
      CredentialAnswer::ecs, "ECS RAM role");
  REQUIRE(ecs);
  CHECK(ecs->creds.access_key_id == "STS.a");
  CHECK(ecs->creds.access_key_secret.reveal() == "s3cr3t");
  CHECK(ecs->creds.security_token.reveal() == "t0k");
  CHECK(ecs->expiration == *parse_expiration("2026-12-01T10:20:30Z"));
  auto sts = parse_temporary_credentials(
      R"({"RequestId":"x","Credentials":{"AccessKeyId":"STS.b","AccessKeySecret":"s","SecurityToken":"t",)"
      R"("Expiration":"2026-12-01T10:20:30Z"}})",
      CredentialAnswer::sts, "OIDC");
  REQUIRE(sts);
  CHECK(sts->creds.access_key_id == "STS.b");

  struct Bad {
    const char* body;
    CredentialAnswer shape;
    const char* says;
  };
  for (
      const Bad& b : {
          Bad{"<html>", CredentialAnswer::ecs, "not a JSON object"},
          Bad{"[1]", CredentialAnswer::uri, "not a JSON object"},
          Bad{R"({"Code":"Failed"})", CredentialAnswer::ecs, "Code is \"Failed\""},
          Bad{R"({"AccessKeyId":"a","AccessKeySecret":"s3cr3t","Expiration":"2026-12-01T10:20:30Z"})",
              CredentialAnswer::uri, "no SecurityToken"},
          Bad{R"({"AccessKeySecret":"s3cr3t","SecurityToken":"t","Expiration":"2026-12-01T10:20:30Z"})",
              CredentialAnswer::uri, "no AccessKeyId"},
          Bad{R"({"AccessKeyId":"a","AccessKeySecret":"s3cr3t","SecurityToken":"t","Expiration":"tomorrow"})",
              CredentialAnswer::uri, "Expiration \"tomorrow\" is not"},
          Bad{R"({"AccessKeyId":"a","AccessKeySecret":"s3cr3t","SecurityToken":"t"})",
              CredentialAnswer::uri, "Expiration is missing"},
          Bad{R"({"Code":"AuthenticationFail.OIDCToken.Invalid","Message":"bad token"})",
              CredentialAnswer::sts, "Code \"AuthenticationFail.OIDCToken.Invalid\": bad token"},
      }) {
    CAPTURE(b.body);
    auto r = parse_temporary_credentials(b.body, b.shape, "the source");
    REQUIRE(!r);
    CHECK(r.error().starts_with("the source: "));
    CHECK(r.error().find(b.says) != std::string::npos);
    CHECK(r.error().find("s3cr3t") == std::string::npos);
  }
  CHECK(!parse_expiration("2026-02-30T00:00:00Z"));
  CHECK(!parse_expiration("2026-12-01 10:20:30Z"));
  CHECK(!parse_expiration("2026-12-01T10:20:30"));
  CHECK(!parse_expiration("1013-12-01T10:20:30Z"));  // would overflow system_clock
  CHECK(!parse_expiration("9999-12-01T10:20:30Z"));
}

TEST_CASE("temporary credentials: refreshed 180 s before expiry, or a third of a short life") {
  using namespace std::chrono;
  WallTime t0{};
  CHECK(refresh_at(t0, t0 + 1h) == t0 + 1h - 180s);
  CHECK(refresh_at(t0, t0 + 6s) == t0 + 4s);
  CHECK(refresh_at(t0, t0 + 9min) == t0 + 6min);
  CHECK(refresh_at(t0, t0 - 1s) == t0);  // expired already: at once
}

TEST_CASE("OIDC: the AssumeRoleWithOIDC request") {
  OidcSource o;
  o.role_arn = "acs:ram::1:role/r";
  o.provider_arn = "acs:ram::1:oidc-provider/p";
  o.session_name = "mmsmon";
  o.duration = std::chrono::seconds(900);
  CHECK(oidc_form(o, "a.b+c") ==
        "RoleArn=acs%3Aram%3A%3A1%3Arole%2Fr&OIDCProviderArn=acs%3Aram%3A%3A1%3Aoidc-provider%2Fp"
        "&OIDCToken=a.b%2Bc&RoleSessionName=mmsmon&DurationSeconds=900");
  auto t = oidc_target(*parse_expiration("2026-12-01T10:20:30Z") + std::chrono::milliseconds(5));
  CHECK(t ==
        "/?Action=AssumeRoleWithOIDC&Format=JSON&Version=2015-04-01&Timestamp=2026-12-01T10%3A20%"
        "3A30Z");
  CHECK(sts_endpoint(std::nullopt, true) == "https://sts.aliyuncs.com");
  CHECK(sts_endpoint(std::string("cn-hangzhou"), false) == "https://sts.cn-hangzhou.aliyuncs.com");
  auto u = split_url("http://127.0.0.1:9/a/b?x=1");
  REQUIRE(u);
  CHECK(u->first == "http://127.0.0.1:9");
  CHECK(u->second == "/a/b?x=1");
  CHECK(!split_url("127.0.0.1/x"));
}

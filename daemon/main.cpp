// mmsmon: watches MaxCompute Migration Service jobs. See README.md.
#include <sys/prctl.h>

#include <cstdlib>
#include <cstring>
#include <iostream>
#include <optional>
#include <string>
#include <string_view>

#include "app/daemon.hpp"
#include "app/once.hpp"
#include "core/config.hpp"
#include "core/credential_sources.hpp"
#include "core/credentials.hpp"
#include "io/credential_provider.hpp"
#include "version.hpp"

namespace {

constexpr std::string_view kUsage =
    "usage: mmsmon [--config PATH] [--check-config | --once [--format table|json]]\n"
    "       mmsmon --version\n"
    "  --config PATH    configuration file (default /etc/mmsmon/mmsmon.json)\n"
    "  --check-config   validate the configuration and credentials, then exit 0 or 1\n"
    "  --once           poll every job once, print, exit 1 if any poll failed\n"
    "  --format F       output of --once: table (default) or json\n"
    "  --port-file PATH write the bound HTTP port there once listening (for tests)\n";

/// The variables that may carry the AccessKey: read once, then wiped from the process's
/// environment (the value bytes too, which /proc/PID/environ would still show).
void scrub_secret_environment() {
  for (const char* name : {"ALIBABA_CLOUD_ACCESS_KEY_ID", "ALIBABA_CLOUD_ACCESS_KEY_SECRET",
                           "ALIBABA_CLOUD_SECURITY_TOKEN"}) {
    if (char* v = std::getenv(name)) explicit_bzero(v, std::strlen(v));
    unsetenv(name);
  }
}

int usage_error(const std::string& msg) {
  std::cerr << "mmsmon: " << msg << "\n" << kUsage;
  return 1;
}

}  // namespace

int main(int argc, char** argv) {
  using namespace mmsmon;
  // It will hold the AccessKey secret: no core dumps, no ptrace by the same user.
  prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
  std::string config_path = "/etc/mmsmon/mmsmon.json";
  bool check = false, once = false, format_given = false;
  std::optional<std::string> port_file;
  OnceFormat format = OnceFormat::table;
  for (int i = 1; i < argc; ++i) {
    std::string_view a = argv[i];
    auto value = [&](std::string_view name) -> const char* {
      if (i + 1 >= argc) return nullptr;
      (void)name;
      return argv[++i];
    };
    if (a == "--version") {
      std::cout << "mmsmon " << kVersion << " (" << kRevision << ", " << kCompiler << ")\n";
      return 0;
    } else if (a == "--help" || a == "-h") {
      std::cout << kUsage;
      return 0;
    } else if (a == "--config") {
      const char* v = value(a);
      if (!v) return usage_error("--config needs a path");
      config_path = v;
    } else if (a.starts_with("--config=")) {
      config_path = std::string(a.substr(9));
    } else if (a == "--port-file") {
      const char* v = value(a);
      if (!v) return usage_error("--port-file needs a path");
      port_file = v;
    } else if (a == "--check-config") {
      check = true;
    } else if (a == "--once") {
      once = true;
    } else if (a == "--format" || a.starts_with("--format=")) {
      std::string f;
      if (a == "--format") {
        const char* v = value(a);
        if (!v) return usage_error("--format needs table or json");
        f = v;
      } else {
        f = std::string(a.substr(9));
      }
      if (f == "table")
        format = OnceFormat::table;
      else if (f == "json")
        format = OnceFormat::json;
      else
        return usage_error("--format must be table or json, not \"" + f + "\"");
      format_given = true;
    } else {
      return usage_error("unknown argument \"" + std::string(a) + "\"");
    }
  }
  if (check && once) return usage_error("--check-config and --once exclude each other");
  if (format_given && !once) return usage_error("--format goes with --once");

  auto cfg = load_config_file(config_path);
  if (!cfg) {
    for (const auto& e : cfg.error())
      std::cerr << e.to_string() << '\n';
    return 1;
  }
  auto plan = plan_credentials(cfg->credentials, process_env());
  scrub_secret_environment();
  if (!plan) {
    std::cerr << config_path << ": credentials: " << plan.error() << '\n';
    return 1;
  }
  DaemonOptions dopt{config_path, port_file};
  Credentials creds;
  if (auto* fixed = std::get_if<Credentials>(&plan->how)) {
    creds = std::move(*fixed);
  } else {
    // Temporary credentials: the first ones now, so that a source that does not answer is
    // a clear start-up error (systemd restarts the service).
    const auto& src = std::get<RefreshingSource>(plan->how);
    CredentialProviderOptions copt;
    copt.ca_file = cfg->api.ca_file;
    auto t = fetch_credentials_now(src, plan->source, copt);
    if (!t) {
      std::cerr << config_path << ": credentials: " << t.error() << '\n';
      return 1;
    }
    creds = std::move(t.value().creds);
    dopt.credential_source = src;
    dopt.credential_expiry = t.value().expiration;
  }
  if (check) {
    std::cout << config_path << ": OK (" << cfg->jobs.size() << " jobs, endpoint "
              << api_base_url(cfg->api) << ", credentials from " << creds.source << ")\n";
    return 0;
  }
  if (once) return run_once(*cfg, std::move(creds), format, std::cout, std::cerr);
  Daemon daemon(std::move(cfg).value(), std::move(creds), std::move(dopt));
  return daemon.run();
}

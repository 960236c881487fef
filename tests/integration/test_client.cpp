// The HTTP(S) client and the typed MMS client against mms-sim over loopback.
#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#include <doctest/doctest.h>

#include <cstdlib>
#include <fstream>

#include "io/mms_client.hpp"
#include "sim_process.hpp"

using namespace mmsmon;
using namespace mmsmon::test;
using namespace std::chrono_literals;

namespace {

const char* kScenario = R"({
  "credentials": [{"access_key_id": "it-id", "access_key_secret": "it-secret"}],
  "datasources": [{"id": 7, "name": "hive-prod", "agent_online": true}],
  "jobs": [
    {"source_id": 7, "job_id": 1, "name": "orders", "task_num": 100, "task_done": 40, "status": "DOING"},
    {"source_id": 7, "job_id": 2, "name": "logs", "task_num": 10, "task_done": 5, "status": "DOING",
     "failed_tasks": [{"at": 2, "table": "t_bad", "msg": "ODPS-0130071: partition missing"}]},
    {"source_id": 7, "job_id": 3, "name": "users", "task_num": 10, "task_done": 10, "status": "DONE"}
  ]})";

Credentials creds(std::string secret = "it-secret") {
  Credentials c;
  c.access_key_id = "it-id";
  c.access_key_secret = Secret(std::move(secret));
  c.source = "test";
  return c;
}

/// A client stack for one endpoint, with the io_context it runs on.
struct Stack {
  boost::asio::io_context io;
  std::unique_ptr<HttpClient> http;
  std::unique_ptr<MmsClient> mms;
  std::vector<CallOutcome> outcomes;

  explicit Stack(const std::string& url, HttpClientOptions opt = {}, Credentials c = creds()) {
    auto ep = parse_endpoint(url);
    REQUIRE(ep.ok());
    auto h = HttpClient::create(io.get_executor(), *ep, opt);
    REQUIRE_MESSAGE(h.ok(), (h.ok() ? "" : h.error()));
    http = std::move(h).value();
    mms = std::make_unique<MmsClient>(*http, std::move(c), MmsClient::Options{});
    mms->set_observer([this](const CallOutcome& o) { outcomes.push_back(o); });
  }
  Result<Job, ApiError> get(std::int64_t job) {
    return run(io, mms->get_job(JobKey{SourceId{7}, JobId{job}}));
  }
};

}  // namespace

TEST_CASE("GetMmsJob over loopback, the kept-alive connection is reused") {
  SimProcess sim(kScenario);
  Stack s(sim.url());
  for (int i = 0; i < 20; ++i) {
    auto r = s.get(1);
    REQUIRE_MESSAGE(r.ok(), (r.ok() ? "" : r.error().describe()));
    CHECK(r->name == "orders");
    CHECK(r->task_done == 40);
  }
  CHECK(s.http->connections_opened() == 1);
  auto stats = sim.admin("GET", "/admin/stats");
  CHECK(stats.at("requests").as_int64() == 20);
  // One connection from the client; the admin request made a second one.
  CHECK(stats.at("connections").as_int64() == 2);
  REQUIRE(s.outcomes.size() == 20);
  CHECK_FALSE(s.outcomes[0].failure);
  CHECK(s.outcomes[0].action == "GetMmsJob");
}

TEST_CASE("typed list calls") {
  SimProcess sim(kScenario);
  Stack s(sim.url());
  ListJobsQuery q;
  q.page_size = 2;
  auto p1 = run(s.io, s.mms->list_jobs(SourceId{7}, q));
  REQUIRE(p1.ok());
  CHECK(p1->total == 3);
  CHECK(p1->items.size() == 2);
  q.page_num = 2;
  auto p2 = run(s.io, s.mms->list_jobs(SourceId{7}, q));
  REQUIRE(p2.ok());
  REQUIRE(p2->items.size() == 1);
  CHECK(p2->items[0].status == JobStatus::done);

  auto ds = run(s.io, s.mms->list_data_sources(1, 10));
  REQUIRE(ds.ok());
  REQUIRE(ds->items.size() == 1);
  CHECK(ds->items[0].name == "hive-prod");
  CHECK(ds->items[0].agent_online == true);

  ListTasksQuery tq;
  tq.job_id = 2;
  tq.status = "DATA_FAILED";
  auto tasks = run(s.io, s.mms->list_tasks(SourceId{7}, tq));
  REQUIRE(tasks.ok());
  REQUIRE(tasks->items.size() == 1);
  CHECK(tasks->items[0].src_table == "t_bad");
  auto logs = run(s.io, s.mms->list_task_logs(SourceId{7}, tasks->items[0].id));
  REQUIRE(logs.ok());
  REQUIRE(logs->size() == 2);
  CHECK(logs->at(1).msg == "ODPS-0130071: partition missing");
}

TEST_CASE("wrong secret is an auth failure with the API's code and request id") {
  SimProcess sim(kScenario);
  Stack s(sim.url(), {}, creds("not-the-secret"));
  auto r = s.get(1);
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().reason == FailureReason::auth);
  CHECK(r.error().code == "SignatureDoesNotMatch");
  CHECK_FALSE(r.error().request_id.empty());
  CHECK(r.error().describe().find("not-the-secret") == std::string::npos);
}

TEST_CASE("a job that does not exist is not_found") {
  SimProcess sim(kScenario);
  Stack s(sim.url());
  auto r = s.get(99);
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().reason == FailureReason::not_found);
  CHECK(r.error().http_status == 404);
}

TEST_CASE("injected faults are classified, and a fault on one job leaves the others alone") {
  SimProcess sim(kScenario);
  Stack s(sim.url());
  SUBCASE("server error") {
    sim.admin(
        "POST", "/admin/faults",
        R"({"job": {"source_id": 7, "job_id": 1}, "error": {"status": 503, "code": "ServiceUnavailable"}})");
    auto r = s.get(1);
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().reason == FailureReason::server);
    CHECK(s.get(3).ok());
  }
  SUBCASE("malformed body") {
    sim.admin("POST", "/admin/faults",
              R"({"job": {"source_id": 7, "job_id": 1}, "malformed": true})");
    auto r = s.get(1);
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().reason == FailureReason::decode);
    REQUIRE(s.outcomes.size() == 1);
    CHECK(s.outcomes[0].failure == FailureReason::decode);
    CHECK(s.get(3).ok());
  }
  SUBCASE("truncated body") {
    sim.admin("POST", "/admin/faults",
              R"({"job": {"source_id": 7, "job_id": 1}, "truncated": true})");
    auto r = s.get(1);
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().reason == FailureReason::network);
    CHECK(s.get(3).ok());
  }
  SUBCASE("connection reset") {
    sim.admin("POST", "/admin/faults", R"({"job": {"source_id": 7, "job_id": 1}, "reset": true})");
    auto r = s.get(1);
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().reason == FailureReason::network);
    CHECK(s.get(3).ok());
  }
  SUBCASE("throttling with x-ratelimit headers") {
    sim.admin("POST", "/admin/faults", R"({"rate_limit": {"per_second": 1, "burst": 1}})");
    CHECK(s.get(1).ok());
    auto r = s.get(1);
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().reason == FailureReason::throttled);
    CHECK(r.error().code == "Throttling.User");
    REQUIRE(r.error().retry_after);
    CHECK(*r.error().retry_after > 0ms);
    CHECK(*r.error().retry_after <= 1000ms);
    REQUIRE(s.outcomes.back().rate_limit);
    CHECK(s.outcomes.back().rate_limit->remain == 0);
  }
  SUBCASE("a fault limited to one request") {
    sim.admin("POST", "/admin/faults",
              R"({"error": {"status": 500, "code": "InternalError"}, "count": 1})");
    CHECK_FALSE(s.get(1).ok());
    CHECK(s.get(1).ok());
  }
}

TEST_CASE("every step has a deadline") {
  SimProcess sim(kScenario);
  HttpClientOptions opt;
  opt.timeout = 300ms;
  Stack s(sim.url(), opt);
  sim.admin("POST", "/admin/faults", R"({"job": {"source_id": 7, "job_id": 1}, "delay": "5s"})");
  auto started = std::chrono::steady_clock::now();
  auto r = s.get(1);
  auto took = std::chrono::steady_clock::now() - started;
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().reason == FailureReason::timeout);
  // README: a step's deadline strikes at most a quarter of api.timeout late; plus a margin
  // for a loaded machine and a sanitizer build.
  CHECK(took >= 300ms);
  CHECK_MESSAGE(took < 300ms + 75ms + kSlowMachineMargin,
                std::chrono::duration_cast<std::chrono::milliseconds>(took).count() << " ms");
}

TEST_CASE("connect to a closed port is a network failure") {
  unsigned short port = 0;
  {
    SimProcess sim(kScenario);
    port = sim.port();
  }  // the simulator is gone; its port is closed
  Stack s("http://127.0.0.1:" + std::to_string(port));
  auto r = s.get(1);
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().reason == FailureReason::network);
}

TEST_CASE("a 100 MB body is cut off at the limit, not buffered") {
  SimProcess sim(kScenario);
  HttpClientOptions opt;
  opt.max_body = 1 << 20;
  Stack s(sim.url(), opt);
  sim.admin("POST", "/admin/faults",
            R"({"job": {"source_id": 7, "job_id": 1}, "huge_body": 104857600})");
  auto r = s.get(1);
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().reason == FailureReason::decode);
  CHECK(r.error().message.find("exceeds 1048576 bytes") != std::string::npos);
  CHECK(s.get(3).ok());  // a fresh connection serves the next request
}

namespace {

/// A field of /proc/self/status in kB.
long status_kb(const std::string& field) {
  std::ifstream in("/proc/self/status");
  for (std::string l; std::getline(in, l);)
    if (l.starts_with(field + ":")) return std::stol(l.substr(field.size() + 1));
  return -1;
}

}  // namespace

TEST_CASE("endless chunked framing is cut off as too large, memory stays flat") {
  long hwm_before = status_kb("VmHWM");
  SimProcess sim(kScenario);
  HttpClientOptions opt;
  opt.max_body = 8u << 20;
  Stack s(sim.url(), opt);
  for (std::string kind : {"chunk_ext", "trailer"}) {
    CAPTURE(kind);
    sim.admin(
        "POST", "/admin/faults",
        R"({"job": {"source_id": 7, "job_id": 1}, "endless": ")" + kind + R"(", "count": 1})");
    auto r = s.get(1);
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().reason == FailureReason::decode);  // not a timeout
    CHECK(r.error().message.find("exceeds") != std::string::npos);
    CHECK(s.get(3).ok());  // the next request goes on a fresh connection
  }
  // The client held at most its framing limit, not the 64 MB the server sent: the peak
  // grew by far less than that (a sanitizer build starts from a larger base).
  CHECK(status_kb("VmHWM") - hwm_before < 32 * 1024);
}

namespace {

/// Makes a self-signed certificate with the given subjectAltName using the openssl CLI.
void make_cert(const TempDir& d, const std::string& san) {
  std::string cmd =
      "openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=mms-sim-test"
      " -keyout " +
      (d.path / "key.pem").string() + " -out " + (d.path / "cert.pem").string() +
      " -addext subjectAltName=" + san + " 2>/dev/null";
  REQUIRE(std::system(cmd.c_str()) == 0);
}

}  // namespace

TEST_CASE("HTTPS: a self-signed certificate is refused by default, accepted with ca_file") {
  TempDir d;
  make_cert(d, "IP:127.0.0.1,DNS:localhost");
  std::string cert = (d.path / "cert.pem").string();
  SimProcess sim(kScenario, {"--tls-cert", cert, "--tls-key", (d.path / "key.pem").string()});
  {
    Stack s(sim.url(true));
    auto r = s.get(1);
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().reason == FailureReason::tls);
    CHECK(r.error().message.find("certificate") != std::string::npos);
  }
  {
    HttpClientOptions opt;
    opt.ca_file = cert;
    Stack s(sim.url(true), opt);
    auto r = s.get(1);
    REQUIRE_MESSAGE(r.ok(), (r.ok() ? "" : r.error().describe()));
    CHECK(r->name == "orders");
    // SNI and host name checks by name, too.
    Stack byname("https://localhost:" + std::to_string(sim.port()), opt);
    CHECK(byname.get(1).ok());
    auto stats = sim.admin("GET", "/admin/stats");
    CHECK(stats.at("sni_names").as_array() == boost::json::array{"localhost"});
    CHECK((stats.at("last_tls_version").as_string() == "TLSv1.3" ||
           stats.at("last_tls_version").as_string() == "TLSv1.2"));
  }
}

TEST_CASE("HTTPS: a server that offers nothing above TLS 1.1 is refused") {
  TempDir d;
  make_cert(d, "IP:127.0.0.1,DNS:localhost");
  std::string cert = (d.path / "cert.pem").string();
  SimProcess sim(kScenario, {"--tls-cert", cert, "--tls-key", (d.path / "key.pem").string(),
                             "--tls-max-version", "1.1"});
  // The server does speak TLS 1.1 to a client that allows it...
  std::string probe = "openssl s_client -connect 127.0.0.1:" + std::to_string(sim.port()) +
                      " -tls1_1 -cipher DEFAULT:@SECLEVEL=0 </dev/null >/dev/null 2>&1";
  REQUIRE_MESSAGE(std::system(probe.c_str()) == 0, "the TLS 1.1 server did not handshake");
  // ...and mmsmon, which requires TLS 1.2 or later, refuses it.
  HttpClientOptions opt;
  opt.ca_file = cert;
  Stack s(sim.url(true), opt);
  auto r = s.get(1);
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().reason == FailureReason::tls);
}

TEST_CASE("HTTPS: a trusted certificate for another host name is refused") {
  TempDir d;
  make_cert(d, "DNS:other.example");
  std::string cert = (d.path / "cert.pem").string();
  SimProcess sim(kScenario, {"--tls-cert", cert, "--tls-key", (d.path / "key.pem").string()});
  HttpClientOptions opt;
  opt.ca_file = cert;
  Stack s(sim.url(true), opt);
  auto r = s.get(1);
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().reason == FailureReason::tls);
}

TEST_CASE("an unreadable ca_file is a start-up error") {
  boost::asio::io_context io;
  HttpClientOptions opt;
  opt.ca_file = "/nonexistent/ca.pem";
  auto h = HttpClient::create(io.get_executor(), Endpoint{true, "example.com", 443}, opt);
  REQUIRE_FALSE(h.ok());
  CHECK(h.error().find("/nonexistent/ca.pem") != std::string::npos);
}

// The simulator's model is test infrastructure; these check that it verifies signatures the
// way the service does, so the integration tests mean something.
#include <doctest/doctest.h>

#include <boost/json.hpp>

#include "core/api_decode.hpp"
#include "core/api_request.hpp"
#include "sim/sim_model.hpp"

using namespace mmsmon;
using namespace mmsmon::sim;

namespace {

Model make_model() {
  auto m = Model::from_scenario(boost::json::parse(R"({
    "credentials": [{"access_key_id": "id1", "access_key_secret": "secret1"}],
    "jobs": [{"source_id": 2, "job_id": 10, "task_num": 100, "rate": 10, "status": "DOING"}]})"));
  REQUIRE(m.ok());
  return std::move(m).value();
}

SimRequest signed_get(const ApiCall& call, std::string_view secret, WallTime now,
                      std::string nonce = "n1") {
  auto p = prepare_request(call, "sim", {"id1", secret, ""}, now, nonce, "test");
  return SimRequest{p.method, p.target, p.headers, ""};
}

const JobKey k{SourceId{2}, JobId{10}};

}  // namespace

TEST_CASE("sim: a correctly signed request gets the job, progress follows time") {
  auto m = make_model();
  auto now = std::chrono::system_clock::now();
  auto r = m.handle_api(signed_get(get_mms_job_call(k), "secret1", now), 2.0, now);
  CHECK(r.status == 200);
  auto job = decode_get_job(r.body, k);
  REQUIRE(job.ok());
  CHECK(job->task_done == 20);
}

TEST_CASE("sim: wrong secret, replayed nonce, skewed clock are refused") {
  auto m = make_model();
  auto now = std::chrono::system_clock::now();
  auto bad = m.handle_api(signed_get(get_mms_job_call(k), "wrong", now), 0, now);
  CHECK(bad.status == 400);
  CHECK(bad.body.find("SignatureDoesNotMatch") != std::string::npos);

  auto first = m.handle_api(signed_get(get_mms_job_call(k), "secret1", now, "same"), 0, now);
  CHECK(first.status == 200);
  auto again = m.handle_api(signed_get(get_mms_job_call(k), "secret1", now, "same"), 0, now);
  CHECK(again.body.find("SignatureNonceUsed") != std::string::npos);

  auto old = m.handle_api(
      signed_get(get_mms_job_call(k), "secret1", now - std::chrono::minutes(16), "n9"), 0, now);
  CHECK(old.body.find("InvalidTimeStamp.Expired") != std::string::npos);
  CHECK(m.stats.auth_failures == 3);
}

TEST_CASE("sim: tampered request is refused") {
  auto m = make_model();
  auto now = std::chrono::system_clock::now();
  auto req = signed_get(list_mms_tasks_call(SourceId{2},
                                            [] {
                                              ListTasksQuery q;
                                              q.job_id = 10;
                                              return q;
                                            }()),
                        "secret1", now);
  req.target += "&extra=1";
  auto r = m.handle_api(req, 0, now);
  CHECK(r.body.find("SignatureDoesNotMatch") != std::string::npos);
}

TEST_CASE("sim: unknown job and unknown path") {
  auto m = make_model();
  m.verify_signatures = false;
  auto now = std::chrono::system_clock::now();
  auto r =
      m.handle_api(signed_get(get_mms_job_call(JobKey{SourceId{2}, JobId{99}}), "x", now), 0, now);
  CHECK(r.status == 404);
  auto e = classify_error_response(r.status, r.body, {}, {});
  CHECK(e.reason == FailureReason::not_found);
  auto r2 = m.handle_api(SimRequest{"GET", "/nope", {}, ""}, 0, now);
  CHECK(r2.body.find("InvalidApi.NotFound") != std::string::npos);
}

TEST_CASE("sim: paging of ListMmsJobs") {
  auto m = Model::from_scenario(boost::json::parse(
      R"({"verify_signatures": false, "generate": {"source_id": 3, "count": 25, "task_num": 10}})"));
  REQUIRE(m.ok());
  auto now = std::chrono::system_clock::now();
  ListJobsQuery q;
  q.page_num = 3;
  q.page_size = 10;
  auto call = list_mms_jobs_call(SourceId{3}, q);
  auto r = m->handle_api(signed_get(call, "x", now), 0, now);
  auto page = decode_list_jobs(r.body, SourceId{3});
  REQUIRE(page.ok());
  CHECK(page->total == 25);
  CHECK(page->items.size() == 5);
  CHECK(page->items[0].key.job.value == 21);
}

TEST_CASE("sim: sticky faults outlive DELETE until used up, faults acted out are counted") {
  auto m = make_model();
  m.verify_signatures = false;
  auto now = std::chrono::system_clock::now();
  auto admin = [&](std::string method, std::string target, std::string body) {
    auto r =
        m.handle_admin(SimRequest{std::move(method), std::move(target), {}, std::move(body)}, 0);
    REQUIRE(r.status == 200);
    return boost::json::parse(r.body).as_object();
  };
  auto faulted = [&](std::string_view action) -> std::int64_t {
    auto st = admin("GET", "/admin/stats", "");
    const auto& by = st.at("faults_by_action").as_object();
    return by.contains(action) ? by.at(action).as_int64() : 0;
  };
  auto get = [&] { return m.handle_api(signed_get(get_mms_job_call(k), "x", now), 0, now).status; };
  admin("POST", "/admin/faults",
        R"({"action": "GetMmsJob", "error": {"status": 503}, "count": 1, "sticky": true})");
  admin("POST", "/admin/faults", R"({"action": "GetMmsJob", "error": {"status": 500}})");
  admin("DELETE", "/admin/faults", "");  // the plain fault goes, the sticky one stays
  CHECK(faulted("GetMmsJob") == 0);
  CHECK(get() == 503);
  CHECK(faulted("GetMmsJob") == 1);
  CHECK(get() == 200);  // used up
  CHECK(faulted("GetMmsJob") == 1);
  admin("POST", "/admin/faults",
        R"({"action": "GetMmsJob", "error": {"status": 503}, "count": 1, "sticky": true})");
  admin("DELETE", "/admin/faults?all=1", "");
  CHECK(get() == 200);
  CHECK(faulted("GetMmsJob") == 1);
}

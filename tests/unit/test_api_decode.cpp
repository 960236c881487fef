#include <doctest/doctest.h>

#include <fstream>
#include <sstream>

#include "core/api_decode.hpp"
#include "core/api_request.hpp"

using namespace mmsmon;
using namespace std::chrono;

namespace {

std::string fixture(const std::string& name) {
  std::ifstream in(std::string(MMSMON_FIXTURES) + "/" + name);
  REQUIRE(in);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

const JobKey k10{SourceId{2}, JobId{10}};

std::string job_body(const std::string& data_fields) {
  return R"({"requestId": "R1", "data": {"id": 10, "sourceId": 2, )" + data_fields + "}}";
}

}  // namespace

TEST_CASE("the GetMmsJob fixture decodes") {
  auto r = decode_get_job(fixture("getmmsjob-example.json"), k10);
  REQUIRE(r.ok());
  const Job& j = *r;
  CHECK(j.name == "migrate_db_1");
  CHECK(j.source_name == "demo");
  CHECK(j.db_id == 23);
  CHECK(j.src_db == "mms_test");
  CHECK(j.dst_db == "mms_target");
  CHECK(j.status == JobStatus::doing);
  CHECK(j.type == "Tables");
  CHECK(j.task_num == 100);
  CHECK(j.task_done == 100);
  CHECK(j.stopped == true);
  REQUIRE(j.create_time);
  // 2024-12-17 15:44:17 at +08:00 is 07:44:17 UTC.
  CHECK(format_acs_date(*j.create_time) == "2024-12-17T07:44:17Z");
  REQUIRE(j.eta);
  CHECK(format_acs_date(*j.eta) == "2025-05-06T16:00:00Z");  // end of 2025-05-06 at +08:00
  CHECK(j.anomalies.empty());
}

TEST_CASE("unknown fields are ignored, absent fields stay absent") {
  auto r = decode_get_job(job_body(R"("newField": {"x": [1,2]}, "status": "INIT")"), k10);
  REQUIRE(r.ok());
  CHECK(r->status == JobStatus::init);
  CHECK_FALSE(r->task_num);
  CHECK_FALSE(r->eta);
}

TEST_CASE("wrong type is a precise error") {
  auto r = decode_get_job(job_body(R"("taskNum": "100")"), k10);
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().reason == FailureReason::decode);
  CHECK(r.error().message == "data.taskNum: expected an integer, got a string");
  CHECK(r.error().request_id == "R1");
}

TEST_CASE("missing data") {
  auto r = decode_get_job(R"({"requestId": "R2"})", k10);
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().message == "response has no \"data\"");
}

TEST_CASE("truncated JSON") {
  std::string body = job_body(R"("taskNum": 100)");
  auto r = decode_get_job(body.substr(0, body.size() / 2), k10);
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().reason == FailureReason::decode);
  CHECK(r.error().message.find("invalid JSON") != std::string::npos);
}

TEST_CASE("taskDone greater than taskNum is kept and flagged") {
  auto r = decode_get_job(job_body(R"("taskNum": 5, "taskDone": 7)"), k10);
  REQUIRE(r.ok());
  CHECK(r->task_done == 7);
  REQUIRE(r->anomalies.size() == 1);
  CHECK(r->anomalies[0] == "taskDone 7 > taskNum 5");
}

TEST_CASE("negative counts are an error") {
  auto r = decode_get_job(job_body(R"("taskNum": 5, "taskDone": -1)"), k10);
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().message == "data.taskDone: negative count -1");
}

TEST_CASE("unknown status is flagged, raw text kept") {
  auto r = decode_get_job(job_body(R"("status": "PAUSING")"), k10);
  REQUIRE(r.ok());
  CHECK(r->status == JobStatus::unknown);
  CHECK(r->status_raw == "PAUSING");
  CHECK(r->anomalies == std::vector<std::string>{"unknown status \"PAUSING\""});
}

TEST_CASE("invalid UTF-8 is an error") {
  auto r = decode_get_job(job_body("\"name\": \"bad \xff\xfe name\""), k10);
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().reason == FailureReason::decode);
  CHECK(r.error().message.find("invalid JSON") != std::string::npos);
}

TEST_CASE("a 1 MB string is cut and flagged") {
  std::string big(1 << 20, 'x');
  auto r = decode_get_job(job_body("\"name\": \"" + big + "\""), k10);
  REQUIRE(r.ok());
  CHECK(r->name->size() == 1024);
  REQUIRE(r->anomalies.size() == 1);
  CHECK(r->anomalies[0].find("data.name: 1048576-byte string cut") != std::string::npos);
}

TEST_CASE("a response about another job is rejected") {
  auto r = decode_get_job(job_body(R"("taskNum": 1)"), JobKey{SourceId{2}, JobId{11}});
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().message.find("not the requested 2/11") != std::string::npos);
}

TEST_CASE("data that is not an object") {
  auto r = decode_get_job(R"({"data": [1]})", k10);
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().message == "data: expected an object, got an array");
}

TEST_CASE("ListMmsJobs: a bad item does not lose the page") {
  auto r = decode_list_jobs(R"({"data": {"total": 3, "pageNum": 1, "pageSize": 10, "objectList": [
      {"id": 1, "status": "DOING", "taskNum": 10, "taskDone": 3},
      {"id": 2, "taskNum": "x"},
      {"id": 3, "status": "DONE"}]}})",
                            SourceId{7});
  REQUIRE(r.ok());
  CHECK(r->total == 3);
  REQUIRE(r->items.size() == 2);
  CHECK(r->items[0].key == JobKey{SourceId{7}, JobId{1}});
  CHECK(r->items[1].status == JobStatus::done);
  REQUIRE(r->item_errors.size() == 1);
  CHECK(r->item_errors[0] == "data.objectList[1].taskNum: expected an integer, got a string");
}

TEST_CASE("ListMmsDataSources, ListMmsTasks, ListMmsTaskLogs decode") {
  auto ds = decode_list_data_sources(
      R"({"data": {"total": 1, "objectList": [{"id": 5, "name": "hive", "type": "HIVE", "agentIsOnline": false}]}})");
  REQUIRE(ds.ok());
  CHECK(ds->items[0].agent_online == false);
  auto t = decode_list_tasks(
      R"({"data": {"total": 1, "objectList": [{"id": 9, "jobId": 10, "srcTableName": "t", "status": "DATA_FAILED"}]}})");
  REQUIRE(t.ok());
  CHECK(t->items[0].status == "DATA_FAILED");
  auto l = decode_list_task_logs(R"({"data": [{"id": 1, "taskId": 9, "msg": "boom"}]})");
  REQUIRE(l.ok());
  CHECK(l->at(0).msg == "boom");
}

TEST_CASE("error classification keys on Code") {
  auto e = classify_error_response(
      400, R"({"RequestId": "A", "Code": "Throttling.User", "Message": "slow down"})", std::nullopt,
      std::nullopt);
  CHECK(e.reason == FailureReason::throttled);
  CHECK(e.request_id == "A");
  CHECK(classify_error_response(404, R"({"Code": "InvalidAccessKeyId.NotFound"})", {}, {}).reason ==
        FailureReason::auth);
  CHECK(classify_error_response(400, R"({"code": "SignatureDoesNotMatch", "message": "m"})", {}, {})
            .reason == FailureReason::auth);
  CHECK(classify_error_response(403, R"({"Code": "Forbidden.RAM"})", {}, {}).reason ==
        FailureReason::auth);
  CHECK(classify_error_response(404, R"({"Code": "InvalidApi.NotFound"})", {}, {}).reason ==
        FailureReason::client);
  CHECK(classify_error_response(404, R"({"Code": "MmsJobNotFound"})", {}, {}).reason ==
        FailureReason::not_found);
  CHECK(classify_error_response(503, R"({"Code": "ServiceUnavailable"})", {}, {}).reason ==
        FailureReason::server);
  CHECK(classify_error_response(503, "<html>busy</html>", {}, {}).reason == FailureReason::server);
  CHECK(classify_error_response(400, R"({"Code": "InvalidParameter"})", {}, {}).reason ==
        FailureReason::client);
  CHECK(classify_error_response(429, "", {}, {}).reason == FailureReason::throttled);
}

TEST_CASE("rate-limit headers mark throttling and give the wait") {
  auto rl = parse_rate_limit("Limit:1,Remain:0,TimeLeft:2000,Reset:1234");
  REQUIRE(rl);
  CHECK(rl->limit == 1);
  CHECK(rl->remain == 0);
  CHECK(rl->time_left == milliseconds{2000});
  CHECK(rl->reset == 1234);
  auto e = classify_error_response(503, R"({"Code": "Whatever"})", rl, std::nullopt);
  CHECK(e.reason == FailureReason::throttled);
  CHECK(e.retry_after == milliseconds{2000});
  CHECK_FALSE(parse_rate_limit("nonsense"));
}

TEST_CASE("retryable reasons") {
  CHECK(is_retryable(FailureReason::throttled));
  CHECK(is_retryable(FailureReason::server));
  CHECK(is_retryable(FailureReason::timeout));
  CHECK(is_retryable(FailureReason::network));
  CHECK_FALSE(is_retryable(FailureReason::auth));
  CHECK_FALSE(is_retryable(FailureReason::decode));
  CHECK_FALSE(is_retryable(FailureReason::not_found));
}

TEST_CASE("api times") {
  auto t = parse_api_time("2024-02-29 23:59:59", minutes{0});
  REQUIRE(t);
  CHECK(format_acs_date(*t) == "2024-02-29T23:59:59Z");
  CHECK_FALSE(parse_api_time("2023-02-29 00:00:00", minutes{0}));
  CHECK_FALSE(parse_api_time("yesterday", minutes{0}));
}

TEST_CASE("api times beyond what the clock holds are refused, not overflowed (found by fuzzing)") {
  CHECK_FALSE(parse_api_time("65542-01-01 00:00:00", std::chrono::minutes{0}));
  CHECK_FALSE(parse_api_time("9999-12-31", std::chrono::minutes{0}, BareDate::end_of_day));
  CHECK_FALSE(parse_api_time("1969-12-31 23:59:59", std::chrono::minutes{0}));
  CHECK(parse_api_time("2200-12-31", std::chrono::minutes{0}, BareDate::end_of_day));
}

// The state file's text: a round trip keeps everything; bad files are errors, never partly read.
#include <doctest/doctest.h>

#include "core/state_codec.hpp"
#include "job_fixtures.hpp"

using namespace mmsmon;
using namespace mmsmon::test;
using namespace std::chrono_literals;

namespace {

FleetState sample() {
  Fleet f(AlertThresholds{60s, 10s});
  f.add(kKey, 30s);
  const JobKey other{SourceId{2}, JobId{11}};
  f.add(other, 90s);
  Job j = snap(JobStatus::doing, 3, 10);
  j.src_db = "hive_db";
  j.create_time = t0 - 24h;
  j.eta_raw = "2026-12-31";
  j.eta = t0 + 48h;
  f.on_snapshot(kKey, snap(JobStatus::init, 0, 10), t0);
  f.on_snapshot(kKey, j, t0 + 1s);
  auto e = api_error(FailureReason::not_found, 404, "MmsJobNotFound");
  e.request_id = "RID";
  f.on_failure(other, e, t0 + 2s);
  f.on_failure(other, e, t0 + 3s);
  return f.save();
}

}  // namespace

TEST_CASE("state: a round trip keeps every job fact and firing alert") {
  FleetState s = sample();
  std::string text = encode_state(s, t0 + 5s);
  auto d = decode_state(text);
  REQUIRE_MESSAGE(d.ok(), (d.ok() ? "" : d.error()));
  CHECK(d->written == t0 + 5s);
  CHECK(encode_state(d->state, t0 + 5s) == text);  // nothing lost on the way
  REQUIRE(d->state.jobs.size() == 2);
  const auto& a = d->state.jobs[0];
  CHECK(a.state.key == kKey);
  CHECK(a.interval == 30s);
  CHECK(a.state.last->status == JobStatus::doing);
  CHECK(a.state.last->task_done == 3);
  CHECK(a.state.last->src_db == "hive_db");
  CHECK(a.state.last->eta == t0 + 48h);
  CHECK(a.state.last_progress == t0 + 1s);
  CHECK(a.state.transitions[1] == 1);
  const auto& b = d->state.jobs[1];
  CHECK(b.state.consecutive_failures == 2);
  CHECK(b.state.failing_since == t0 + 2s);
  CHECK(b.state.last_error->code == "MmsJobNotFound");
  CHECK(b.state.last_error->reason == FailureReason::not_found);
  REQUIRE(d->state.firing.size() == 1);
  CHECK(d->state.firing[0].alert == AlertName::job_not_found);
  CHECK(d->state.firing[0].since == t0 + 2s);
}

TEST_CASE("state: a restored fleet repeats nothing and sees what changed while down") {
  auto d = decode_state(encode_state(sample(), t0 + 5s));
  REQUIRE(d.ok());
  Fleet f(AlertThresholds{60s, 10s});
  f.restore(d->state);
  CHECK(f.not_polled() == 2);  // this run has not polled them yet
  // Still not found: JobNotFound is firing already.
  CHECK(f.on_failure(JobKey{SourceId{2}, JobId{11}},
                     api_error(FailureReason::not_found, 404, "MmsJobNotFound"), t0 + 1h)
            .alerts.empty());
  // The job failed while mmsmon was down: said once, now.
  auto ch = f.on_snapshot(kKey, snap(JobStatus::failed, 3, 10), t0 + 1h);
  CHECK(alert_names(ch.alerts) == std::vector<std::string>{"JobFailed:event"});
}

TEST_CASE("state: bad files are errors naming the problem") {
  std::string good = encode_state(sample(), t0);
  CHECK(decode_state("").error().find("not JSON") != std::string::npos);
  CHECK(decode_state("{\"jobs\": [").error().find("not JSON") != std::string::npos);
  CHECK(decode_state("[]").error().find("expected an object") != std::string::npos);
  CHECK(decode_state(R"({"format": "other"})").error() == "not an mmsmon state file");
  auto future = good;
  future.replace(future.find("\"version\":1"), 11, "\"version\":2");
  CHECK(decode_state(future).error() == "format version 2, this build reads version 1");
  auto bad_alert = good;
  bad_alert.replace(bad_alert.find("\"alert\":\"JobNotFound\""), 21, "\"alert\":\"JobVanished\"");
  CHECK(decode_state(bad_alert).error() == "firing[0]: alert: unknown \"JobVanished\"");
  auto bad_type = good;
  bad_type.replace(bad_type.find("\"polled\":true"), 13, "\"polled\":\"yes\"");
  CHECK(decode_state(bad_type).error() == "jobs[0]: polled: expected true or false");
  auto missing = good;
  missing.replace(missing.find("\"interval_ms\":30000,"), 20, "");
  CHECK(decode_state(missing).error() == "jobs[0]: interval_ms: missing");
}

TEST_CASE("state: times and spans out of range are refused, not overflowed (found by fuzzing)") {
  std::string good = encode_state(sample(), t0);
  auto far = good;
  auto at = far.find("\"written\":");
  far.replace(at, far.find(',', at) - at, "\"written\":179514000000000000");
  CHECK(decode_state(far).error() == "written: time out of range");
  auto huge = good;
  huge.replace(huge.find("\"interval_ms\":30000"), 19, "\"interval_ms\":9000000000000000");
  CHECK(decode_state(huge).error() == "jobs[0]: interval_ms: out of range");
}

TEST_CASE("state: reminders and held resolutions survive a restart") {
  Fleet f(AlertThresholds{.repeat_interval = 1h, .resolve_hold = 2min});
  f.add(kKey, 30s);
  f.on_snapshot(kKey, snap(JobStatus::doing, 1, 10), t0);
  auto e = api_error(FailureReason::not_found, 404, "MmsJobNotFound");
  f.on_failure(kKey, e, t0 + 1s);
  CHECK(f.tick(t0 + 1h + 1s).size() == 1);  // a reminder, said at t0+1h+1s
  f.on_snapshot(kKey, snap(JobStatus::doing, 1, 10), t0 + 1h + 10s);  // clear: held
  auto d = decode_state(encode_state(f.save(), t0 + 1h + 11s));
  REQUIRE_MESSAGE(d.ok(), (d.ok() ? "" : d.error()));
  CHECK(d->state.firing == f.save().firing);
  Fleet g(AlertThresholds{.repeat_interval = 1h, .resolve_hold = 2min});
  g.restore(d->state);
  CHECK(g.tick(t0 + 1h + 2min).empty());  // neither reminded again nor resolved early
  auto r = g.tick(t0 + 1h + 2min + 10s);
  REQUIRE(alert_names(r) == std::vector<std::string>{"JobNotFound:resolved"});
  CHECK(r[0].job_name == "migrate_sales");
  CHECK(r[0].summary == f.save().firing[0].resolving->summary);
}

TEST_CASE("state: a file without reminder fields (an earlier build) still loads") {
  std::string text = encode_state(sample(), t0 + 5s);
  for (const char* k : {"said", "summary", "facts"}) {
    auto at = text.find(std::string("\"") + k + "\":");
    REQUIRE(at != std::string::npos);
    auto end = text.find_first_of(",}", text.find(k == std::string("facts") ? '}' : ':', at) + 1);
    text.erase(at, end - at + (text[end] == ',' ? 1 : 0));
  }
  auto d = decode_state(text);
  REQUIRE_MESSAGE(d.ok(), (d.ok() ? "" : d.error()));
  CHECK(d->state.firing[0].said == d->state.firing[0].since);
}

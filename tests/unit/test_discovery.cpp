// Discovery: globs, rules, shards, and reading a listing page by page consistently.
#include <doctest/doctest.h>

#include <algorithm>
#include <map>

#include "core/config.hpp"
#include "core/discovery.hpp"
#include "core/reconcile.hpp"
#include "job_fixtures.hpp"

using namespace mmsmon;
using namespace mmsmon::test;

namespace {

Job named(std::int64_t id, std::string name, JobStatus s = JobStatus::doing) {
  Job j = snap(s, 0, 10);
  j.key = JobKey{SourceId{7}, JobId{id}};
  j.name = std::move(name);
  return j;
}

std::vector<Job> jobs(std::int64_t from, std::int64_t to) {
  std::vector<Job> v;
  for (auto i = from; i <= to; ++i)
    v.push_back(named(i, "job_" + std::to_string(i)));
  return v;
}

}  // namespace

TEST_CASE("glob patterns on job names") {
  CHECK(glob_match("orders_*", "orders_2024"));
  CHECK(glob_match("orders_*", "orders_"));
  CHECK_FALSE(glob_match("orders_*", "order_2024"));
  CHECK(glob_match("*_2024", "orders_2024"));
  CHECK(glob_match("o?ders*", "orders"));
  CHECK(glob_match("*", ""));
  CHECK_FALSE(glob_match("?", ""));
  CHECK(glob_match("a*b*c", "a-x-b-y-c"));
  CHECK_FALSE(glob_match("a*b*c", "a-x-c-y-b"));
  CHECK(glob_match(std::string(100, '*') + "z", std::string(10000, 'a') + "z"));  // no blow-up
}

TEST_CASE("a discover rule picks by source, name, status and stopped") {
  DiscoverRule r;
  r.source = SourceId{7};
  r.include = {"orders_*", "sales_*"};
  r.exclude = {"*_tmp"};
  r.status = {"DOING", "INIT"};
  CHECK(rule_covers(r, SourceId{7}));
  CHECK_FALSE(rule_covers(r, SourceId{8}));
  CHECK(rule_matches(r, named(1, "orders_eu")));
  CHECK(rule_matches(r, named(1, "sales_us", JobStatus::init)));
  CHECK_FALSE(rule_matches(r, named(1, "orders_tmp")));
  CHECK_FALSE(rule_matches(r, named(1, "users")));
  CHECK_FALSE(rule_matches(r, named(1, "orders_eu", JobStatus::done)));
  r.stopped = false;
  Job stopped = named(1, "orders_eu");
  stopped.stopped = true;
  CHECK_FALSE(rule_matches(r, stopped));
  DiscoverRule all;
  all.all_sources = true;
  CHECK(rule_covers(all, SourceId{12345}));
  std::vector<DiscoverRule> both{r, all};
  CHECK(matching_rule(both, named(1, "orders_eu")) == &both[0]);  // the first that picks it
  CHECK(matching_rule(both, named(1, "users")) == &both[1]);
  CHECK(matching_rule({r}, named(1, "users")) == nullptr);
}

TEST_CASE("shards split jobs evenly and stably") {
  CHECK(job_hash(JobKey{SourceId{2000015}, JobId{10}}) ==
        job_hash(JobKey{SourceId{2000015}, JobId{10}}));
  CHECK(job_hash(JobKey{SourceId{1}, JobId{2}}) != job_hash(JobKey{SourceId{2}, JobId{1}}));
  std::map<std::uint32_t, int> per;
  for (int s = 1; s <= 10; ++s)
    for (int j = 1; j <= 1000; ++j) {
      int in = 0;
      for (std::uint32_t i = 0; i < 3; ++i)
        if (in_shard(JobKey{SourceId{s}, JobId{j}}, ShardConfig{i, 3})) {
          ++in;
          ++per[i];
        }
      CHECK(in == 1);  // exactly one replica tracks each job
    }
  for (auto [i, n] : per)
    CHECK(std::abs(n - 10000 / 3) < 300);
  CHECK(in_shard(JobKey{SourceId{1}, JobId{1}}, ShardConfig{0, 1}));
}

TEST_CASE("paging: ceil(total / size) pages, the answer's page size wins") {
  PageWalk w(100);
  CHECK(w.next_page() == 1);
  CHECK(w.add(250, 50, jobs(1, 50)));  // the API says 50 a page
  CHECK(w.page_size() == 50);
  int pages = 1;
  while (w.add(250, 50, jobs(w.next_page() * 50 - 49, w.next_page() * 50)))
    ++pages;
  CHECK(pages + 1 == 5);
  CHECK(w.complete());
  CHECK(w.take().size() == 250);
  CHECK(w.notes().empty());
}

TEST_CASE("paging: total changes mid-way, items repeat, pages run dry, pageSize 0") {
  {  // a job is created while reading: total 4 -> 5, everything read again once
    PageWalk w(2);
    CHECK(w.add(4, 2, jobs(1, 2)));
    CHECK(w.add(5, 2, jobs(2, 3)));  // shifted: job 2 again, and total changed
    CHECK(w.next_page() == 1);
    CHECK(w.add(5, 2, jobs(1, 2)));
    CHECK(w.add(5, 2, jobs(3, 4)));
    CHECK_FALSE(w.add(5, 2, jobs(5, 5)));
    CHECK(w.complete());
    CHECK(w.take().size() == 5);  // none skipped, none twice
    CHECK(w.notes().size() >= 1);
  }
  {  // an empty page before total is reached: incomplete (nothing gets withdrawn)
    PageWalk w(2);
    CHECK(w.add(6, 2, jobs(1, 2)));
    CHECK_FALSE(w.add(6, 2, {}));
    CHECK_FALSE(w.complete());
  }
  {  // pageSize 0 in the answer: the size asked for is used, no endless loop
    PageWalk w(3);
    CHECK(w.add(5, 0, jobs(1, 3)));
    CHECK(w.page_size() == 3);
    CHECK_FALSE(w.add(5, 0, jobs(4, 5)));
    CHECK(w.complete());
    CHECK_FALSE(w.notes().empty());
  }
  {  // a page that repeats its items forever (total keeps saying more): stops, incomplete
    PageWalk w(2);
    int n = 0;
    while (w.add(1000, 2, jobs(1, 2)) && n < 10000)
      ++n;
    CHECK(n < 1100);
    CHECK(w.take().size() == 2);
  }
}

TEST_CASE("discover and shard in the config") {
  auto ok = parse_config(R"({"api": {"region": "x"},
    "discover": [{"source_id": 7, "include": ["orders_*"], "status": ["DOING"], "interval": "2m"},
                 {"all_sources": true, "exclude": ["*_tmp"]}],
    "discover_interval": "1m", "shard": {"index": 1, "count": 3}})",
                         "c.json");
  REQUIRE(ok.ok());
  REQUIRE(ok->discover.size() == 2);
  CHECK(ok->discover[0].source == SourceId{7});
  CHECK(ok->discover[0].interval == std::chrono::minutes(2));
  CHECK(ok->discover[1].all_sources);
  CHECK(ok->discover_interval == std::chrono::minutes(1));
  CHECK(ok->shard == ShardConfig{1, 3});
  auto bad = parse_config(R"({"api": {"region": "x"},
    "discover": [{"include": ["x"]}, {"source_id": 1, "all_sources": true},
                 {"source_id": 2, "status": ["RUNNING"]}],
    "shard": {"index": 3, "count": 3}})",
                          "c.json");
  REQUIRE_FALSE(bad.ok());
  std::vector<std::string> paths;
  for (const auto& e : bad.error())
    paths.push_back(e.path);
  for (const char* p : {"discover[0]", "discover[1]", "discover[2].status", "shard.index"}) {
    CAPTURE(p);
    CHECK(std::find(paths.begin(), paths.end(), p) != paths.end());
  }
}

TEST_CASE("the shipped example configs are valid") {
  for (const char* f : {"/deploy/examples/mmsmon-shard-0.json", "/config/demo.json"}) {
    CAPTURE(f);
    auto c = load_config_file(std::string(MMSMON_SOURCE_DIR) + f);
    CHECK_MESSAGE(c.ok(), (c.ok() ? "" : c.error()[0].to_string()));
  }
}

// The reconciliation of listings with the fleet (core/reconcile), the daemon only applies it.

namespace {

WallTime at(int minutes) {
  return WallTime{} + std::chrono::hours(24 * 365 * 50) + std::chrono::minutes(minutes);
}

/// A fleet holding `key` as discovered (or configured), with its last snapshot.
void track(Fleet& f, const Job& j, bool discovered = true) {
  f.add(j.key, Millis{60'000});
  f.on_snapshot(j.key, j, at(0));
  f.find(j.key)->discovered = discovered;
}

std::vector<std::int64_t> ids(const std::vector<JobKey>& keys) {
  std::vector<std::int64_t> v;
  for (const auto& k : keys)
    v.push_back(k.job.value);
  return v;
}

}  // namespace

TEST_CASE("reconcile a listing: new jobs the rules pick are added, tracked ones are present") {
  Fleet f;
  track(f, named(1, "orders_a"));
  auto rules = parse_config(R"({"api": {"region": "x"}, "discover": [{"source_id": 7,
    "include": ["orders_*"], "interval": "5m", "stall_after": "2h"}]})",
                            "c.json")
                   .value()
                   .discover;
  std::vector<Job> listing{named(1, "orders_a"), named(2, "orders_b"), named(3, "users"),
                           named(4, "orders_c", JobStatus::done)};
  auto ch = reconcile_listing(f, SourceId{7}, listing, true, {}, rules, {}, at(1), 24h);
  REQUIRE(ch.add.size() == 2);
  CHECK(listing[ch.add[0].first].key.job.value == 2);
  CHECK(listing[ch.add[1].first].key.job.value == 4);
  CHECK(ch.add[0].second->interval == Millis{300'000});
  CHECK(ch.add[0].second->stall_after == Millis{7'200'000});
  CHECK(ids(ch.present) == std::vector<std::int64_t>{1});
  CHECK(ch.missing.empty());
  CHECK(ch.withdraw.empty());
  SUBCASE("shards split what is added") {
    auto one = reconcile_listing(f, SourceId{7}, listing, true, {}, rules, {0, 1}, at(1), 24h);
    CHECK(one.add.size() == 2);  // one shard of one: all of them
    std::size_t both = 0;
    for (std::uint32_t i = 0; i < 2; ++i)
      both += reconcile_listing(f, SourceId{7}, listing, true, {}, rules, {i, 2}, at(1), 24h)
                  .add.size();
    CHECK(both == 2);  // two shards split them
  }
}

TEST_CASE("reconcile a listing: withdrawn after two complete listings without it, never sooner") {
  Fleet f;
  track(f, named(1, "a"));
  track(f, named(2, "b"));
  track(f, named(3, "configured"), false);
  std::vector<DiscoverRule> rules(1);
  rules[0].source = SourceId{7};
  std::vector<Job> only_1{named(1, "a")};
  // An incomplete listing: nothing is missing.
  auto partial = reconcile_listing(f, SourceId{7}, only_1, false, {}, rules, {}, at(1), 24h);
  CHECK(partial.missing.empty());
  CHECK(partial.withdraw.empty());
  // The first complete one: job 2 is missing once (the configured job 3 never is).
  auto first = reconcile_listing(f, SourceId{7}, only_1, true, {}, rules, {}, at(1), 24h);
  CHECK(ids(first.missing) == std::vector<std::int64_t>{2});
  CHECK(first.withdraw.empty());
  f.find(JobKey{SourceId{7}, JobId{2}})->missing = 1;
  // The second: withdrawn.
  auto second = reconcile_listing(f, SourceId{7}, only_1, true, {}, rules, {}, at(2), 24h);
  CHECK(second.missing.empty());
  CHECK(ids(second.withdraw) == std::vector<std::int64_t>{2});
  // Another data source's listing says nothing about these.
  auto other = reconcile_listing(f, SourceId{8}, {}, true, {}, rules, {}, at(2), 24h);
  CHECK(other.missing.empty());
  CHECK(other.withdraw.empty());
}

TEST_CASE(
    "reconcile a listing: finished for finished_retention is retired, found again if it runs") {
  Fleet f;
  track(f, named(1, "a", JobStatus::done));
  f.find(JobKey{SourceId{7}, JobId{1}})->finished_since = at(0);
  std::vector<DiscoverRule> rules(1);
  rules[0].source = SourceId{7};
  std::vector<Job> listing{named(1, "a", JobStatus::done)};
  CHECK(
      reconcile_listing(f, SourceId{7}, listing, true, {}, rules, {}, at(60), 24h).retire.empty());
  auto old = reconcile_listing(f, SourceId{7}, listing, true, {}, rules, {}, at(24 * 60), 24h);
  CHECK(ids(old.retire) == std::vector<std::int64_t>{1});
  // Retired and gone from the fleet: still finished, it is not added again; running, it is.
  Fleet empty;
  std::set<JobKey> retired{JobKey{SourceId{7}, JobId{1}}};
  auto still = reconcile_listing(empty, SourceId{7}, listing, true, retired, rules, {}, at(0), 24h);
  CHECK(still.add.empty());
  CHECK(still.unretire.empty());
  std::vector<Job> again{named(1, "a", JobStatus::doing)};
  auto back = reconcile_listing(empty, SourceId{7}, again, true, retired, rules, {}, at(0), 24h);
  CHECK(back.add.size() == 1);
  CHECK(ids(back.unretire) == std::vector<std::int64_t>{1});
}

TEST_CASE("refresh by pages: a data source is worth it from two running jobs and fewer pages") {
  Fleet f;
  auto run = [&](std::int64_t source, std::int64_t id, JobStatus s = JobStatus::doing) {
    Job j = snap(s, 0, 10);
    j.key = JobKey{SourceId{source}, JobId{id}};
    f.add(j.key, Millis{60'000});
    f.on_snapshot(j.key, j, at(0));
  };
  run(1, 1);                                         // source 1: one running job
  run(2, 1), run(2, 2);                              // source 2: two
  run(3, 1), run(3, 2), run(3, 3, JobStatus::done);  // source 3: two running, one done
  for (int i = 1; i <= 3; ++i)
    run(4, i);  // source 4: three, but a listing of 500 seen
  std::map<SourceId, std::int64_t> seen{{SourceId{4}, 500}};
  CHECK(refresh_sources(f, seen, 100, true) == std::set<SourceId>{SourceId{2}, SourceId{3}});
  seen[SourceId{4}] = 150;  // two pages for three jobs
  CHECK(refresh_sources(f, seen, 100, true).count(SourceId{4}) == 1);
  CHECK(refresh_sources(f, seen, 100, false).empty());
}

TEST_CASE("refresh by pages: jobs not polled yet count as running, until their first poll") {
  Fleet f;
  // Source 5: two jobs never polled (a first start without a state file).
  JobKey a{SourceId{5}, JobId{1}}, b{SourceId{5}, JobId{2}};
  f.add(a, Millis{60'000});
  f.add(b, Millis{60'000});
  CHECK(refresh_sources(f, {}, 100, true) == std::set<SourceId>{SourceId{5}});
  // One turns out finished: one candidate left, not worth a listing.
  Job done = snap(JobStatus::done, 10, 10);
  done.key = a;
  f.on_snapshot(a, done, at(0));
  CHECK(refresh_sources(f, {}, 100, true).empty());
  // A job whose polls fail (e.g. wrong id) does not keep its source listed.
  ApiError e;
  e.reason = FailureReason::not_found;
  f.add(JobKey{SourceId{5}, JobId{3}}, Millis{60'000});
  f.on_failure(JobKey{SourceId{5}, JobId{3}}, e, at(0));
  CHECK(refresh_sources(f, {}, 100, true).empty());
}

TEST_CASE("a reload keeps configured jobs and the discovered ones the new rules still pick") {
  Fleet f;
  track(f, named(1, "orders_a"));
  track(f, named(2, "users"));
  track(f, named(3, "cfg"), false);
  auto c = parse_config(R"({"api": {"region": "x"}, "jobs": [{"source_id": 7, "job_id": 3}],
    "discover": [{"source_id": 7, "include": ["orders_*"]}]})",
                        "c.json")
               .value();
  CHECK(jobs_kept(f, c) ==
        std::set<JobKey>{JobKey{SourceId{7}, JobId{1}}, JobKey{SourceId{7}, JobId{3}}});
  // A discovered job never polled is kept while a rule covers its source.
  f.add(JobKey{SourceId{7}, JobId{9}}, Millis{60'000});
  f.find(JobKey{SourceId{7}, JobId{9}})->discovered = true;
  CHECK(jobs_kept(f, c).count(JobKey{SourceId{7}, JobId{9}}) == 1);
  c.discover[0].source = SourceId{8};
  CHECK(jobs_kept(f, c) == std::set<JobKey>{JobKey{SourceId{7}, JobId{3}}});
}

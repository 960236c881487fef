// Discovery: globs, rules, shards, and reading a listing page by page consistently.
#include <doctest/doctest.h>

#include <algorithm>
#include <map>

#include "core/config.hpp"
#include "core/discovery.hpp"
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

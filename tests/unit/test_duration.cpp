#include <doctest/doctest.h>

#include "core/duration.hpp"

using namespace mmsmon;
using namespace std::chrono_literals;

TEST_CASE("durations parse in Prometheus style") {
  CHECK(*parse_duration("500ms") == 500ms);
  CHECK(*parse_duration("30s") == 30s);
  CHECK(*parse_duration("5m") == 5min);
  CHECK(*parse_duration("1h30m") == 90min);
  CHECK(*parse_duration("1d") == 24h);
  CHECK(*parse_duration("1m500ms") == 60500ms);
  CHECK(*parse_duration("0") == 0ms);
}

TEST_CASE("bad durations are rejected with a reason") {
  CHECK_FALSE(parse_duration(""));
  CHECK(parse_duration("10").error().find("unit") != std::string::npos);
  CHECK(parse_duration("s").error().find("number") != std::string::npos);
  CHECK(parse_duration("30m1h").error().find("largest to smallest") != std::string::npos);
  CHECK_FALSE(parse_duration("1.5s"));
  CHECK_FALSE(parse_duration("10 s"));
  CHECK_FALSE(parse_duration("99999999999999999999s"));
}

TEST_CASE("durations format back") {
  CHECK(format_duration(90min) == "1h30m");
  CHECK(format_duration(250ms) == "250ms");
  CHECK(format_duration(0ms) == "0s");
}

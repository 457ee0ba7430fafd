#include <rmpi/launcher/host_list.hpp>

#include <doctest/doctest.h>

#include <rmpi/error.hpp>

using rmpi::ConfigError;
using rmpi::launcher::parse_host_list;

TEST_CASE("-H h1:2,h2: counts, default 1 slot, origin -H") {
  const auto hosts = parse_host_list("h1:2,h2");
  REQUIRE(hosts.size() == 2);
  CHECK(hosts[0].name == "h1");
  CHECK(hosts[0].host == "h1");
  CHECK(hosts[0].slots == 2);
  CHECK_FALSE(hosts[0].max_slots.has_value());
  CHECK(hosts[0].origin == "-H");
  CHECK(hosts[1].name == "h2");
  CHECK(hosts[1].slots == 1);
}

TEST_CASE("-H with users, addresses and repeated hosts") {
  const auto hosts = parse_host_list("alice@h1:3,127.0.0.2,h1,127.0.0.2:2,[::1]:2");
  REQUIRE(hosts.size() == 4);
  CHECK(hosts[0].name == "alice@h1");
  CHECK(hosts[0].user == "alice");
  CHECK(hosts[0].slots == 3);
  CHECK(hosts[1].name == "127.0.0.2");
  CHECK(hosts[1].slots == 3);
  CHECK(hosts[2].name == "h1");
  CHECK(hosts[2].slots == 1);
  CHECK(hosts[3].host == "::1");
  CHECK(hosts[3].slots == 2);
}

TEST_CASE("-H errors name the bad item") {
  CHECK_THROWS_WITH_AS(parse_host_list("h1:x,h2"), "-H: bad slot count 'h1:x'",
                       ConfigError);
  CHECK_THROWS_WITH_AS(parse_host_list("h1,h2:0"),
                       "-H: slot count must be at least 1 'h2:0'", ConfigError);
  CHECK_THROWS_WITH_AS(parse_host_list("h1,,h2"), "-H: empty host in list 'h1,,h2'",
                       ConfigError);
  CHECK_THROWS_WITH_AS(parse_host_list("h1,"), "-H: empty host in list 'h1,'",
                       ConfigError);
  CHECK_THROWS_WITH_AS(parse_host_list(""), "-H: empty host in list ''", ConfigError);
  CHECK_THROWS_WITH_AS(parse_host_list("h1 h2"), "-H: bad host name 'h1 h2'", ConfigError);
  CHECK_THROWS_WITH_AS(parse_host_list("h1:2:3"), "-H: bad host name 'h1:2:3'",
                       ConfigError);
}

#include <rmpi/listener_guard.hpp>

#include <cstdlib>
#include <string>
#include <vector>

#include <doctest/doctest.h>

#include <rmpi/error.hpp>

using namespace rmpi::listener;
using namespace std::chrono_literals;

TEST_CASE("UnauthenticatedCap admits up to its maximum, refuses past it, and counts the refusals") {
  UnauthenticatedCap cap(3);
  CHECK(cap.try_admit());
  CHECK(cap.try_admit());
  CHECK(cap.try_admit());
  CHECK_FALSE(cap.try_admit());
  CHECK_FALSE(cap.try_admit());
  CHECK(cap.in_use() == 3);
  CHECK(cap.refused() == 2);
  cap.release();
  CHECK(cap.try_admit());
  for (int i = 0; i < 10; ++i) cap.release();  // never below zero
  CHECK(cap.in_use() == 0);
}

TEST_CASE("BadPeerLog writes one line per interval, names the peer, and counts the rest") {
  std::vector<std::string> lines;
  BadPeerLog log([&](const std::string& l) { lines.push_back(l); }, 1000ms);
  const auto t0 = BadPeerLog::Clock::now();
  log.report("127.0.0.1:1000", "bad handshake", t0);
  REQUIRE(lines.size() == 1);
  CHECK(lines[0] == "bad handshake (peer 127.0.0.1:1000)");
  CHECK_FALSE(log.flush_due());
  for (int i = 1; i <= 4000; ++i)
    log.report("127.0.0.1:" + std::to_string(1000 + i), "bad handshake", t0 + 1ms * (i % 900));
  CHECK(lines.size() == 1);
  REQUIRE(log.flush_due());
  CHECK(*log.flush_due() == t0 + 1000ms);
  log.flush(t0 + 999ms);
  CHECK(lines.size() == 1);
  log.flush(t0 + 1000ms);
  REQUIRE(lines.size() == 2);
  CHECK(lines[1] == "4000 more bad connections in the last 1.0 s not shown; the last: "
                    "bad handshake (peer 127.0.0.1:5000)");
  CHECK_FALSE(log.flush_due());
  log.report("10.0.0.1:7", "timed out", t0 + 1500ms);  // held: a line went out at +1000
  log.report("10.0.0.2:8", "timed out", t0 + 2100ms);
  REQUIRE(lines.size() == 3);
  CHECK(lines[2] == "timed out (peer 10.0.0.2:8) (1 more bad connection in the last 1.0 s not shown)");
  CHECK(log.reports() == 4003);
  CHECK(log.lines() == 3);
}

TEST_CASE("BadPeerLog writes a held-back count when it ends") {
  std::vector<std::string> lines;
  {
    BadPeerLog log([&](const std::string& l) { lines.push_back(l); });
    log.report("a:1", "x");
    log.report("a:2", "y");
  }
  REQUIRE(lines.size() == 2);
  CHECK(lines[1] == "1 more bad connection in the last 1.0 s not shown; the last: y (peer a:2)");
}

TEST_CASE("limits_from_environment: defaults, values, and one clear error for a bad value") {
  ::unsetenv(kMaxUnauthenticatedEnv);
  ::unsetenv(kHandshakeTimeoutEnv);
  CHECK(limits_from_environment().max_unauthenticated == 256);
  CHECK(limits_from_environment().handshake_timeout == 10000ms);
  ::setenv(kMaxUnauthenticatedEnv, "17", 1);
  ::setenv(kHandshakeTimeoutEnv, "250", 1);
  CHECK(limits_from_environment().max_unauthenticated == 17);
  CHECK(limits_from_environment().handshake_timeout == 250ms);
  for (const char* bad : {"0", "-1", "12x", "", "9999999999999"}) {
    ::setenv(kMaxUnauthenticatedEnv, bad, 1);
    CHECK_THROWS_WITH_AS(limits_from_environment(),
                         doctest::Contains("RMPI_MAX_UNAUTHENTICATED='"), rmpi::ConfigError);
  }
  ::setenv(kMaxUnauthenticatedEnv, "1\x01\n", 1);
  CHECK_THROWS_WITH_AS(limits_from_environment(), "rmpi: RMPI_MAX_UNAUTHENTICATED='1\\x01\\x0a' is not a positive integer",
                       rmpi::ConfigError);
  ::unsetenv(kMaxUnauthenticatedEnv);
  ::unsetenv(kHandshakeTimeoutEnv);
}

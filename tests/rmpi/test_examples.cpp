// The examples as multi-process jobs (real processes, loopback and local
// sockets), at 1, 2, 3, 5 and 8 ranks (8 oversubscribes a 2-core machine).
#include <doctest/doctest.h>

#include "job_harness.hpp"

using rmpi::test::JobSpec;
using rmpi::test::run_job;

TEST_CASE("ring passes the token around 1, 2, 3, 5 and 8 ranks") {
  for (int n : {1, 2, 3, 5, 8}) {
    CAPTURE(n);
    const auto res = run_job({.ranks = n, .program = RMPI_RING_EXE, .args = {"3"}});
    INFO(res.summary());
    REQUIRE(res.all_exited_zero());
    CHECK(res.ranks[0].out.find("count = " + std::to_string(3 * n)) != std::string::npos);
  }
}

TEST_CASE("ring over TCP: every rank on its own node") {
  const auto res = run_job({.ranks = 5,
                            .program = RMPI_RING_EXE,
                            .args = {"2"},
                            .node_id = [](int r) { return "host" + std::to_string(r); }});
  INFO(res.summary());
  REQUIRE(res.all_exited_zero());
  CHECK(res.ranks[0].out.find("count = 10") != std::string::npos);
}

TEST_CASE("collectives-check passes at 1, 2, 3, 5 and 8 ranks") {
  for (int n : {1, 2, 3, 5, 8}) {
    CAPTURE(n);
    const auto res = run_job({.ranks = n, .program = RMPI_COLLECTIVES_CHECK_EXE});
    INFO(res.summary());
    REQUIRE(res.all_exited_zero());
    CHECK(res.ranks[0].out == "OK\n");
  }
}

TEST_CASE("collectives-check on two nodes (local sockets and TCP mixed), 5 ranks") {
  const auto res = run_job({.ranks = 5,
                            .program = RMPI_COLLECTIVES_CHECK_EXE,
                            .node_id = [](int r) { return r % 2 ? "b" : "a"; }});
  INFO(res.summary());
  REQUIRE(res.all_exited_zero());
  CHECK(res.ranks[0].out == "OK\n");
}

TEST_CASE("pi under 4 ranks prints pi to 10 digits") {
  const auto res = run_job({.ranks = 4, .program = RMPI_PI_EXE});
  INFO(res.summary());
  REQUIRE(res.all_exited_zero());
  CHECK(res.ranks[0].out == "pi = 3.1415926536\n");
  for (int r = 1; r < 4; ++r) CHECK(res.ranks[r].out.empty());
}

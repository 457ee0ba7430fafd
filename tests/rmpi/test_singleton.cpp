// Singletons: a program linked with rmpi and started without rmpirun (no
// launch environment at all) runs as rank 0 of a world of 1, as MPI_Init does.
#include <doctest/doctest.h>

#include <cstdlib>
#include <string>

#include <rmpi/launch_env.hpp>

#include "ssh_fixture.hpp"

using namespace std::chrono_literals;
using rmpi::testing::run_process;

namespace {

/// This process's environment without any launch variable, inherited by the programs run.
void clear_launch_env() {
  for (const char* v : {rmpi::kRankEnv, rmpi::kSizeEnv, rmpi::kLocalRankEnv, rmpi::kLocalSizeEnv,
                        rmpi::kNodeIdEnv, rmpi::kJobSecretEnv, rmpi::kRendezvousEnv,
                        rmpi::kAdvertiseEnv, rmpi::kIfaceEnv, rmpi::kPortRangeEnv, rmpi::kJobIdEnv})
    ::unsetenv(v);
}

}  // namespace

TEST_CASE("ring, started alone, is a ring of 1 rank") {
  clear_launch_env();
  const auto r = run_process({RMPI_RING_EXE, "3"}, {}, 60s);
  INFO("stderr: " << r.err);
  CHECK(r.exit_code == 0);
  CHECK(r.out.find("ring of 1 ranks, 3 laps: count = 3") != std::string::npos);
}

TEST_CASE("collectives work in a singleton") {
  clear_launch_env();
  const auto r = run_process({RMPI_COLLECTIVES_CHECK_EXE}, {}, 60s);
  INFO("stderr: " << r.err);
  CHECK(r.exit_code == 0);
  CHECK(r.out == "OK\n");
}

TEST_CASE("a singleton sends to itself, in order, and a receive with nothing queued fails") {
  clear_launch_env();
  const auto r = run_process({RMPI_TEST_PROGRAM, "self"}, {}, 60s);
  INFO("stderr: " << r.err);
  CHECK(r.exit_code == 0);
  CHECK(r.out.find("PASS\n") != std::string::npos);
  CHECK(r.out.find("FAIL") == std::string::npos);
}

TEST_CASE("half a launch environment is still an error naming what is missing") {
  clear_launch_env();
  ::setenv(rmpi::kRankEnv, "0", 1);
  const auto r = run_process({RMPI_RING_EXE, "1"}, {}, 60s);
  ::unsetenv(rmpi::kRankEnv);
  CHECK(r.exit_code != 0);
  CHECK(r.err.find("RMPI_SIZE is not set") != std::string::npos);
}

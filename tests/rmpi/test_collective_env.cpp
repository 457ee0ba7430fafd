// RMPI_COLL_* in a real job: forced algorithms reach every rank and give the
// same results; a bad value stops every rank with one line naming it.
#include <doctest/doctest.h>

#include <map>
#include <string>

#include "job_harness.hpp"

using rmpi::test::JobSpec;
using rmpi::test::run_job;

namespace {

std::map<int, std::map<std::string, std::string>> every_rank(
    int ranks, const std::map<std::string, std::string>& env) {
  std::map<int, std::map<std::string, std::string>> out;
  for (int r = 0; r < ranks; ++r) out[r] = env;
  return out;
}

}  // namespace

TEST_CASE("collectives-check passes with every collective's algorithm forced from the environment") {
  const std::map<std::string, std::string> hypercube{{"RMPI_COLL_ALLREDUCE", "hypercube"},
                                                     {"RMPI_COLL_BROADCAST", "hypercube"},
                                                     {"RMPI_COLL_BARRIER", "hypercube"},
                                                     {"RMPI_COLL_ALLGATHER", "hypercube"}};
  const std::map<std::string, std::string> chunked{{"RMPI_COLL_ALLREDUCE", "ring"},
                                                   {"RMPI_COLL_BROADCAST", "scatter_allgather"},
                                                   {"RMPI_COLL_BARRIER", "dissemination"},
                                                   {"RMPI_COLL_ALLGATHER", "ring"}};
  for (const auto& env : {hypercube, chunked}) {
    CAPTURE(env.at("RMPI_COLL_ALLREDUCE"));
    const auto res = run_job(
        {.ranks = 5, .program = RMPI_COLLECTIVES_CHECK_EXE, .extra_env = every_rank(5, env)});
    INFO(res.summary());
    REQUIRE(res.all_exited_zero());
    CHECK(res.ranks[0].out == "OK\n");
  }
}

TEST_CASE("an unknown RMPI_COLL_BARRIER value fails every rank with one line naming it") {
  const auto res = run_job({.ranks = 3,
                            .program = RMPI_COLLECTIVES_CHECK_EXE,
                            .extra_env = every_rank(3, {{"RMPI_COLL_BARRIER", "bogus"}})});
  INFO(res.summary());
  for (int r = 0; r < 3; ++r) {
    CHECK(res.ranks[r].out ==
          "FAIL: rmpi: RMPI_COLL_BARRIER='bogus' is not an algorithm; valid values: hypercube, "
          "dissemination\n");
  }
  CHECK_FALSE(res.all_exited_zero());
}

// comm_split between real processes: colors and keys, splits of splits, and
// the two errors (duplicate key, key >= the group's size).
#include <doctest/doctest.h>

#include "job_harness.hpp"

using rmpi::test::run_job;

namespace {
bool has(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }
}  // namespace

TEST_CASE("comm_split with three colors and reversed keys, 7 ranks") {
  const auto res = run_job({.ranks = 7, .program = RMPI_TEST_PROGRAM, .args = {"split"}});
  INFO(res.summary());
  REQUIRE(res.all_exited_zero());
  CHECK(has(res.ranks[0].out, "split color 0 id 2 cnt 3"));
  CHECK(has(res.ranks[6].out, "split color 0 id 0 cnt 3"));
  CHECK(has(res.ranks[5].out, "split color 2 id 0 cnt 2"));
}

TEST_CASE("comm_split errors: a duplicate key, a key not below the group size") {
  const auto res = run_job({.ranks = 4, .program = RMPI_TEST_PROGRAM, .args = {"split-errors"}});
  INFO(res.summary());
  REQUIRE(res.all_exited_zero());
  CHECK(has(res.ranks[0].out, "key 0 is used twice in color 0"));
  CHECK(has(res.ranks[2].out, "key 0 is used twice in color 0"));
  CHECK(has(res.ranks[1].out, "key 11 of rank 1 is not below the size 2 of color 1"));
}

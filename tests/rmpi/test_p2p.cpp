// Point-to-point between real processes: order, sizes from 0 bytes to over
// 1 GiB, Value and Cereal types, self-sends, type mismatch, bad ranks, and a
// peer that disappears.
#include <doctest/doctest.h>

#include "job_harness.hpp"

using rmpi::test::JobResult;
using rmpi::test::run_job;

namespace {
JobResult scenario(const char* mode, int ranks, std::chrono::seconds timeout = std::chrono::seconds(60)) {
  return run_job({.ranks = ranks, .program = RMPI_TEST_PROGRAM, .args = {mode}, .timeout = timeout});
}
bool has(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }
}  // namespace

TEST_CASE("messages between one pair arrive in order") {
  const auto res = scenario("inorder", 2);
  INFO(res.summary());
  CHECK(res.all_exited_zero());
}

TEST_CASE("0 bytes to 48 MiB, arrays, spans, strings; both ranks send before receiving") {
  const auto res = scenario("sizes", 2);
  INFO(res.summary());
  CHECK(res.all_exited_zero());
}

TEST_CASE("Value and a Cereal struct") {
  const auto res = scenario("value", 2);
  INFO(res.summary());
  CHECK(res.all_exited_zero());
}

TEST_CASE("sending to oneself uses a local queue") {
  for (int n : {1, 3}) {
    const auto res = scenario("self", n);
    INFO(res.summary());
    CHECK(res.all_exited_zero());
    CHECK(has(res.ranks[0].out, "receives from itself with no message queued"));
  }
}

TEST_CASE("receiving as another type is a TypeError naming both types") {
  const auto res = scenario("mismatch", 2);
  INFO(res.summary());
  CHECK(res.all_exited_zero());
  CHECK(has(res.ranks[1].out,
            "rank 1 received a message from rank 0 sent as std::vector<double> where int was expected"));
}

TEST_CASE("a rank out of range is an error naming it and the size") {
  const auto res = scenario("range", 2);
  INFO(res.summary());
  CHECK(res.all_exited_zero());
  CHECK(has(res.ranks[0].out, "rank 2 is out of range for a communicator of size 2"));
  CHECK(has(res.ranks[0].out, "rank -1 is out of range for a communicator of size 2"));
}

TEST_CASE("a peer that disconnects makes a receive from it fail, naming it") {
  const auto res = scenario("disconnect", 2);
  INFO(res.summary());
  CHECK(res.all_exited_zero());
  // Rank 1 may end before rank 0 attached its shared memory: then the link named is the socket.
  CHECK((has(res.ranks[0].out, "waits for a message from rank 1 (shared memory on 127.0.0.1)") ||
         has(res.ranks[0].out, "waits for a message from rank 1 (local socket on 127.0.0.1)")));
}

TEST_CASE("a rank that exits right after queueing sends still delivers them all") {
  const auto res = scenario("flush", 2);
  INFO(res.summary());
  CHECK(res.all_exited_zero());
  CHECK(res.ranks[1].out == "PASS\n");
}

TEST_CASE("[big] one vector of 1 GiB + 4 KiB, zero-copy") {
  const auto res = scenario("big", 2, std::chrono::seconds(150));
  INFO(res.summary());
  CHECK(res.all_exited_zero());
}

// The progress engine between real processes: requests, any-source
// fairness and order, probe, mixed blocking and non-blocking order, cancel,
// receives into spans, user tags against the collectives' tag, sendrecv, a
// peer killed during a wait, TCP forced for every size, and hostile peers at
// a rank's listener during a job.
#include <doctest/doctest.h>

#include <arpa/inet.h>
#include <csignal>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include "bad_peer.hpp"
#include "job_harness.hpp"

using rmpi::test::Job;
using rmpi::test::JobResult;
using rmpi::test::run_job;

namespace {
JobResult scenario(const char* mode, int ranks, std::map<int, std::map<std::string, std::string>> env = {},
                   std::chrono::seconds timeout = std::chrono::seconds(60)) {
  return run_job({.ranks = ranks, .program = RMPI_TEST_PROGRAM, .args = {mode}, .extra_env = std::move(env),
                  .timeout = timeout});
}
std::map<int, std::map<std::string, std::string>> every(int ranks, std::map<std::string, std::string> vars) {
  std::map<int, std::map<std::string, std::string>> m;
  for (int r = 0; r < ranks; ++r) m[r] = vars;
  return m;
}
bool has(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }

}  // namespace

TEST_CASE("isend, irecv, test, wait_all, wait_any, test_any among 1, 2 and 4 ranks") {
  for (int n : {1, 2, 4}) {
    CAPTURE(n);
    const auto res = scenario("requests", n);
    INFO(res.summary());
    CHECK(res.all_exited_zero());
  }
}

TEST_CASE("any_source: every worker is served, and per-pair order holds under a flood") {
  const auto fair = scenario("fairness", 5);
  INFO(fair.summary());
  CHECK(fair.all_exited_zero());
  const auto flood = scenario("flood", 4);
  INFO(flood.summary());
  CHECK(flood.all_exited_zero());
}

TEST_CASE("probe and iprobe name source, tag and bytes without receiving") {
  const auto res = scenario("probe", 2);
  INFO(res.summary());
  CHECK(res.all_exited_zero());
}

TEST_CASE("order holds for every mix of blocking and non-blocking sends and receives") {
  const auto res = scenario("mixed", 2);
  INFO(res.summary());
  CHECK(res.all_exited_zero());
}

TEST_CASE("cancel of a posted receive") {
  const auto res = scenario("cancel", 2);
  INFO(res.summary());
  CHECK(res.all_exited_zero());
  CHECK(has(res.ranks[0].out, "wait on an inactive request"));
}

TEST_CASE("request states are reused: more outstanding than the pool, then failed and cancelled ones, nothing stale") {
  for (const char* transport : {"shm", "tcp"}) {
    CAPTURE(transport);
    const auto res = scenario("reuse", 2, every(2, {{"RMPI_TRANSPORT", transport}}));
    INFO(res.summary());
    CHECK(res.all_exited_zero());
    CHECK(has(res.ranks[0].out, "was expected"));  // the type error, reported
  }
}

TEST_CASE("a receive into a span too small names both sizes; the message stays receivable") {
  const auto res = scenario("span", 2);
  INFO(res.summary());
  CHECK(res.all_exited_zero());
  CHECK(has(res.ranks[1].out, "received a message of 40 bytes from rank 0 into a buffer of 16 bytes"));
  CHECK(has(res.ranks[1].out, "4 elements"));
  CHECK(has(res.ranks[1].out, "received a message of 16 bytes from rank 0 into a buffer of 12 bytes"));
}

TEST_CASE("irecv into a span: a window in one buffer, the size error, order, cancel; shared memory and TCP") {
  // Shared memory with the pipelined copy and with CMA pulls, then TCP.
  for (const auto& [transport, cma] : {std::pair{"auto", "0"}, std::pair{"auto", "1"}, std::pair{"tcp", "0"}}) {
    CAPTURE(transport);
    CAPTURE(cma);
    const auto res = scenario("irecv-span", 2, every(2, {{"RMPI_TRANSPORT", transport}, {"RMPI_SHM_CMA", cma}}));
    INFO(res.summary());
    CHECK(res.all_exited_zero());
    CHECK(has(res.ranks[1].out, "received a message of 40 bytes from rank 0 into a buffer of 16 bytes"));
  }
}

TEST_CASE("user Tag{1} never reaches the collectives (their internal tag is 1)") {
  for (int n : {2, 5}) {
    const auto res = scenario("tags", n);
    INFO(res.summary());
    CHECK(res.all_exited_zero());
    CHECK(has(res.ranks[0].out, "tag 32768 is not in 0..32767"));
  }
}

TEST_CASE("sendrecv of 4 MiB around a ring does not deadlock") {
  const auto res = scenario("sendrecv", 3);
  INFO(res.summary());
  CHECK(res.all_exited_zero());
}

TEST_CASE("kill -9 of a peer during a wait: the wait fails naming the rank and host") {
  const auto res = scenario("killed", 2);
  INFO(res.summary());
  CHECK(res.ranks[0].exit_code == 0);
  CHECK(res.ranks[1].signal == SIGKILL);
  CHECK(has(res.ranks[0].out, "rank 0 waits for a message from rank 1 (shared memory on 127.0.0.1)"));
  CHECK(res.no_child_left);
}

TEST_CASE("RMPI_TRANSPORT=tcp: 0 B to 48 MiB, order, and the peer named by host:port") {
  for (const char* mode : {"sizes", "inorder", "mixed"}) {
    CAPTURE(mode);
    const auto res = scenario(mode, 2, every(2, {{"RMPI_TRANSPORT", "tcp"}}));
    INFO(res.summary());
    CHECK(res.all_exited_zero());
  }
  const auto killed = scenario("killed", 2, every(2, {{"RMPI_TRANSPORT", "tcp"}}));
  INFO(killed.summary());
  CHECK(has(killed.ranks[0].out, "waits for a message from rank 1 (127.0.0.1:"));
  const auto bad = scenario("inorder", 2, every(2, {{"RMPI_TRANSPORT", "udp"}}));
  CHECK(has(bad.ranks[0].out, "RMPI_TRANSPORT='udp' is not one of auto, tcp"));
}

TEST_CASE("[big] RMPI_TRANSPORT=tcp: one vector of 1 GiB + 4 KiB") {
  // 2 GiB of memory and 1 GiB checked on each side: slow on a loaded machine.
  const auto res = scenario("big", 2, every(2, {{"RMPI_TRANSPORT", "tcp"}}), std::chrono::seconds(150));
  INFO(res.summary());
  CHECK(res.all_exited_zero());
}

TEST_CASE("garbage and a wrong secret at a rank's listener during the job are dropped; the job goes on") {
  const std::uint16_t port = rmpi::testing::free_port();
  const auto res = scenario("listener-attack", 2,
                            {{0, {{"ATTACK_PORT", std::to_string(port)}}},
                             {1, {{"RMPI_PORT_RANGE", std::to_string(port) + "-" + std::to_string(port)}}}});
  INFO(res.summary());
  CHECK(res.all_exited_zero());
  CHECK(has(res.ranks[1].err, "dropped a connection: "));
  CHECK(has(res.ranks[1].err, "(peer 127.0.0.1:"));
  CHECK(has(res.ranks[1].err, "bad frame magic"));
  CHECK(has(res.ranks[1].err, "1 more bad connection in the last 1.0 s not shown"));
  CHECK(has(res.ranks[1].err, "does not know the job secret"));
}

TEST_CASE("the listener caps connections in their handshake and times them out") {
  const std::uint16_t port = rmpi::testing::free_port();
  Job job({.ranks = 2,
           .program = RMPI_TEST_PROGRAM,
           .args = {"exchange"},
           .extra_env = {{1,
                          {{"RMPI_PORT_RANGE", std::to_string(port) + "-" + std::to_string(port)},
                           {"RMPI_MAX_UNAUTHENTICATED", "2"},
                           {"RMPI_HANDSHAKE_TIMEOUT_MS", "300"}}}}});
  job.start(1);
  const int idle1 = rmpi::testing::connect_loopback(port, std::chrono::seconds(5));
  REQUIRE(idle1 >= 0);
  const int idle2 = rmpi::testing::connect_loopback(port, std::chrono::seconds(2));
  REQUIRE(idle2 >= 0);
  // Both slots are taken (once accepted): a third is closed at once, a
  // wait bounded well below the 300 ms deadline shows it.
  bool refused = false;
  for (int i = 0; i < 50 && !refused; ++i) {
    const int third = rmpi::testing::connect_loopback(port, std::chrono::seconds(2));
    refused = rmpi::testing::closed_by_peer(third, std::chrono::milliseconds(200));
    ::close(third);
  }
  CHECK(refused);
  CHECK(rmpi::testing::closed_by_peer(idle1, std::chrono::seconds(5)));  // timed out
  CHECK(rmpi::testing::closed_by_peer(idle2, std::chrono::seconds(5)));
  ::close(idle1);
  ::close(idle2);
  job.start(0);
  const auto res = job.wait();
  INFO(res.summary());
  REQUIRE(res.all_exited_zero());
  CHECK(has(res.ranks[1].err, "(peer 127.0.0.1:"));
  CHECK((has(res.ranks[1].err, "no handshake within 300 ms") ||
         has(res.ranks[1].err, "connections are already in their handshake")));
}

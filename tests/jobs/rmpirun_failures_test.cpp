// rmpirun under attack and under failure, mid-job: peers with a wrong secret
// and garbage against the nodes and the rendezvous (the job goes on),
// SIGTERM to rmpirun, and a node killed under a running job (everything ends).
#include <doctest/doctest.h>

#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <optional>
#include <regex>
#include <string>
#include <thread>
#include <vector>

#include "bad_peer.hpp"
#include "job_processes.hpp"
#include "running_job.hpp"

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

using rmpi::testing::RunningJob;

namespace {

/// A connector with the wrong secret; the peer must drop it.
void try_wrong_secret(std::uint16_t port) {
  const int fd = rmpi::testing::connect_loopback(port);
  REQUIRE(fd >= 0);
  REQUIRE(rmpi::testing::wrong_secret_handshake(fd));
  CHECK_MESSAGE(rmpi::testing::closed_by_peer(fd),
                "a peer with the wrong secret was not dropped on port " << port);
  ::close(fd);
}

void try_garbage(std::uint16_t port) {
  const int fd = rmpi::testing::connect_loopback(port);
  REQUIRE(fd >= 0);
  const char junk[] = "GET / HTTP/1.0\r\nHost: x\r\n\r\n0123456789abcdef0123456789abcdef";
  REQUIRE(::write(fd, junk, sizeof junk) == static_cast<ssize_t>(sizeof junk));
  CHECK_MESSAGE(rmpi::testing::closed_by_peer(fd),
                "a garbage client was not dropped on port " << port);
  ::close(fd);
}

}  // namespace

TEST_CASE("wrong-secret and garbage peers are dropped while the job goes on") {
  RunningJob job(RMPIRUN_EXE, {"-v", "-n", "2", "-H", "localhost:2", RANK_PROBE_EXE, "ready", "echo"});
  const auto node = job.wait_for(R"(node on localhost up at 127\.0\.0\.1:(\d+))", true);
  const auto node_port = static_cast<std::uint16_t>(std::stoi(node[1].str()));
  const auto rdv = job.wait_for(R"(rendezvous listening on port (\d+))", true);
  const auto rdv_port = static_cast<std::uint16_t>(std::stoi(rdv[1].str()));
  job.wait_for(R"(ready 0\n(.|\n)*ready 1\n|ready 1\n(.|\n)*ready 0\n)", false);

  try_garbage(node_port);
  try_wrong_secret(node_port);
  try_garbage(rdv_port);
  try_wrong_secret(rdv_port);

  // The job is unharmed: rank 0 still gets its stdin and everyone exits 0.
  job.close_stdin();
  const int st = job.wait_exit();
  CHECK(WIFEXITED(st));
  CHECK(WEXITSTATUS(st) == 0);
  CHECK(job.out().find("stdin[]") != std::string::npos);
  // The node reported both drops to the launcher.
  CHECK(job.err().find("failed job-secret authentication") != std::string::npos);
  CHECK(rmpi::testing::leftovers(job.marker()).empty());
}

TEST_CASE("SIGTERM to rmpirun ends every process of the job with status 143") {
  RunningJob job(RMPIRUN_EXE, {"-n", "3", "--oversubscribe", RANK_PROBE_EXE, "ready", "block"});
  job.wait_for(R"((ready \d\n(.|\n)*){3})", false);
  job.signal(SIGTERM);
  const int st = job.wait_exit();
  CHECK(WIFEXITED(st));
  CHECK(WEXITSTATUS(st) == 143);
  CHECK(job.err().find("rmpirun: got SIGTERM") != std::string::npos);
  CHECK(rmpi::testing::leftovers(job.marker()).empty());
}

TEST_CASE("a node killed under a running job ends the job, with nothing left") {
  RunningJob job(RMPIRUN_EXE, {"-n", "2", "-H", "localhost:2", RANK_PROBE_EXE, "ready", "block"});
  job.wait_for(R"((ready \d\n(.|\n)*){2})", false);
  // The local node is rmpirun's child: find it by parent pid and name.
  const pid_t node = rmpi::testing::local_node_of(job.marker(), job.pid());
  REQUIRE(node > 0);
  ::kill(node, SIGKILL);
  const int st = job.wait_exit();
  CHECK(WIFEXITED(st));
  CHECK(WEXITSTATUS(st) != 0);
  CHECK(job.err().find("rmpirun: lost the node on localhost") != std::string::npos);
  CHECK(rmpi::testing::leftovers(job.marker()).empty());
}

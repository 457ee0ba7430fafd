// Every process a rank starts ends with the job, whatever it does (issue 9,
// problems 4-6): a killed rank whose child holds its stdout is reported at
// once; children that call setsid or double-fork end too; kill -9 of a node
// ends its ranks' descendants, locally and over SSH. Each case runs with the
// node's cgroups and without them (RMPI_NODE_CGROUPS=0: the subreaper,
// marker and watchdog fallback), so it holds whatever the machine offers.
#include <doctest/doctest.h>

#include <signal.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <thread>
#include <string>
#include <vector>

#include "job_processes.hpp"
#include "running_job.hpp"
#include "ssh_fixture.hpp"

using namespace std::chrono_literals;
using rmpi::testing::RunningJob;
using rmpi::testing::check_no_leftovers;

namespace {

/// Runs the case once with the node's cgroups allowed and once without.
template <class F>
void with_and_without_cgroups(F&& run_case) {
  for (const char* cgroups : {"1", "0"}) {
    CAPTURE(cgroups);
    ::setenv("RMPI_NODE_CGROUPS", cgroups, 1);  // the local node inherits rmpirun's environment
    run_case();
    ::unsetenv("RMPI_NODE_CGROUPS");
  }
}

/// The job's rank processes named `comm` (children of a node).
std::vector<pid_t> ranks_named(const RunningJob& job, const std::string& comm) {
  std::vector<pid_t> pids;
  for (const auto& [pid, name] : rmpi::testing::children_named(job.marker(), "rmpi-node"))
    if (name == comm) pids.push_back(pid);
  return pids;
}

}  // namespace

TEST_CASE("a killed rank whose child still holds its stdout is reported at once; the child ends") {
  with_and_without_cgroups([] {
    RunningJob job(RMPIRUN_EXE, {"-n", "4", "--oversubscribe", "sh", "-c",
                                 "sleep 300 & echo ready; wait"});
    job.wait_for("(ready\n){4}", false);
    const auto shells = ranks_named(job, "sh");
    REQUIRE(shells.size() == 4);
    ::kill(shells[1], SIGKILL);
    const int st = job.wait_exit(15s);
    CHECK(WIFEXITED(st));
    CHECK(WEXITSTATUS(st) == 137);
    CHECK(job.err().find("killed by signal 9") != std::string::npos);
    check_no_leftovers(job);
  });
}

TEST_CASE("children that call setsid or double-fork end with their rank") {
  with_and_without_cgroups([] {
    // One escapee keeps the rank's stdout, two others do not; the rank exits 0 at once.
    RunningJob job(RMPIRUN_EXE,
                   {"-n", "2", "--oversubscribe", "sh", "-c",
                    "setsid sleep 300 & (sleep 301 >/dev/null 2>&1 </dev/null &); "
                    "setsid sh -c 'sleep 302 & wait' >/dev/null 2>&1 </dev/null & echo ready"});
    const int st = job.wait_exit(15s);
    CHECK(WIFEXITED(st));
    CHECK(WEXITSTATUS(st) == 0);
    CHECK(job.out() == "ready\nready\n");
    check_no_leftovers(job);
  });
}

TEST_CASE("kill -9 of a node ends its ranks and all their descendants") {
  with_and_without_cgroups([] {
    RunningJob job(RMPIRUN_EXE, {"-n", "3", "--oversubscribe", "sh", "-c",
                                 "sleep 300 & setsid sleep 301 & (setsid sleep 302 &); "
                                 "echo ready; wait"});
    job.wait_for("(ready\n){3}", false);
    const pid_t node = rmpi::testing::local_node_of(job.marker(), job.pid());
    REQUIRE(node > 0);
    ::kill(node, SIGKILL);
    const int st = job.wait_exit(15s);
    CHECK(WIFEXITED(st));
    CHECK(WEXITSTATUS(st) != 0);
    CHECK(job.err().find("lost the node on localhost") != std::string::npos);
    check_no_leftovers(job);
  });
}

TEST_CASE("kill -9 of a node over SSH ends its ranks and all their descendants") {
  static rmpi::testing::SshFixture fixture;
  const std::string marker_var = "RMPI_JOB_TEST_MARKER";
  RunningJob job(RMPIRUN_EXE,
                 {"--ssh-args", "-F " + fixture.ssh_config_path() + " -o SendEnv=" + marker_var,
                  "-H", "host1:2,host2:1", "-n", "3", "sh", "-c",
                  "sleep 300 & setsid sleep 301 & (setsid sleep 302 &); echo ready; wait"});
  job.wait_for("(ready\n){3}", false, 90s);  // ssh logins are slow on a loaded machine
  // The remote nodes are the parents of the ranks (the sh processes); kill host1's.
  // A double-forked child reparented to its node (the subreaper) is an "sh"
  // too until it execs sleep: poll (bounded) until only the three ranks remain.
  auto shells = ranks_named(job, "sh");
  for (const auto until = std::chrono::steady_clock::now() + 10s;
       shells.size() != 3 && std::chrono::steady_clock::now() < until;
       shells = ranks_named(job, "sh"))
    std::this_thread::yield();
  REQUIRE(shells.size() == 3);
  pid_t node = -1;
  {
    const std::string stat_path = "/proc/" + std::to_string(shells[0]) + "/stat";
    FILE* f = std::fopen(stat_path.c_str(), "r");
    REQUIRE(f != nullptr);
    int self = 0, ppid = 0;
    char comm[64] = {}, state = 0;
    REQUIRE(std::fscanf(f, "%d (%63[^)]) %c %d", &self, comm, &state, &ppid) == 4);
    std::fclose(f);
    node = ppid;
  }
  REQUIRE(node > 1);
  ::kill(node, SIGKILL);
  const int st = job.wait_exit(30s);
  CHECK(WIFEXITED(st));
  CHECK(WEXITSTATUS(st) != 0);
  CHECK(job.err().find("lost the node on host") != std::string::npos);
  check_no_leftovers(job);
}

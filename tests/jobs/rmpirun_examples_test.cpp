// The rmpi examples as users run them: through rmpirun, on the local host
// (oversubscribed on small machines) and across four SSH "hosts".
#include <doctest/doctest.h>

#include <chrono>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include "job_processes.hpp"
#include "ssh_fixture.hpp"

using rmpi::testing::run_process;
using rmpi::testing::SshFixture;
using namespace std::chrono_literals;

namespace {
const std::string kBin = RMPI_BIN_DIR;

int case_number = 0;

/// Runs rmpirun with a unique marker and checks it leaves nothing behind.
rmpi::testing::ProcessResult rmpirun(std::vector<std::string> args) {
  const std::string marker = "RMPI_JOB_TEST_MARKER=" + std::to_string(::getpid()) + "-" +
                             std::to_string(++case_number);
  std::vector<std::string> argv = {RMPIRUN_EXE, "-x", marker};
  argv.insert(argv.end(), args.begin(), args.end());
  auto r = run_process(argv, {}, 120s);
  const auto left = rmpi::testing::leftovers(marker);
  CHECK_MESSAGE(left.empty(), "processes of the job remain: " << (left.empty() ? "" : left[0]));
  return r;
}

SshFixture& fixture() {
  static SshFixture f;
  return f;
}
}  // namespace

TEST_CASE("collectives-check and ring pass through rmpirun on the local host") {
  for (int n : {1, 2, 3, 5, 8}) {
    CAPTURE(n);
    auto check = rmpirun({"-n", std::to_string(n), "--oversubscribe", kBin + "/collectives-check"});
    CHECK(check.exit_code == 0);
    CHECK(check.out == "OK\n");
    auto ring = rmpirun({"-n", std::to_string(n), "--oversubscribe", kBin + "/ring"});
    CHECK(ring.exit_code == 0);
    CHECK(ring.out.find("ring of " + std::to_string(n) + " ranks") != std::string::npos);
  }
}

TEST_CASE("--iface picks the advertised address on each host: by name, subnet, or a clear error") {
  for (const char* iface : {"lo", "127.0.0.0/8"}) {
    CAPTURE(iface);
    auto r = rmpirun({"-n", "3", "--oversubscribe", "--iface", iface, kBin + "/ring"});
    CHECK(r.exit_code == 0);
    CHECK(r.out.find("ring of 3 ranks") != std::string::npos);
  }
  auto bad = rmpirun({"-n", "2", "--oversubscribe", "--iface", "nosuch0", kBin + "/ring"});
  CHECK(bad.exit_code != 0);
  CHECK(bad.err.find("no interface or address matching 'nosuch0'") != std::string::npos);
}

TEST_CASE("task_farm hands work to whichever worker asks first, at 2, 3 and 5 ranks") {
  for (int n : {2, 3, 5}) {
    CAPTURE(n);
    auto r = rmpirun({"-n", std::to_string(n), "--oversubscribe", kBin + "/task_farm"});
    CHECK(r.exit_code == 0);
    CHECK(r.out.find("task farm: 200 tasks on " + std::to_string(n - 1) + " workers, 23051 primes\n") !=
          std::string::npos);
    CHECK(r.out.find("worker " + std::to_string(n - 1) + " did ") != std::string::npos);
  }
}

TEST_CASE("pi under rmpirun -n 4 prints pi to 10 digits") {
  auto r = rmpirun({"-n", "4", "--oversubscribe", kBin + "/pi"});
  CHECK(r.exit_code == 0);
  CHECK(r.out.find("3.1415926536") != std::string::npos);
}

TEST_CASE("8 ranks over the SSH fixture's four hosts") {
  const std::string hostfile = std::string(RMPI_HOSTFILES_DIR) + "/four-hosts";
  for (const char* map_by : {"slot", "node"}) {
    CAPTURE(map_by);
    auto r = rmpirun({"-f", hostfile, "--ssh-args", "-F " + fixture().ssh_config_path(), "-n",
                      "8", "--map-by", map_by, kBin + "/collectives-check"});
    CHECK(r.exit_code == 0);
    CHECK(r.out == "OK\n");
    CHECK(r.err == "");
  }
  auto ring = rmpirun({"-f", hostfile, "--ssh-args", "-F " + fixture().ssh_config_path(), "-n",
                       "8", kBin + "/ring"});
  CHECK(ring.exit_code == 0);
  CHECK(ring.out.find("ring of 8 ranks") != std::string::npos);
}

TEST_CASE("MPMD: rmpirun -np 1 ring : -np 2 ring-copy runs three ranks of one world over ssh") {
  // A second program: a copy of ring under another name, so the two parts run distinct files
  // that must still form one world (ring's token passes through every rank).
  const std::string copy = fixture().dir() + "/ring-copy";
  std::filesystem::copy_file(kBin + "/ring", copy,
                             std::filesystem::copy_options::overwrite_existing);
  const std::string hostfile = std::string(RMPI_HOSTFILES_DIR) + "/four-hosts";
  auto r = rmpirun({"-f", hostfile, "--ssh-args", "-F " + fixture().ssh_config_path(), "--map-by",
                    "node", "-np", "1", kBin + "/ring", "2", ":", "-np", "2", copy, "2"});
  INFO("stderr: " << r.err);
  CHECK(r.exit_code == 0);
  CHECK(r.out.find("ring of 3 ranks, 2 laps: count = 6") != std::string::npos);
}

TEST_CASE("--restart-every over the SSH fixture: a killed rank restarts on its host and rejoins over TCP") {
  const std::string hostfile = std::string(RMPI_HOSTFILES_DIR) + "/four-hosts";
  // --map-by node: rank 2 runs on host3.
  auto r = rmpirun({"-f", hostfile, "--ssh-args", "-F " + fixture().ssh_config_path(), "-n", "4", "--map-by",
                    "node", "--restart-every", "0.1", "--max-restarts", "2", FAILING_RANK_EXE, "restart_once", "2"});
  INFO(r.out << r.err);
  CHECK(r.exit_code == 0);
  CHECK(r.err.find("rmpirun: rank 2 on host3 was killed by signal 9 (SIGKILL); restarting it in 0.1 s (try 1 of 2)\n") !=
        std::string::npos);
  for (const int survivor : {0, 1, 3}) {
    const std::string s = std::to_string(survivor);
    CHECK(r.out.find("failed " + s + ": 2\n") != std::string::npos);
    CHECK(r.out.find(s + ": back 1 from 2, failed now:\n") != std::string::npos);
    CHECK(r.out.find("restarted 1 got " + std::to_string(10 * survivor) + " from " + s + "\n") != std::string::npos);
    CHECK(r.out.find(s + ": tag 5 from 2: 101\n") != std::string::npos);
  }
}

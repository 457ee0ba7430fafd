// The rmpi examples as users run them: through rmpirun, on the local host
// (oversubscribed on small machines) and across four SSH "hosts".
#include <doctest/doctest.h>

#include <dirent.h>

#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "ssh_fixture.hpp"

using rmpi::testing::run_process;
using rmpi::testing::SshFixture;
using namespace std::chrono_literals;

namespace {
const std::string kBin = RMPI_BIN_DIR;

/// Processes whose environment holds `marker` (ours carry it through -x).
std::vector<int> processes_with(const std::string& marker) {
  std::vector<int> found;
  DIR* d = opendir("/proc");
  if (!d) return found;
  while (dirent* e = readdir(d)) {
    const int pid = std::atoi(e->d_name);
    if (pid <= 0) continue;
    FILE* f = std::fopen(("/proc/" + std::string(e->d_name) + "/environ").c_str(), "r");
    if (!f) continue;
    std::string env;
    char buf[4096];
    for (std::size_t n; (n = std::fread(buf, 1, sizeof buf, f)) > 0;) env.append(buf, n);
    std::fclose(f);
    if (env.find(marker) != std::string::npos) found.push_back(pid);
  }
  closedir(d);
  return found;
}

/// Polls (bounded) until no process carries `marker`; teardown is asynchronous.
bool none_left(const std::string& marker) {
  const auto deadline = std::chrono::steady_clock::now() + 10s;
  while (std::chrono::steady_clock::now() < deadline) {
    if (processes_with(marker).empty()) return true;
    std::this_thread::sleep_for(50ms);
  }
  return false;
}

int case_number = 0;

/// Runs rmpirun with a unique marker and checks it leaves nothing behind.
rmpi::testing::ProcessResult rmpirun(std::vector<std::string> args) {
  const std::string marker = "RMPI_JOB_TEST_MARKER=" + std::to_string(::getpid()) + "-" +
                             std::to_string(++case_number);
  std::vector<std::string> argv = {RMPIRUN_EXE, "-x", marker};
  argv.insert(argv.end(), args.begin(), args.end());
  auto r = run_process(argv, {}, 120s);
  CHECK_MESSAGE(none_left(marker), "processes of the job remain after rmpirun exited");
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

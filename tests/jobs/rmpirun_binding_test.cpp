// rmpirun --bind-to / --map-by / --report-bindings / --display-map / --topology on this host:
// real nodes and ranks; each rank reads its own affinity (sched_getaffinity) and it must be
// what rmpirun reported. The expectations come from this host's topology read here with hwloc.
#include <doctest/doctest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <map>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include <hwloc.h>

#include "running_job.hpp"

namespace {

using rmpi::testing::RunningJob;

const std::string kRmpirun = RMPIRUN_EXE;
const std::string kProbe = BIND_PROBE_EXE;

int count_of(hwloc_obj_type_t type) {
  hwloc_topology_t t = nullptr;
  hwloc_topology_init(&t);
  hwloc_topology_load(t);
  const int n = hwloc_get_nbobjs_by_type(t, type);
  hwloc_topology_destroy(t);
  return n;
}

struct Finished {
  int exit_code = -1;
  std::string out, err;
};

Finished run(std::vector<std::string> args) {
  RunningJob job(kRmpirun, std::move(args));
  job.close_stdin();
  const int status = job.wait_exit();
  check_no_leftovers(job);
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, job.out(), job.err()};
}

/// rank → the capture of `pattern` (group 1 = rank, group 2 = value) in each line of `text`.
std::map<int, std::string> by_rank(const std::string& text, const std::string& pattern) {
  std::map<int, std::string> result;
  const std::regex re(pattern);
  std::istringstream lines(text);
  for (std::string line; std::getline(lines, line);) {
    std::smatch m;
    if (std::regex_search(line, m, re)) result[std::stoi(m[1])] = m[2];
  }
  return result;
}

}  // namespace

TEST_CASE("--bind-to core: each rank runs on its own core, as --report-bindings says") {
  const int cores = count_of(HWLOC_OBJ_CORE);
  REQUIRE(cores >= 1);
  const int n = std::min(cores, 4);
  const auto r = run({"-n", std::to_string(n), "--bind-to", "core", "--report-bindings", kProbe});
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  const auto reported = by_rank(r.err, R"(rmpirun: rank (\d+) on localhost bound to ([0-9,-]+) \(0x[0-9a-f,x]+\))");
  const auto actual = by_rank(r.out, R"(rank (\d+) affinity ([0-9,-]+))");
  REQUIRE(reported.size() == static_cast<std::size_t>(n));
  CHECK(actual == reported);
  std::set<std::string> distinct;
  for (const auto& [rank, cpus] : actual) distinct.insert(cpus);
  CHECK(distinct.size() == static_cast<std::size_t>(n));  // no two ranks share a core
}

TEST_CASE("any program is bound: sh -c 'taskset -pc $$' shows the rank's core") {
  if (::access("/usr/bin/taskset", X_OK) != 0) return;  // util-linux is not installed
  const auto r = run({"-n", "1", "--bind-to", "core", "--report-bindings", "sh", "-c", "taskset -pc $$"});
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  const auto reported = by_rank(r.err, R"(rmpirun: rank (\d+) on localhost bound to ([0-9,-]+) )");
  REQUIRE(reported.count(0));
  CHECK(r.out.find("current affinity list: " + reported.at(0)) != std::string::npos);
}

TEST_CASE("--bind-to none: a rank is not bound and the report says so") {
  const auto r = run({"-n", "1", "--bind-to", "none", "--report-bindings", kProbe});
  REQUIRE(r.exit_code == 0);
  const auto reported = by_rank(r.err, R"(rmpirun: rank (\d+) on localhost not bound \(([0-9,-]+), 0x)");
  const auto actual = by_rank(r.out, R"(rank (\d+) affinity ([0-9,-]+))");
  REQUIRE(reported.size() == 1);
  CHECK(actual == reported);
}

TEST_CASE("without --bind-to, as Open MPI: two ranks that fit get a core each") {
  const int cores = count_of(HWLOC_OBJ_CORE);
  const auto r = run({"-n", "2", "--report-bindings", kProbe});
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  const auto actual = by_rank(r.out, R"(rank (\d+) affinity ([0-9,-]+))");
  REQUIRE(actual.size() == 2);
  if (cores >= 2) {
    const auto reported = by_rank(r.err, R"(rmpirun: rank (\d+) on localhost bound to ([0-9,-]+) )");
    REQUIRE(reported.size() == 2);
    CHECK(actual == reported);
    CHECK(reported.at(0) != reported.at(1));
  } else {
    CHECK(by_rank(r.err, R"(rmpirun: rank (\d+) on localhost (not bound))").size() == 2);
  }
}

TEST_CASE("without --bind-to, ranks that outnumber the cores are not bound") {
  const int cores = count_of(HWLOC_OBJ_CORE);
  const std::string n = std::to_string(cores + 1);
  const auto r = run({"-n", n, "--report-bindings", kProbe});
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  CHECK(by_rank(r.err, R"(rmpirun: rank (\d+) on localhost (not bound))").size() == static_cast<std::size_t>(cores + 1));
}

TEST_CASE("without --bind-to, a mapping the default cannot bind (two ranks per core) runs unbound") {
  const auto r = run({"-n", "2", "--map-by", "ppr:2:core", "--report-bindings", kProbe});
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  CHECK(by_rank(r.err, R"(rmpirun: rank (\d+) on localhost (not bound))").size() == 2);
}

TEST_CASE("each rank learns whether its host runs more ranks than cores (RMPI_YIELD_WHEN_IDLE)") {
  const int cores = count_of(HWLOC_OBJ_CORE);
  const std::string probe = "echo \"rank $RMPI_RANK yield=$RMPI_YIELD_WHEN_IDLE\"";
  const auto fits = run({"-n", "1", "sh", "-c", probe});
  REQUIRE(fits.exit_code == 0);
  CHECK(by_rank(fits.out, R"(rank (\d+) yield=(\d))") == std::map<int, std::string>{{0, "0"}});
  const auto over = run({"-n", std::to_string(cores + 1), "sh", "-c", probe});
  REQUIRE(over.exit_code == 0);
  const auto seen = by_rank(over.out, R"(rank (\d+) yield=(\d))");
  CHECK(seen.size() == static_cast<std::size_t>(cores + 1));
  for (const auto& [rank, yield] : seen) CHECK(yield == "1");
}

TEST_CASE("--display-map prints the rank -> host -> cpus table before the job") {
  const int cores = count_of(HWLOC_OBJ_CORE);
  const auto r = run({"-n", "2", "--oversubscribe", "--bind-to", "core", "--display-map", kProbe});
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  CHECK(r.err.find("rmpirun: job map: 2 ranks\n") != std::string::npos);
  const auto table = by_rank(r.err, R"(^  rank (\d+)  host localhost  cpus ([0-9,-]+) \(0x)");
  REQUIRE(table.size() == 2);
  CHECK((cores >= 2) == (table.at(0) != table.at(1)));
  CHECK(by_rank(r.out, R"(rank (\d+) affinity ([0-9,-]+))") == table);
}

TEST_CASE("bad binding input is one line and runs nothing") {
  const int cores = count_of(HWLOC_OBJ_CORE);
  // Slots enough (-H), cores not: the binding refuses.
  auto r = run({"-H", "localhost:" + std::to_string(cores + 1), "--bind-to", "core", kProbe});
  CHECK(r.exit_code == 1);
  CHECK(r.err == "rmpirun: --bind-to core: host localhost has " + std::to_string(cores) +
                     (cores == 1 ? " core" : " cores") + " but " + std::to_string(cores + 1) +
                     " ranks need " + std::to_string(cores + 1) +
                     " cores; use --oversubscribe, fewer ranks or --bind-to none\n");
  CHECK(r.out.empty());
  r = run({"-n", "1", "--cpus-per-rank", std::to_string(cores + 1), "--bind-to", "core", kProbe});
  CHECK(r.exit_code == 1);
  CHECK(r.err.find("--cpus-per-rank " + std::to_string(cores + 1) + " is more than the ") != std::string::npos);
  r = run({"-n", "1", "--bind-to", "board", kProbe});
  CHECK(r.exit_code == 1);
  CHECK(r.err == "rmpirun: bad value 'board' for --bind-to: expected one of none, hwthread, core, "
                 "l3cache, numa, socket\n");
  r = run({"-n", "1", "--map-by", "ppr:two:core", kProbe});
  CHECK(r.exit_code == 1);
  CHECK(r.err.find("expected ppr:N:RESOURCE with N >= 1") != std::string::npos);
}

TEST_CASE("--topology prints each host's summary") {
  const auto r = run({"--topology", "localhost"});
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  std::smatch m;
  REQUIRE(std::regex_match(r.out, m, std::regex(R"(localhost: (\d+) packages, (\d+) NUMA nodes, (\d+) cores, (\d+) PUs.*\n)")));
  CHECK(std::stoi(m[1]) == count_of(HWLOC_OBJ_PACKAGE));
  CHECK(std::stoi(m[3]) == count_of(HWLOC_OBJ_CORE));
  CHECK(std::stoi(m[4]) == count_of(HWLOC_OBJ_PU));
}

TEST_CASE("rmpi::local_rank, local_size and host_topology in a job") {
  const auto r = run({"-n", "3", "--oversubscribe", kProbe, "rmpi"});
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  const auto lines = by_rank(r.out, R"(rank (\d+) (local .*))");
  REQUIRE(lines.size() == 3);
  // World: every rank is on this host. Split by rank % 2: {0, 2} and {1}.
  CHECK(lines.at(0).starts_with("local 0/3 half 0/2 topology "));
  CHECK(lines.at(1).starts_with("local 1/3 half 0/1 topology "));
  CHECK(lines.at(2).starts_with("local 2/3 half 1/2 topology "));
  CHECK(lines.at(0).find(std::to_string(count_of(HWLOC_OBJ_CORE)) + " cores") != std::string::npos);
}

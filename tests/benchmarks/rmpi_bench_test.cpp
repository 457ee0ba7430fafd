// rmpi-bench through rmpirun: every bench at 2 and 3 ranks with tiny counts,
// its --json lines parsed and checked (fields, sizes, a collective's slowest
// rank not below its mean; not timing), bad input, and RMPI_TRANSPORT. Each
// job carries a marker; none of its processes may remain.
#include <doctest/doctest.h>

// Boost.JSON header-only (Debian ships no libboost_json): its sources, in this one file.
#include <boost/json/src.hpp>
#include <chrono>
#include <cmath>
#include <sstream>
#include <string>
#include <vector>

#include "job_processes.hpp"
#include "ssh_fixture.hpp"

using rmpi::testing::run_process;
using namespace std::chrono_literals;

namespace {

int case_number = 0;

rmpi::testing::ProcessResult rmpirun(std::vector<std::string> args) {
  const std::string marker = "RMPI_JOB_TEST_MARKER=bench-" + std::to_string(::getpid()) + "-" +
                             std::to_string(++case_number);
  std::vector<std::string> argv = {RMPIRUN_EXE, "-x", marker};
  argv.insert(argv.end(), args.begin(), args.end());
  auto r = run_process(argv, {}, 60s);
  CHECK_MESSAGE(!r.timed_out, "rmpirun timed out: " << r.err);
  const auto left = rmpi::testing::leftovers(marker);
  CHECK_MESSAGE(left.empty(), "processes of the job remain: " << (left.empty() ? "" : left[0]));
  return r;
}

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) out.push_back(line);
  return out;
}

double number(const boost::json::value& v) {
  return v.is_double() ? v.as_double() : double(v.as_int64());
}

/// Checks `out` is one JSON object per line for `bench` at `ranks`, at `sizes`.
/// Collectives also report the slowest rank's mean, "usec_max": never below
/// "usec", the mean over ranks of the same per-rank means.
void check_json(const std::string& out, const std::string& bench, int ranks,
                const std::vector<std::int64_t>& sizes) {
  const auto lines = lines_of(out);
  REQUIRE(lines.size() == sizes.size());
  const bool bandwidth = bench == "bw" || bench == "bibw";
  const bool collective = !bandwidth && bench != "latency";
  for (std::size_t i = 0; i < lines.size(); ++i) {
    CAPTURE(lines[i]);
    boost::json::error_code ec;
    const boost::json::value v = boost::json::parse(lines[i], ec);
    REQUIRE(!ec);
    REQUIRE(v.is_object());
    const auto& o = v.as_object();
    CHECK(o.size() == (collective ? 5u : 4u));
    CHECK(o.at("bench").as_string() == bench);
    CHECK(o.at("ranks").as_int64() == ranks);
    CHECK(o.at("bytes").as_int64() == sizes[i]);
    const double value = number(o.at(bandwidth ? "mb_per_s" : "usec"));
    CHECK(std::isfinite(value));
    CHECK(value >= 0.0);
    if (collective) {
      REQUIRE(o.contains("usec_max"));
      const double slowest = number(o.at("usec_max"));
      CHECK(std::isfinite(slowest));
      CHECK(slowest >= value);
    } else {
      CHECK(!o.contains("usec_max"));
    }
  }
}

const std::string kBench = RMPI_BENCH_EXE;

}  // namespace

TEST_CASE("every bench runs at 2 and 3 ranks and prints one JSON line per size") {
  const std::vector<std::string> p2p = {"latency", "bw", "bibw"};
  const std::vector<std::string> collectives = {"bcast",  "reduce",    "allreduce", "barrier",
                                                "gather", "allgather", "alltoall"};
  for (int ranks : {2, 3}) {
    for (const auto& bench : p2p) {
      CAPTURE(ranks);
      CAPTURE(bench);
      // 0 B, 1 B, and both sides of the 64 KiB point where a blocking send waits.
      auto small = rmpirun({"-n", std::to_string(ranks), "--oversubscribe", kBench, bench,
                            "--min-bytes", "0", "--max-bytes", "1", "--iters", "3", "--json"});
      CHECK(small.exit_code == 0);
      CHECK(small.err == "");
      check_json(small.out, bench, ranks, {0, 1});
      auto large =
          rmpirun({"-n", std::to_string(ranks), "--oversubscribe", kBench, bench, "--min-bytes",
                   "32K", "--max-bytes", "128K", "--iters", "2", "--warmup", "1", "--json"});
      CHECK(large.exit_code == 0);
      check_json(large.out, bench, ranks, {32768, 65536, 131072});
    }
    for (const auto& bench : collectives) {
      CAPTURE(ranks);
      CAPTURE(bench);
      auto r =
          rmpirun({"-n", std::to_string(ranks), "--oversubscribe", kBench, bench, "--min-bytes",
                   "0", "--max-bytes", "8", "--iters", "3", "--warmup", "1", "--json"});
      CHECK(r.exit_code == 0);
      CHECK(r.err == "");
      if (bench == "barrier")
        check_json(r.out, bench, ranks, {0});
      else if (bench == "reduce" || bench == "allreduce")
        check_json(r.out, bench, ranks, {4, 8});
      else
        check_json(r.out, bench, ranks, {0, 1, 2, 4, 8});
    }
  }
}

TEST_CASE("without --json, rank 0 prints the OSU table; collectives with a Max column") {
  auto r = rmpirun({"-n", "2", kBench, "latency", "--max-bytes", "4", "--iters", "2"});
  CHECK(r.exit_code == 0);
  const auto lines = lines_of(r.out);
  REQUIRE(lines.size() == 5);
  CHECK(lines[0] == "# rmpi-bench latency: rmpi, 2 ranks");
  CHECK(lines[1] == "# Size       Avg Latency(us)");
  CHECK(lines[2].rfind("1 ", 0) == 0);
  CHECK(lines[4].rfind("4 ", 0) == 0);
  CHECK(lines[4].size() == 28);

  // Collectives: a second column, the slowest rank's mean, never below the mean.
  auto coll = rmpirun({"-n", "3", "--oversubscribe", kBench, "allreduce", "--min-bytes", "4",
                       "--max-bytes", "8", "--iters", "2"});
  CHECK(coll.exit_code == 0);
  const auto table = lines_of(coll.out);
  REQUIRE(table.size() == 4);
  CHECK(table[0] == "# rmpi-bench allreduce: rmpi, 3 ranks");
  CHECK(table[1] == "# Size       Avg Latency(us)   Max Latency(us)");
  for (std::size_t i = 2; i < table.size(); ++i) {
    CAPTURE(table[i]);
    CHECK(table[i].size() == 46);
    std::istringstream in(table[i]);
    std::size_t bytes = 0;
    double avg = -1, max = -1;
    in >> bytes >> avg >> max;
    CHECK(!in.fail());
    CHECK(bytes == (i == 2 ? 4u : 8u));
    CHECK(avg >= 0.0);
    CHECK(max >= avg);
  }
}

TEST_CASE("RMPI_TRANSPORT=tcp runs over TCP; an unknown value is one line naming the values") {
  auto tcp = rmpirun({"-n", "2", "-x", "RMPI_TRANSPORT=tcp", kBench, "bw", "--bytes", "64K",
                      "--iters", "2", "--json"});
  CHECK(tcp.exit_code == 0);
  check_json(tcp.out, "bw", 2, {65536});
  auto automatic = rmpirun(
      {"-n", "2", "-x", "RMPI_TRANSPORT=auto", kBench, "barrier", "--iters", "2", "--json"});
  CHECK(automatic.exit_code == 0);
  auto bad = rmpirun({"-n", "2", "-x", "RMPI_TRANSPORT=infiniband", kBench, "barrier", "--json"});
  CHECK(bad.exit_code != 0);
  CHECK(bad.err.find("RMPI_TRANSPORT='infiniband' is not one of auto, tcp, shm") !=
        std::string::npos);
}

TEST_CASE("bad input: one line from rank 0, naming the option and the valid values; exit 2") {
  auto unknown = rmpirun({"-n", "2", kBench, "pingpong"});
  CHECK(unknown.exit_code == 2);
  CHECK(unknown.out == "");
  const auto err = lines_of(unknown.err);
  REQUIRE(!err.empty());
  CHECK(err[0] ==
        "rmpi-bench: unknown bench 'pingpong'; valid: latency, bw, bibw, bcast, reduce, "
        "allreduce, barrier, gather, allgather, alltoall");
  for (std::size_t i = 1; i < err.size(); ++i) CHECK(err[i].rfind("rmpirun:", 0) == 0);

  auto range = run_process({kBench, "latency", "--max-bytes", "2G"});
  CHECK(range.exit_code == 2);
  CHECK(range.err ==
        "rmpi-bench: --max-bytes: '2G' is out of range; valid: 0 to 1073741824 bytes (or with K, "
        "M, G)\n");

  auto one = rmpirun({"-n", "1", kBench, "latency"});
  CHECK(one.exit_code == 2);
  CHECK(lines_of(one.err).at(0) ==
        "rmpi-bench: latency needs at least 2 ranks, this job has 1 (run it with rmpirun -n 2)");
  auto one_coll = rmpirun({"-n", "1", kBench, "allreduce"});
  CHECK(one_coll.exit_code == 2);
  CHECK(lines_of(one_coll.err).at(0).find("allreduce needs at least 2 ranks") != std::string::npos);

  auto help = run_process({kBench, "--help"});
  CHECK(help.exit_code == 0);
  CHECK(help.out.find("usage: BENCH") != std::string::npos);
}

TEST_CASE("rmpi-init-barrier (what compare times for launch) runs at 4 ranks") {
  auto r = rmpirun({"-n", "4", "--oversubscribe", RMPI_INIT_BARRIER_EXE});
  CHECK(r.exit_code == 0);
  CHECK(r.out == "");
  CHECK(r.err == "");
}

// The frame fuzzer: mutated valid frames and garbage (header fields,
// lengths, truncation), before and after authentication (the test knows the
// job secret), against a node's router, the rendezvous of a running rmpirun
// job and that job's rank 0 listener (in init, while rank 1 waits at a
// gate). Every listener must keep serving good clients, nothing may crash,
// and the job must then complete with nothing left.
//
// RMPI_FAULT_FRAMES (default 100000) sets the number of frames,
// RMPI_FAULT_SEED the seed (printed, so that a failure can be replayed).
#include <signal.h>
#include <sys/wait.h>

#include <fstream>
#include <iostream>
#include <random>

#include <doctest/doctest.h>

#include <rmpi/auth.hpp>

#include "fault_support.hpp"

using namespace rmpi::faults;
using namespace std::chrono_literals;

namespace {

struct Result {
  long frames = 0;
  long connections = 0;
  long unserved = 0;  // good clients that were not served
};

bool alive(pid_t pid) {
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string pid_s, comm;
  char state = 0;
  return stat >> pid_s >> comm >> state && state != 'Z' && state != 'X';
}

// Sends `frames` fuzzed frames to 127.0.0.1:`port`, at most until `deadline`.
Result fuzz(Listener kind, std::uint16_t port, const std::string& secret, long frames,
            std::uint64_t seed, Clock::time_point deadline) {
  FrameFuzzer fuzzer(kind, seed);
  std::mt19937_64 rng(seed ^ 0x5eed);
  const int burst = kind == Listener::router ? 64 : 2;
  Result r;
  while (r.frames < frames && Clock::now() < deadline) {
    Client c(port, 5s);
    ++r.connections;
    if (!c.connected()) {
      ++r.unserved;
      break;  // the listener is gone: no use going on
    }
    if (rng() % 4 == 0) {
      c.send(fuzzer.before_auth());
      ++r.frames;
    } else {
      if (!c.authenticate(secret)) {
        ++r.unserved;
        continue;
      }
      const int n = 1 + static_cast<int>(rng() % burst);
      for (int i = 0; i < n && r.frames < frames; ++i) {
        bool ends = false;
        if (!c.send(fuzzer.after_auth(ends))) break;
        ++r.frames;
        if (ends) break;
      }
    }
    // Every 500 connections a good client must still be served.
    if (r.connections % 500 == 0) {
      Client good(port, 5s);
      if (!good.authenticate(secret)) ++r.unserved;
    }
  }
  return r;
}

}  // namespace

TEST_CASE("fuzzed frames against the router, the rendezvous and a rank listener") {
  Counts counts("fuzz_test");
  const long total = env_long("RMPI_FAULT_FRAMES", 100000);
  const auto seed = static_cast<std::uint64_t>(env_long("RMPI_FAULT_SEED", std::random_device{}() & 0x7fffffff));
  std::cout << "fuzz_test: " << total << " frames, RMPI_FAULT_SEED=" << seed << std::endl;
  const std::string secret = rmpi::auth::make_secret();

  NodeDaemon node(secret);
  GatedJob job(secret);
  struct Target {
    std::string name;
    Listener kind;
    std::uint16_t port;
    pid_t pid;
    long frames;
    std::chrono::seconds budget;  // on a loaded 2-core machine
  };
  const Target targets[] = {
      {"node router", Listener::router, node.port(), node.pid(), total * 50 / 100, 30s},
      {"rendezvous", Listener::rendezvous, job.rendezvous_port, job.rmpirun().pid(), total * 25 / 100, 30s},
      {"rank 0 listener", Listener::rank, job.rank0_port, job.rank0_pid, total - total * 75 / 100, 30s},
  };
  for (std::size_t i = 0; i < std::size(targets); ++i) {
    const Target& t = targets[i];
    const ProcStats before = proc_stats(t.pid);
    const Result r = fuzz(t.kind, t.port, secret, t.frames, seed + i, Clock::now() + t.budget);
    const ProcStats after = proc_stats(t.pid);
    std::cout << "fuzz_test: " << t.name << ": " << r.frames << " frames over " << r.connections
              << " connections; before " << describe(before) << "; after " << describe(after)
              << std::endl;
    counts.frames += r.frames;
    ++counts.runs;
    CHECK_MESSAGE(r.unserved == 0, t.name << ": " << r.unserved << " good clients were not served");
    CHECK_MESSAGE(alive(t.pid), t.name << " died");
    Client good(t.port, 5s);
    CHECK_MESSAGE(good.authenticate(secret), t.name << " no longer serves a good client");
    if (r.unserved != 0 || !alive(t.pid)) ++counts.failures;
  }
  CHECK_MESSAGE(counts.frames >= total / 2,
                "only " << counts.frames << " of " << total << " frames within the time bound");

  // The job goes on: rank 1 joins, both ranks finish, nothing is left.
  job.open_gate();
  const std::string problems = job.finish(60s);
  CHECK_MESSAGE(problems.empty(), problems);
  if (!problems.empty()) ++counts.failures;
  CHECK(node.child().running());
  node.child().signal(SIGTERM);
  const auto st = node.child().wait_exit(20s);
  REQUIRE_MESSAGE(st.has_value(), "the node did not exit on SIGTERM");
  CHECK(WIFEXITED(*st));
}

// Connection floods (bounded in count and time, loopback only) against each
// listener of a job: a node's router, the rendezvous in rmpirun, and rank
// 0's listener during init. A flood of idle connections is capped (past
// RMPI_MAX_UNAUTHENTICATED they are closed at once), a flood of garbage
// connections is dropped while good clients are served, the process's RSS
// and thread count stay bounded, and the job then completes with nothing
// left. Each listener's figures before, at the peak and after are printed.
//
// RMPI_FAULT_FLOOD (default 1000) sets the idle connections per listener,
// twice as many garbage ones follow.
#include <poll.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include <iostream>

#include <doctest/doctest.h>

#include <rmpi/auth.hpp>
#include <rmpi/listener_guard.hpp>

#include "fault_support.hpp"

using namespace rmpi::faults;
using namespace std::chrono_literals;

namespace {

void raise_file_limit() {
  rlimit r{};
  ::getrlimit(RLIMIT_NOFILE, &r);
  r.rlim_cur = r.rlim_max;
  ::setrlimit(RLIMIT_NOFILE, &r);
}

// How many of `clients` the peer closes within `limit` (stops early once `enough` are).
long closed_within(std::vector<Client>& clients, long enough, std::chrono::milliseconds limit) {
  std::vector<bool> closed(clients.size(), false);
  long n = 0;
  const auto deadline = Clock::now() + limit;
  while (n < enough && Clock::now() < deadline) {
    std::vector<pollfd> fds;
    std::vector<std::size_t> which;
    for (std::size_t i = 0; i < clients.size(); ++i)
      if (!closed[i] && clients[i].connected()) {
        fds.push_back({clients[i].fd(), POLLIN, 0});
        which.push_back(i);
      }
    if (fds.empty()) break;
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    if (::poll(fds.data(), fds.size(), static_cast<int>(std::max<long>(1, left.count()))) <= 0) continue;
    for (std::size_t k = 0; k < fds.size(); ++k) {
      if (!fds[k].revents) continue;
      char buf[256];
      const ssize_t r = ::recv(fds[k].fd, buf, sizeof buf, MSG_DONTWAIT);
      if (r == 0 || (r < 0 && errno != EAGAIN && errno != EINTR)) {
        closed[which[k]] = true;
        ++n;
      }
    }
  }
  return n;
}

struct FloodFigures {
  ProcStats before, peak, after;
  long idle = 0, closed_at_once = 0, garbage = 0, good = 0, good_unserved = 0;
};

// The flood against 127.0.0.1:`port`, listened on by process `pid`.
FloodFigures flood(std::uint16_t port, pid_t pid, const std::string& secret, long idle_count) {
  FloodFigures f;
  f.before = proc_stats(pid);
  const auto deadline = Clock::now() + 20s;
  std::vector<Client> idle;
  idle.reserve(static_cast<std::size_t>(idle_count));
  for (long i = 0; i < idle_count && Clock::now() < deadline; ++i) idle.emplace_back(port, 5s);
  f.idle = static_cast<long>(idle.size());
  // Past the cap every one is accepted and closed at once (long before the handshake deadline).
  const long over_cap = std::max<long>(0, f.idle - static_cast<long>(rmpi::listener::kDefaultMaxUnauthenticated));
  f.closed_at_once = closed_within(idle, over_cap, 5s);
  f.peak = proc_stats(pid);
  idle.clear();
  // Garbage connections, with a good client every 100 that must be served.
  const char junk[] = "GET / HTTP/1.0\r\n\r\n0123456789abcdef0123456789abcdef";
  const std::vector<std::byte> garbage(reinterpret_cast<const std::byte*>(junk),
                                       reinterpret_cast<const std::byte*>(junk) + sizeof junk);
  for (long i = 0; i < 2 * idle_count && Clock::now() < deadline + 20s; ++i) {
    Client c(port, 5s);
    c.send(garbage);
    ++f.garbage;
    if (i % 100 == 0) {
      Client good(port, 5s);
      ++f.good;
      if (!good.authenticate(secret)) ++f.good_unserved;
    }
  }
  Client good(port, 5s);
  ++f.good;
  if (!good.authenticate(secret)) ++f.good_unserved;
  f.after = proc_stats(pid);
  return f;
}

void print(const std::string& what, const FloodFigures& f) {
  std::cout << "flood_test: " << what << ": " << f.idle << " idle connections (" << f.closed_at_once
            << " closed at once), " << f.garbage << " garbage ones, " << f.good_unserved << " of "
            << f.good << " good clients unserved\n  before: " << describe(f.before)
            << "\n  peak:   " << describe(f.peak) << "\n  after:  " << describe(f.after) << std::endl;
}

// Bounds every listener must keep under a flood; true when all hold.
bool check_bounded(const std::string& what, const FloodFigures& f) {
  const long over_cap = std::max<long>(0, f.idle - static_cast<long>(rmpi::listener::kDefaultMaxUnauthenticated));
  bool ok = true;
  auto check = [&](bool cond, const std::string& msg) {
    CHECK_MESSAGE(cond, what << ": " << msg);
    ok = ok && cond;
  };
  check(f.closed_at_once >= over_cap, std::to_string(f.closed_at_once) + " of the " +
                                          std::to_string(over_cap) +
                                          " connections past the cap were closed at once");
  check(f.peak.threads <= f.before.threads + 4,
        "threads grew from " + std::to_string(f.before.threads) + " to " + std::to_string(f.peak.threads));
  check(f.peak.rss_kb <= f.before.rss_kb + 64 * 1024,
        "RSS grew from " + std::to_string(f.before.rss_kb) + " to " + std::to_string(f.peak.rss_kb) + " kB");
  check(f.after.threads <= f.before.threads + 4, "threads after: " + std::to_string(f.after.threads));
  check(f.good_unserved == 0, std::to_string(f.good_unserved) + " good clients were not served");
  return ok;
}

void count(Counts& counts, const FloodFigures& f, bool ok) {
  ++counts.runs;
  counts.frames += f.garbage;
  if (!ok) ++counts.failures;
}

}  // namespace

TEST_CASE("a flood against a node's router: capped, bounded, and good clients served") {
  raise_file_limit();
  Counts counts("flood_test");
  const std::string secret = rmpi::auth::make_secret();
  // A long handshake deadline: connections closed at once are closed by the cap.
  NodeDaemon node(secret, {{rmpi::listener::kHandshakeTimeoutEnv, "60000"}});
  const FloodFigures f = flood(node.port(), node.pid(), secret, env_long("RMPI_FAULT_FLOOD", 1000));
  print("node router", f);
  count(counts, f, check_bounded("node router", f));
  CHECK(node.child().running());
}

TEST_CASE("a flood against the rendezvous of rmpirun: capped, bounded, and the job completes") {
  raise_file_limit();
  Counts counts("flood_test");
  const std::string secret = rmpi::auth::make_secret();
  GatedJob job(secret, 2, {{rmpi::listener::kHandshakeTimeoutEnv, "60000"}});
  const FloodFigures f =
      flood(job.rendezvous_port, job.rmpirun().pid(), secret, env_long("RMPI_FAULT_FLOOD", 1000));
  print("rendezvous (rmpirun)", f);
  count(counts, f, check_bounded("rendezvous", f));
  // The node of the job too: flooded, it still serves its job.
  const FloodFigures n = flood(job.node_port, job.node_pid, secret, env_long("RMPI_FAULT_FLOOD", 1000));
  print("node of the job", n);
  count(counts, n, check_bounded("node of the job", n));
  job.open_gate();
  const std::string problems = job.finish(60s);
  CHECK_MESSAGE(problems.empty(), problems);
  if (!problems.empty()) ++counts.failures;
}

// The rank's listener (one epoll thread for the whole job, rmpi/src/rank_listener)
// is held to the same bounds as the node's and the rendezvous'.
TEST_CASE("a flood against a rank's listener during init") {
  raise_file_limit();
  Counts counts("flood_test");
  const std::string secret = rmpi::auth::make_secret();
  GatedJob job(secret, 2, {{rmpi::listener::kHandshakeTimeoutEnv, "60000"}});
  const FloodFigures f = flood(job.rank0_port, job.rank0_pid, secret, env_long("RMPI_FAULT_FLOOD", 1000));
  print("rank 0 listener", f);
  count(counts, f, check_bounded("rank 0 listener", f));
  job.open_gate();
  const std::string problems = job.finish(60s);
  CHECK_MESSAGE(problems.empty(), problems);
  if (!problems.empty()) ++counts.failures;
}

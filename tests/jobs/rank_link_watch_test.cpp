// Death detection of TCP rank links (issue 10, Deliver 5): every rank link
// socket has keepalive on, timed from RMPI_DETECT_TIMEOUT, so that a peer
// host that vanished without a FIN is noticed within the bound. Checked on
// the sockets of a real job from outside (/proc/net/tcp), since at loopback
// the kernel answers the probes of even a stopped or killed peer. A peer
// killed in the middle of a message is a RankFailed that says so.
#include <doctest/doctest.h>

#include <dirent.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <map>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "job_processes.hpp"
#include "running_job.hpp"
#include "socket_options.hpp"

using rmpi::testing::RunningJob;

namespace {

/// The socket inodes a process holds open.
std::set<unsigned long> socket_inodes(pid_t pid) {
  std::set<unsigned long> out;
  const std::string dir = "/proc/" + std::to_string(pid) + "/fd";
  DIR* d = ::opendir(dir.c_str());
  if (!d) return out;
  while (dirent* e = ::readdir(d)) {
    char target[64] = {};
    const std::string path = dir + "/" + e->d_name;
    const ssize_t n = ::readlink(path.c_str(), target, sizeof target - 1);
    if (n <= 0) continue;
    unsigned long inode = 0;
    if (std::sscanf(target, "socket:[%lu]", &inode) == 1) out.insert(inode);
  }
  ::closedir(d);
  return out;
}

/// One row of /proc/net/tcp{,6}.
struct TcpRow {
  std::string local, remote;  // "hexaddr:hexport"
  int state = 0;              // 1 = ESTABLISHED
  unsigned long rx_queue = 0;  // bytes received and not yet read
  int timer = 0;              // 0 none, 1 retransmit, 2 keepalive, 3 TIME_WAIT, 4 zero-window probe
  long when_ticks = 0;        // until the timer fires, in USER_HZ ticks
  unsigned long inode = 0;
};

std::vector<TcpRow> tcp_rows() {
  std::vector<TcpRow> rows;
  for (const char* file : {"/proc/net/tcp", "/proc/net/tcp6"}) {
    std::ifstream in(file);
    std::string line;
    std::getline(in, line);  // header
    while (std::getline(in, line)) {
      std::istringstream is(line);
      TcpRow r;
      std::string slot, st, queues, timer, retransmits, uid, timeout;
      is >> slot >> r.local >> r.remote >> st >> queues >> timer >> retransmits >> uid >> timeout >> r.inode;
      r.state = std::stoi(st, nullptr, 16);
      r.rx_queue = std::stoul(queues.substr(queues.find(':') + 1), nullptr, 16);
      const auto colon = timer.find(':');
      r.timer = std::stoi(timer.substr(0, colon), nullptr, 16);
      r.when_ticks = std::stol(timer.substr(colon + 1), nullptr, 16);
      rows.push_back(r);
    }
  }
  return rows;
}

/// The established TCP sockets of `ranks` whose peer end is also one of theirs: the rank links.
std::vector<TcpRow> rank_links(const std::vector<pid_t>& ranks) {
  std::set<unsigned long> inodes;
  for (const pid_t p : ranks)
    for (const unsigned long i : socket_inodes(p)) inodes.insert(i);
  std::map<std::string, TcpRow> ours;  // by local address
  for (const TcpRow& r : tcp_rows())
    if (r.state == 1 && inodes.count(r.inode)) ours[r.local] = r;
  std::vector<TcpRow> links;
  for (const auto& [local, r] : ours)
    if (ours.count(r.remote)) links.push_back(r);
  return links;
}

}  // namespace

TEST_CASE("keepalive times add up to the detection bound, in whole seconds") {
  using rmpi::detail::keepalive_times;
  const auto five = keepalive_times(std::chrono::seconds(5));
  CHECK(five.idle_s + five.count * five.interval_s == 5);
  const auto minute = keepalive_times(std::chrono::seconds(60));
  CHECK(minute.idle_s + minute.count * minute.interval_s == 60);
  CHECK(minute.interval_s == 10);
  // Below the kernel's 1 s granularity: the shortest it can do.
  const auto short_bound = keepalive_times(std::chrono::milliseconds(300));
  CHECK(short_bound.idle_s == 1);
  CHECK(short_bound.interval_s == 1);
  CHECK(short_bound.count == 3);
}

TEST_CASE("every TCP rank link of a job has keepalive armed within the detection bound") {
  RunningJob job(RMPIRUN_EXE, {"-xRMPI_TRANSPORT=tcp", "-xRMPI_DETECT_TIMEOUT=4", "--oversubscribe", "-n", "3",
                               FAILING_RANK_EXE, "wait", "1"});
  job.wait_for(R"((ready \d\n(.|\n)*){3})", false);
  std::vector<pid_t> ranks;
  for (int r = 0; r < 3; ++r) ranks.push_back(rmpi::testing::local_rank_pid(job, r));
  for (const pid_t p : ranks) REQUIRE(p > 0);
  // Rank 2's barrier opens its links on demand right after "ready": wait (bounded) until one
  // is up and every one is idle (a link with data in flight shows its retransmit timer instead).
  auto idle = [](const std::vector<TcpRow>& links) {
    for (const TcpRow& l : links)
      if (l.timer == 1) return false;
    return !links.empty();
  };
  std::vector<TcpRow> links;
  for (int tries = 0; tries < 500 && !idle(links); ++tries) {
    if (tries > 0) std::this_thread::sleep_for(std::chrono::milliseconds(20));
    links = rank_links(ranks);
  }
  REQUIRE_FALSE(links.empty());
  for (const TcpRow& link : links) {
    CAPTURE(link.local);
    CAPTURE(link.remote);
    CHECK(link.timer == 2);  // keepalive (off by default: no timer on an idle socket)
    CHECK(link.when_ticks <= 4 * ::sysconf(_SC_CLK_TCK));  // idle time from the bound, not 2 hours
  }
  job.signal(SIGTERM);
  job.wait_exit();
  rmpi::testing::check_no_leftovers(job);
}

TEST_CASE("a rank killed in the middle of a message: the receiver's RankFailed names it and the cut") {
  RunningJob job(RMPIRUN_EXE, {"-xRMPI_TRANSPORT=tcp", "--supervise", "--oversubscribe", "-n", "2",
                               FAILING_RANK_EXE, "half_sent", "1"});
  job.wait_for("sending\n", false);
  const pid_t receiver = rmpi::testing::local_rank_pid(job, 0);
  const pid_t sender = rmpi::testing::local_rank_pid(job, 1);
  REQUIRE(receiver > 0);
  REQUIRE(sender > 0);
  // Rank 0 reads its stdin, not the link: wait (bounded) until a part of the
  // 64 MiB (32 KiB, more than any handshake) sits unread at its end, so the
  // kill surely cuts the message.
  auto unread = [&] {
    const std::set<unsigned long> inodes = socket_inodes(receiver);  // the link may be accepted yet
    unsigned long most = 0;
    for (const TcpRow& r : tcp_rows())
      if (r.state == 1 && inodes.count(r.inode)) most = std::max(most, r.rx_queue);
    return most;
  };
  bool cut = false;
  for (int tries = 0; tries < 500 && !(cut = unread() >= (32u << 10)); ++tries)
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  REQUIRE(cut);
  ::kill(sender, SIGKILL);
  job.close_stdin();
  const int st = job.wait_exit();
  REQUIRE(WIFEXITED(st));
  CHECK(WEXITSTATUS(st) == 0);
  INFO(job.out() << job.err());
  CHECK(std::regex_search(job.out(), std::regex("rank 0 saw: .*rank 1.*in the middle of a message")));
  CHECK(job.err().find("rmpirun: rank 1 on localhost was killed by signal 9 (SIGKILL); the job goes on") !=
        std::string::npos);
  rmpi::testing::check_no_leftovers(job);
}

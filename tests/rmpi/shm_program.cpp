// A test program for the shared-memory transport, run as a job by
// test_shm_job.cpp; argv[1] names the scenario. Each rank prints "PASS" when
// its checks held (and "ERROR: ..." for the errors it expected), exits 1
// otherwise.
#include <sched.h>
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <set>
#include <string>
#include <vector>

#include <rmpi/rmpi.hpp>

namespace {

int failures = 0;
void expect(bool ok, const std::string& what) {
  if (!ok) {
    ++failures;
    std::printf("FAIL: %s\n", what.c_str());
  }
}

// Bytes that differ with position and seed, written and checked a word at a
// time (cheap enough for 1 GiB on a loaded machine).
std::uint64_t word_at(std::size_t i, unsigned seed) { return (i + 1) * 0x9E3779B97F4A7C15ull ^ seed; }
std::vector<std::uint8_t> pattern(std::size_t n, unsigned seed) {
  std::vector<std::uint8_t> v(n);
  std::size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    const std::uint64_t w = word_at(i / 8, seed);
    std::memcpy(v.data() + i, &w, 8);
  }
  for (; i < n; ++i) v[i] = static_cast<std::uint8_t>(word_at(i / 8, seed) >> (8 * (i % 8)));
  return v;
}
bool intact(const std::vector<std::uint8_t>& v, std::size_t n, unsigned seed) {
  return v.size() == n && v == pattern(n, seed);
}

// Distinct rmpi segments mapped by this process (its own and its peers').
int shm_mappings() {
  std::ifstream maps("/proc/self/maps");
  std::set<std::string> seen;
  for (std::string line; std::getline(maps, line);) {
    if (line.find("/memfd:rmpi-shm") == std::string::npos && line.find("/dev/shm/rmpi-") == std::string::npos)
      continue;
    // "... 00:01 12345  /memfd:rmpi-shm (deleted)": the inode tells segments apart.
    std::string inode;
    std::size_t field = 0, i = 0;
    while (i < line.size() && field < 5) {
      while (i < line.size() && line[i] == ' ') ++i;
      const std::size_t start = i;
      while (i < line.size() && line[i] != ' ') ++i;
      if (++field == 5) inode = line.substr(start, i - start);
    }
    seen.insert(inode);
  }
  return static_cast<int>(seen.size());
}

// Everyone talks to everyone once.
void all_pairs(const rmpi::Comm& c) {
  for (int r = 0; r < c.size(); ++r)
    if (r != c.id()) rmpi::send(c, r, c.id());
  for (int r = 0; r < c.size(); ++r)
    if (r != c.id()) expect(rmpi::recv<int>(c, r) == r, "hello from every rank");
}

void maps(const rmpi::Comm& c) {
  all_pairs(c);
  std::printf("SHM_MAPPINGS %d\n", shm_mappings());
}

void sizes(const rmpi::Comm& c, bool huge) {
  std::vector<std::size_t> lens{0, 1, 16383, 16384, 16385, 1 << 20, 64u << 20};
  if (huge) lens.push_back(std::size_t{1} << 30);
  if (c.id() > 1) return;
  const int peer = 1 - c.id();
  unsigned seed = 0;
  for (const std::size_t n : lens) {
    if (c.id() == 0) {
      rmpi::send(c, peer, pattern(n, seed));
      expect(intact(rmpi::recv<std::vector<std::uint8_t>>(c, peer), n, seed + 1),
             "echo of " + std::to_string(n) + " bytes");
    } else {
      expect(intact(rmpi::recv<std::vector<std::uint8_t>>(c, peer), n, seed),
             std::to_string(n) + " bytes arrive intact");
      rmpi::send(c, peer, pattern(n, seed + 1));
    }
    seed += 2;
  }
}

// The state letter of /proc/<pid>/stat (S, R, Z...), 0 when there is none.
char process_state(int pid) {
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string s;
  std::getline(stat, s);
  const auto close = s.rfind(')');
  return close != std::string::npos && close + 2 < s.size() ? s[close + 2] : 0;
}

// What `pid` sleeps in ("futex_do_wait", "do_epoll_wait"; empty if unknown).
std::string wchan(int pid) {
  std::ifstream f("/proc/" + std::to_string(pid) + "/wchan");
  std::string s;
  std::getline(f, s);
  return s;
}

// Rank 0: waits (bounded) until rank `pid` sleeps in a kernel function whose
// name contains `where` ("futex", "epoll"); says what it saw last.
bool await_sleep_in(int pid, const std::string& where) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  std::string seen;
  while (std::chrono::steady_clock::now() < deadline) {
    seen = wchan(pid);
    if (seen.find(where) != std::string::npos) {
      std::printf("SLEEPS IN %s\n", seen.c_str());
      return true;
    }
    ::sched_yield();
  }
  expect(false, "rank 1 sleeps in " + where + " (last seen in '" + seen + "')");
  return false;
}

// Rank 1 blocks in a receive until it sleeps (argv[2]: in "futex" or
// "epoll"); rank 0 then sends, and rank 1 must be woken by the message.
void wake(const rmpi::Comm& c, const std::string& where) {
  if (c.id() == 1) {
    rmpi::send(c, 0, static_cast<int>(::getpid()));
    expect(rmpi::recv<int>(c, 0) == 42, "the message that wakes rank 1 arrives intact");
    rmpi::send(c, 0, 43);
  } else if (c.id() == 0) {
    const int pid = rmpi::recv<int>(c, 1);
    await_sleep_in(pid, where);
    rmpi::send(c, 1, 42);
    expect(rmpi::recv<int>(c, 1) == 43, "rank 1 answers once woken");
  }
}

// Rank 0 kills itself with SIGKILL once rank 1 sleeps on its futex in a
// receive; rank 1 must get RankFailed naming rank 0 within the detection
// bound (unless RMPI_SUPERVISED=1, it first waits that bound for the
// launcher: rmpi/failure.hpp).
void kill_wait(const rmpi::Comm& c) {
  if (c.id() == 1) {
    rmpi::send(c, 0, static_cast<int>(::getpid()));
    const auto t0 = std::chrono::steady_clock::now();
    try {
      rmpi::recv<int>(c, 0);
      expect(false, "a receive from a killed rank must fail");
    } catch (const rmpi::RankFailed& e) {
      std::printf("ERROR: %s\n", e.what());
      expect(e.rank() == 0, "RankFailed names rank 0");
    }
    const auto bound = rmpi::detail::detection_bound();
    const auto took = std::chrono::steady_clock::now() - t0;
    expect(took < (rmpi::detail::supervised() ? bound : 2 * bound), "the failure is seen within the detection bound");
    return;
  }
  if (c.id() == 0) {
    await_sleep_in(rmpi::recv<int>(c, 1), "futex");
    std::fflush(stdout);
    ::raise(SIGKILL);
  }
}

// Only ring neighbours talk (small and pipelined messages): each rank links
// to its two neighbours, not to every rank of the node.
void neighbours(const rmpi::Comm& c) {
  const int n = c.size(), right = (c.id() + 1) % n, left = (c.id() + n - 1) % n;
  for (unsigned k = 0; k < 20; ++k) {
    const std::size_t len = k == 10 ? 40000 : 8 + k;
    auto s = rmpi::isend(c, right, pattern(len, static_cast<unsigned>(c.id()) * 100 + k));
    expect(intact(rmpi::recv<std::vector<std::uint8_t>>(c, left), len, static_cast<unsigned>(left) * 100 + k),
           "message " + std::to_string(k) + " from the left neighbour");
    s.wait();
  }
  std::printf("SHM_MAPPINGS %d\n", shm_mappings());
}

// Pairs (2i, 2i+1) first meet by both sending a burst at once (eager and
// pipelined sizes), then every rank sends to rank 0, which receives from any
// source without having linked to most of them: order per pair, nobody lost.
void both_sides(const rmpi::Comm& c) {
  constexpr unsigned kBurst = 60, kToRoot = 30;
  const auto len = [](unsigned k) -> std::size_t { return k % 7 == 3 ? 20000 + k : k * 13 % 300; };
  const int peer = c.id() ^ 1;
  if (peer < c.size()) {
    std::vector<rmpi::Request<>> sends;
    for (unsigned k = 0; k < kBurst; ++k)
      sends.push_back(rmpi::isend(c, peer, pattern(len(k), static_cast<unsigned>(c.id()) * 1000 + k)));
    for (unsigned k = 0; k < kBurst; ++k)
      expect(intact(rmpi::recv<std::vector<std::uint8_t>>(c, peer), len(k), static_cast<unsigned>(peer) * 1000 + k),
             "burst message " + std::to_string(k) + " in order");
    rmpi::wait_all(sends);
  }
  if (c.id() != 0) {
    for (unsigned k = 0; k < kToRoot; ++k) rmpi::send(c, 0, static_cast<int>(k));
    return;
  }
  std::vector<int> next(static_cast<std::size_t>(c.size()), 0);
  for (unsigned i = 0; i < kToRoot * static_cast<unsigned>(c.size() - 1); ++i) {
    const auto [k, st] = rmpi::recv_with_status<int>(c, rmpi::any_source);
    expect(st.source > 0 && st.source < c.size(), "a source that exists");
    if (st.source <= 0 || st.source >= c.size()) continue;
    expect(k == next[static_cast<std::size_t>(st.source)]++, "in order from rank " + std::to_string(st.source));
  }
  for (int r = 1; r < c.size(); ++r)
    expect(next[static_cast<std::size_t>(r)] == static_cast<int>(kToRoot), "all from rank " + std::to_string(r));
}

// Rank 1 waits for a message from rank 0, with which it never exchanged
// anything; rank 2 (told both pids) kills rank 0 once rank 1 sleeps.
void kill_unlinked(const rmpi::Comm& c) {
  if (c.id() == 0) {
    rmpi::send(c, 2, static_cast<int>(::getpid()));
    rmpi::recv<int>(c, 2);  // never comes: killed first
  } else if (c.id() == 1) {
    rmpi::send(c, 2, static_cast<int>(::getpid()));
    try {
      rmpi::recv<int>(c, 0);
      expect(false, "a receive from a killed rank must fail");
    } catch (const rmpi::RankFailed& e) {
      expect(e.rank() == 0, "the failure names rank 0");
      std::printf("ERROR: %s\n", e.what());
    }
  } else if (c.id() == 2) {
    const int victim = rmpi::recv<int>(c, 0);
    // Asleep in its receive: on the futex or in epoll ("futex_do_wait", "do_epoll_wait").
    await_sleep_in(rmpi::recv<int>(c, 1), "wait");
    ::kill(victim, SIGKILL);  // a rank of this job, which told us its pid
  }
  std::fflush(stdout);
}

// Rank 1 posts a receive of 64 MiB; rank 0 posts its send (to be pulled
// with CMA into the posted buffer) and kills itself at once. Rank 1 makes no
// progress until rank 0 is dead, so the pull finds no process: the receive
// fails naming rank 0 and is never completed.
void kill_pull(const rmpi::Comm& c) {
  constexpr std::size_t kBig = std::size_t{64} << 20;
  if (c.id() == 1) {
    const int pid = rmpi::recv<int>(c, 0);
    std::vector<std::uint8_t> into(kBig, 0);
    auto received = rmpi::irecv(c, 0, std::span<std::uint8_t>(into));
    rmpi::send(c, 0, 1);  // posted
    // Bounded: until rank 0 is a zombie or gone.
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    for (;;) {
      const char state = process_state(pid);
      if (state == 0 || state == 'Z') break;
      if (std::chrono::steady_clock::now() > deadline) {
        expect(false, "rank 0 did not die");
        return;
      }
      ::sched_yield();
    }
    try {
      (void)received.wait();
      expect(false, "a receive whose sender was killed before the pull must fail");
    } catch (const rmpi::RankFailed& e) {
      std::printf("RANK_FAILED %d: %s\n", e.rank(), e.what());
    }
    return;
  }
  if (c.id() == 0) {
    rmpi::send(c, 1, static_cast<int>(::getpid()));
    const auto big = pattern(kBig, 3);
    (void)rmpi::recv<int>(c, 1);
    auto sent = rmpi::isend(c, 1, big);
    std::fflush(stdout);
    ::raise(SIGKILL);
  }
}

}  // namespace

int main(int argc, char** argv) {
  try {
    rmpi::Comm c = rmpi::init(argc, argv);
    const std::string mode = argc > 1 ? argv[1] : "";
    if (mode == "maps") maps(c);
    else if (mode == "sizes") sizes(c, false);
    else if (mode == "huge") sizes(c, true);
    else if (mode == "kill-wait") kill_wait(c);
    else if (mode == "neighbours") neighbours(c);
    else if (mode == "both-sides") both_sides(c);
    else if (mode == "kill-unlinked") kill_unlinked(c);
    else if (mode == "wake") wake(c, argc > 2 ? argv[2] : "");
    else if (mode == "kill-pull") kill_pull(c);
    else expect(false, "unknown scenario");
    if (mode != "kill-wait" && mode != "kill-unlinked" && mode != "kill-pull") rmpi::finish();
  } catch (const std::exception& e) {
    std::printf("EXCEPTION: %s\n", e.what());
    return 1;
  }
  if (failures == 0) std::printf("PASS\n");
  std::fflush(stdout);
  return failures == 0 ? 0 : 1;
}

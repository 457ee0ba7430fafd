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

// Rank 0 kills itself with SIGKILL once rank 1 sleeps in its receive.
void kill_wait(const rmpi::Comm& c) {
  if (c.id() == 1) {
    rmpi::send(c, 0, static_cast<int>(::getpid()));
    std::fflush(stdout);
    const auto t0 = std::chrono::steady_clock::now();
    try {
      rmpi::recv<int>(c, 0);
      expect(false, "a receive from a killed rank must fail");
    } catch (const rmpi::Error& e) {
      std::printf("ERROR: %s\n", e.what());
    }
    expect(std::chrono::steady_clock::now() - t0 < std::chrono::seconds(10), "the failure is seen within 10 s");
    return;
  }
  if (c.id() == 0) {
    const int pid = rmpi::recv<int>(c, 1);
    // Wait (bounded) until rank 1 is asleep (state S) in its receive.
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    int sleeping_seen = 0;
    while (std::chrono::steady_clock::now() < deadline && sleeping_seen < 3) {
      sleeping_seen = process_state(pid) == 'S' ? sleeping_seen + 1 : 0;
      ::sched_yield();
    }
    std::fflush(stdout);
    ::raise(SIGKILL);
  }
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
    else if (mode == "kill-pull") kill_pull(c);
    else expect(false, "unknown scenario");
    if (mode != "kill-wait" && mode != "kill-pull") rmpi::finish();
  } catch (const std::exception& e) {
    std::printf("EXCEPTION: %s\n", e.what());
    return 1;
  }
  if (failures == 0) std::printf("PASS\n");
  std::fflush(stdout);
  return failures == 0 ? 0 : 1;
}

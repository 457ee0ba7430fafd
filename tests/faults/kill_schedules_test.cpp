// Randomized kill -9 and SIGSTOP schedules against ranks, nodes and the
// launcher (issue 9). Each run starts a job of 1-5 ranks over two local nodes
// (each rank a shell with a child, so containment is exercised), waits until
// a random number of ranks are up, then plays one schedule. It asserts that
// nothing crashed, that rmpirun ended within its bound, that its exit status
// is the one its first reported failure implies (and that this failure is
// one the schedule allows), and that no process of the job is left.
//
// Half the runs turn the node's cgroups off (RMPI_NODE_CGROUPS=0), so the
// fallback containment is exercised on machines that offer cgroups too.
//
// Seeded and reproducible: `--seed S` (printed), `--runs N` (default 50;
// CMake option RMPI_FAULT_KILL_RUNS, e.g. 1000). The last line gives the counts.
#define DOCTEST_CONFIG_IMPLEMENT
#include <doctest/doctest.h>

#include <poll.h>
#include <signal.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <map>
#include <optional>
#include <random>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "fault_support.hpp"
#include "job_processes.hpp"
#include "running_job.hpp"

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;
using rmpi::testing::RunningJob;

namespace {

int g_runs = 50;
std::uint64_t g_seed = 0;
int g_done = 0, g_failed = 0;
std::map<std::string, int> g_kinds;

enum class Schedule {
  kill_rank,            // kill -9 of a rank (then maybe of another)
  kill_node,            // kill -9 of a node
  kill_launcher,        // kill -9 of rmpirun
  stop_rank,            // SIGSTOP of a rank (then maybe kill -9 of another): --timeout ends it
  stop_node_then_cont,  // SIGSTOP of a node until the timeout fires, then SIGCONT
  stop_node_then_kill,  // SIGSTOP of a node until the timeout fires, then kill -9
  stop_launcher_kill_rank,  // SIGSTOP rmpirun, kill -9 a rank meanwhile, SIGCONT
  stop_launcher_then_kill,  // SIGSTOP rmpirun, then kill -9 it
};
constexpr const char* kNames[] = {"kill-rank",          "kill-node",
                                  "kill-launcher",      "stop-rank",
                                  "stop-node-cont",     "stop-node-kill",
                                  "stop-launcher-kill-rank", "stop-launcher-kill"};

/// The value of `name` in a process's initial environment, or "".
std::string env_of(pid_t pid, const std::string& name) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/environ", std::ios::binary);
  std::string env((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const std::string key = name + "=";
  for (std::size_t pos = 0; pos < env.size();) {
    std::size_t end = env.find('\0', pos);
    if (end == std::string::npos) end = env.size();
    if (env.compare(pos, key.size(), key) == 0) return env.substr(pos + key.size(), end - pos - key.size());
    pos = end + 1;
  }
  return {};
}

/// rank → pid of the rank's shell (children of a node).
std::map<int, pid_t> rank_pids(const RunningJob& job) {
  std::map<int, pid_t> out;
  for (const auto& [pid, comm] : rmpi::testing::children_named(job.marker(), "rmpi-node"))
    if (comm == "sh") {
      const std::string r = env_of(pid, "RMPI_RANK");
      if (!r.empty()) out[std::stoi(r)] = pid;
    }
  return out;
}

/// The job's local nodes (children of rmpirun).
std::vector<pid_t> node_pids(const RunningJob& job) {
  std::vector<pid_t> out;
  for (const auto& [pid, comm] : rmpi::testing::children_named(job.marker(), "rmpirun"))
    if (comm == "rmpi-node") out.push_back(pid);
  return out;
}

bool gone(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string stat((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const auto close = stat.rfind(')');
  return close == std::string::npos || stat[close + 2] == 'Z';
}

/// Waits (bounded) until `pid` has ended; false if it has not within `limit`.
/// A pidfd becomes readable when the process exits (zombie or reaped).
bool wait_gone(pid_t pid, std::chrono::milliseconds limit) {
  const int fd = static_cast<int>(::syscall(SYS_pidfd_open, pid, 0));
  if (fd < 0) return gone(pid);  // ESRCH: already reaped
  pollfd p{fd, POLLIN, 0};
  const int n = ::poll(&p, 1, static_cast<int>(limit.count()));
  ::close(fd);
  return n > 0 || gone(pid);
}

/// The first failure rmpirun reported, as (kind, detail, implied status).
struct Failure {
  std::string kind;  // "rank", "node", "timeout"
  int rank = -1;
  int status = -1;
};
std::optional<Failure> first_failure(const std::string& err) {
  static const std::regex line(
      R"(rmpirun: (?:rank (\d+) on \S+ (?:was killed by signal (\d+)|exited with status (\d+))|(lost the node)|(job timed out)))");
  std::smatch m;
  if (!std::regex_search(err, m, line)) return std::nullopt;
  Failure f;
  if (m[1].matched) {
    f.kind = "rank";
    f.rank = std::stoi(m[1].str());
    f.status = m[2].matched ? 128 + std::stoi(m[2].str()) : std::stoi(m[3].str());
  } else if (m[4].matched) {
    f.kind = "node";
    f.status = 1;
  } else {
    f.kind = "timeout";
    f.status = 124;
  }
  return f;
}

bool crashed(const std::string& err) {
  for (const char* sign : {"terminate called", "Segmentation fault", "Aborted", "core dumped",
                           "AddressSanitizer", "std::system_error", "what():"})
    if (err.find(sign) != std::string::npos) return true;
  return false;
}

/// One run of one schedule; false (with the reason) when an assertion fails.
bool run_once(int index, std::string& why) {
  std::mt19937_64 rng(g_seed + static_cast<std::uint64_t>(index));
  auto pick = [&](int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng); };
  const auto schedule = static_cast<Schedule>(pick(0, 7));
  const int n = std::vector<int>{1, 2, 3, 5}[static_cast<std::size_t>(pick(0, 3))];
  const bool stops_job = schedule == Schedule::stop_rank ||
                         schedule == Schedule::stop_node_then_cont ||
                         schedule == Schedule::stop_node_then_kill;
  // Only a stopped rank or node legitimately waits: --timeout bounds it.
  const std::string timeout = stops_job ? "1.5" : "30";
  // Containment with the node's cgroups, or the fallback alone (subreaper, marker, watchdog).
  const bool cgroups = pick(0, 1) == 1;
  ::setenv("RMPI_NODE_CGROUPS", cgroups ? "1" : "0", 1);  // the local nodes inherit it
  ++g_kinds[kNames[static_cast<int>(schedule)]];
  std::ostringstream what;
  what << "run " << index << ": " << kNames[static_cast<int>(schedule)] << ", " << n << " ranks, "
       << (cgroups ? "cgroups" : "no cgroups");

  RunningJob job(RMPIRUN_EXE, {"-H", "localhost:3,127.0.0.1:3", "--map-by", "node", "-n",
                               std::to_string(n), "--timeout", timeout, "--kill-grace", "0.3",
                               "sh", "-c", "sleep 300 & echo up $RMPI_RANK; wait"});
  // Act once `up` ranks are running (all of them when the schedule needs a second rank).
  const int up = std::max(1, pick(1, n));
  std::string pattern;
  for (int i = 0; i < up; ++i) pattern += "up \\d+\n(.|\n)*";
  if (!job.saw(pattern, false, 20s)) {
    why = what.str() + ": the ranks never came up; stderr: " + job.err();
    return false;
  }
  auto ranks = rank_pids(job);
  const auto nodes = node_pids(job);
  if (ranks.empty() || nodes.empty()) {
    why = what.str() + ": no rank or node process found";
    return false;
  }
  auto random_rank = [&](int except) {
    std::vector<int> live;
    for (auto& [r, pid] : ranks)
      if (r != except) live.push_back(r);
    return live.empty() ? -1 : live[static_cast<std::size_t>(pick(0, static_cast<int>(live.size()) - 1))];
  };
  const int target = random_rank(-1);
  const pid_t node = nodes[static_cast<std::size_t>(pick(0, static_cast<int>(nodes.size()) - 1))];
  std::set<std::string> allowed;  // first failures this schedule may report
  bool launcher_killed = false;
  int second = -1;
  what << ", target rank " << target;
  switch (schedule) {
    case Schedule::kill_rank:
      ::kill(ranks[target], SIGKILL);
      allowed.insert("rank " + std::to_string(target) + " 137");
      if (pick(0, 1) && (second = random_rank(target)) >= 0) {
        ::kill(ranks[second], SIGKILL);
        allowed.insert("rank " + std::to_string(second) + " 137");
      }
      break;
    case Schedule::kill_node:
      ::kill(node, SIGKILL);
      allowed.insert("node 1");
      break;
    case Schedule::kill_launcher:
      job.signal(SIGKILL);
      launcher_killed = true;
      break;
    case Schedule::stop_rank:
      ::kill(ranks[target], SIGSTOP);
      allowed.insert("timeout 124");
      if (pick(0, 1) && (second = random_rank(target)) >= 0) {
        ::kill(ranks[second], SIGKILL);
        allowed.insert("rank " + std::to_string(second) + " 137");
      }
      break;
    case Schedule::stop_node_then_cont:
    case Schedule::stop_node_then_kill:
      ::kill(node, SIGSTOP);
      allowed.insert("timeout 124");
      if (!job.saw("job timed out", true, 10s)) {
        ::kill(node, SIGCONT);
        why = what.str() + ": no timeout while a node was stopped; stderr: " + job.err();
        return false;
      }
      ::kill(node, schedule == Schedule::stop_node_then_cont ? SIGCONT : SIGKILL);
      break;
    case Schedule::stop_launcher_kill_rank:
      job.signal(SIGSTOP);
      ::kill(ranks[target], SIGKILL);
      allowed.insert("rank " + std::to_string(target) + " 137");
      wait_gone(ranks[target], 5s);
      job.signal(SIGCONT);
      break;
    case Schedule::stop_launcher_then_kill:
      job.signal(SIGSTOP);
      job.signal(SIGKILL);
      launcher_killed = true;
      break;
  }
  if (second >= 0) what << ", then rank " << second;

  const auto status = job.try_wait_exit(launcher_killed ? 10s : 25s);
  if (!status) {
    why = what.str() + ": rmpirun did not end within its bound; stderr: " + job.err();
    return false;
  }
  const std::string err = job.err();
  if (crashed(err)) {
    why = what.str() + ": something crashed; stderr: " + err;
    return false;
  }
  if (launcher_killed) {
    if (!WIFSIGNALED(*status) || WTERMSIG(*status) != SIGKILL) {
      why = what.str() + ": rmpirun was killed but ended otherwise";
      return false;
    }
  } else {
    const auto failure = first_failure(err);
    if (!failure) {
      why = what.str() + ": no failure reported; stderr: " + err;
      return false;
    }
    const std::string first = failure->kind == "rank"
                                  ? "rank " + std::to_string(failure->rank) + " " +
                                        std::to_string(failure->status)
                                  : failure->kind + " " + std::to_string(failure->status);
    if (!allowed.count(first)) {
      why = what.str() + ": first failure '" + first + "' is not one this schedule causes; stderr: " + err;
      return false;
    }
    if (!WIFEXITED(*status) || WEXITSTATUS(*status) != failure->status) {
      why = what.str() + ": exit status " +
            std::to_string(WIFEXITED(*status) ? WEXITSTATUS(*status) : -WTERMSIG(*status)) +
            " is not the first failure's (" + first + "); stderr: " + err;
      return false;
    }
  }
  const auto left = rmpi::testing::leftovers(job.marker(), 10s);
  if (!left.empty()) {
    why = what.str() + ": processes of the job left:";
    for (const auto& l : left) why += "\n  " + l;
    return false;
  }
  return true;
}

}  // namespace

TEST_CASE("randomized kill -9 and SIGSTOP schedules against ranks, nodes and the launcher") {
  std::printf("kill/stop schedules: seed %llu, %d runs\n", static_cast<unsigned long long>(g_seed),
              g_runs);
  for (int i = 0; i < g_runs; ++i) {
    std::string why;
    const bool ok = run_once(i, why);
    ++g_done;
    if (!ok) {
      ++g_failed;
      std::fprintf(stderr, "FAILED %s\n(reproduce: --seed %llu)\n", why.c_str(),
                   static_cast<unsigned long long>(g_seed));
    }
    CHECK_MESSAGE(ok, why);
  }
}

int main(int argc, char** argv) {
  g_seed = static_cast<std::uint64_t>(std::chrono::system_clock::now().time_since_epoch().count());
  if (const char* runs = std::getenv("RMPI_FAULT_KILL_RUNS")) g_runs = std::atoi(runs);
  std::vector<char*> rest = {argv[0]};
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--runs" && i + 1 < argc) g_runs = std::atoi(argv[++i]);
    else if (a == "--seed" && i + 1 < argc) g_seed = std::strtoull(argv[++i], nullptr, 10);
    else rest.push_back(argv[i]);
  }
  // The watchdog: a hung run fails the suite (each run is bounded well below this).
  const unsigned budget = 60u + 40u * static_cast<unsigned>(g_runs);
  std::signal(SIGALRM, [](int) {
    static const char msg[] = "kill schedules: watchdog: the suite hung\n";
    (void)!::write(2, msg, sizeof msg - 1);
    ::_exit(124);
  });
  ::alarm(budget);
  rmpi::faults::Counts counts("kill_schedules_test");
  doctest::Context ctx(static_cast<int>(rest.size()), rest.data());
  const int result = ctx.run();
  counts.runs = g_done;
  counts.failures = g_failed + (result != 0 && g_failed == 0 ? 1 : 0);
  std::string kinds;
  for (const auto& [k, c] : g_kinds) kinds += " " + k + "=" + std::to_string(c);
  std::printf("kill/stop schedules: seed %llu: %d runs, %d failures (%s )\n",
              static_cast<unsigned long long>(g_seed), g_done, g_failed, kinds.c_str() + 1);
  return result;
}

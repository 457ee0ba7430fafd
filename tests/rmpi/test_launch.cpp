// The programmatic launch path: the config builders, launch's validation,
// launches from this test binary (a rank that fails, a clean run, no_wait),
// and launch-demo run as a real process in its own session, which must exit
// 0 with its result and leave no process of its session behind.
#include <doctest/doctest.h>

#include <dirent.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <future>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

#include <rmpi/error.hpp>
#include <rmpi/launch.hpp>
#include <rmpi/places.hpp>
#include <rmpi/rmpi.hpp>

#include "process_exit.hpp"

namespace rp = rmpi::places;
using Clock = std::chrono::steady_clock;

namespace {

// args = (k): every rank contributes k * (rank + 1); rank 0 reports the sum back
// to the launcher as (sum s) before finishing.
void sum_worker(rp::PlaceChannel ch) {
  auto [comm, args, tc] = rmpi::init(ch);
  const std::int64_t k = args[0].as_int();
  const std::int64_t total = rmpi::allreduce(comm, rmpi::op::sum, k * (comm.id() + 1));
  if (comm.id() == 0) tc.channel().put(rp::list(rp::sym("sum"), total));
  rmpi::finish(comm, tc);
}
RMPI_PLACE(sum_worker);

// Rank 1 fails after init; the others wait in a barrier that never completes.
void failing_worker(rp::PlaceChannel ch) {
  auto [comm, args, tc] = rmpi::init(ch);
  if (comm.id() == 1) ::_exit(3);
  rmpi::barrier(comm);
  rmpi::finish(comm, tc);
}
RMPI_PLACE(failing_worker);

// Rank 1 calls std::exit(9) after init; the others wait on it in a barrier.
void exiting_worker(rp::PlaceChannel ch) {
  auto [comm, args, tc] = rmpi::init(ch);
  if (comm.id() == 1) std::exit(9);
  rmpi::barrier(comm);
  rmpi::finish(comm, tc);
}
RMPI_PLACE(exiting_worker);

// Rank 0 returns without rmpi::finish(comm, tc).
void unfinished_worker(rp::PlaceChannel ch) {
  auto [comm, args, tc] = rmpi::init(ch);
  rmpi::barrier(comm);
}
RMPI_PLACE(unfinished_worker);

// Rank 1 says (ready) after init and waits for (go); the others wait on it in a barrier.
void stoppable_worker(rp::PlaceChannel ch) {
  auto [comm, args, tc] = rmpi::init(ch);
  if (comm.id() == 1) {
    tc.channel().put(rp::list(rp::sym("ready")));
    (void)tc.get("go");
  }
  rmpi::barrier(comm);
  rmpi::finish(comm, tc);
}
RMPI_PLACE(stoppable_worker);

const bool place_mode = rp::init_at_startup();

rmpi::DefaultConfig config_for(const std::string& func, rp::Value args) {
  return rmpi::build_default_config(
      {.node_path = RMPI_NODE_EXE, .mpi_func = func, .mpi_args = std::move(args)});
}

std::string error_of(const std::function<void()>& fn) {
  try {
    fn();
  } catch (const rmpi::Error& e) {
    return e.what();
  }
  return "";
}

// Processes (not zombies) whose session id is `sid`.
std::vector<int> live_in_session(int sid) {
  std::vector<int> out;
  DIR* d = ::opendir("/proc");
  if (!d) return out;
  while (dirent* ent = ::readdir(d)) {
    const int pid = std::atoi(ent->d_name);
    if (pid <= 0) continue;
    std::ifstream f(std::string("/proc/") + ent->d_name + "/stat");
    std::string stat;
    if (!std::getline(f, stat)) continue;
    const auto close = stat.rfind(')');
    if (close == std::string::npos) continue;
    std::istringstream rest(stat.substr(close + 2));
    char state = 0;
    int ppid = 0, pgrp = 0, session = 0;
    rest >> state >> ppid >> pgrp >> session;
    if (session == sid && state != 'Z') out.push_back(pid);
  }
  ::closedir(d);
  return out;
}

struct Run {
  int status = -1;
  std::string out;
  bool timed_out = false;
};

// Runs `exe` in a new session with stdout+stderr in a pipe, reading until EOF
// (every process of the session that holds the pipe has ended) or `limit`.
Run run_in_session(const char* exe, std::chrono::seconds limit, int& sid) {
  int fds[2];
  REQUIRE(::pipe2(fds, O_CLOEXEC) == 0);
  const pid_t pid = ::fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    ::setsid();
    ::dup2(fds[1], 1);
    ::dup2(fds[1], 2);
    ::execl(exe, exe, static_cast<char*>(nullptr));
    ::_exit(127);
  }
  sid = pid;
  ::close(fds[1]);
  Run r;
  const auto deadline = Clock::now() + limit;
  char buf[4096];
  for (;;) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    if (left.count() <= 0) {
      r.timed_out = true;
      break;
    }
    pollfd p{fds[0], POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) continue;
    const ssize_t got = ::read(fds[0], buf, sizeof buf);
    if (got <= 0) break;
    r.out.append(buf, static_cast<std::size_t>(got));
  }
  ::close(fds[0]);
  if (r.timed_out) ::kill(-pid, SIGKILL);
  int st = 0;
  ::waitpid(pid, &st, 0);
  r.status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
  return r;
}

}  // namespace

TEST_CASE("make_localhost_config: localhost, consecutive ports or 0, name + i, id i") {
  const auto c = rmpi::make_localhost_config(3, 6340, "worker");
  REQUIRE(c.size() == 3);
  for (int i = 0; i < 3; ++i) {
    CHECK(c[i].host == "localhost");
    CHECK(c[i].port == 6340 + i);
    CHECK(c[i].name == "worker" + std::to_string(i));
    CHECK(c[i].id == i);
    CHECK_FALSE(c[i].overrides.has_value());
  }
  for (const auto& e : rmpi::make_localhost_config(4, 0, "w")) CHECK(e.port == 0);
  CHECK(rmpi::make_localhost_config(0, 0, "w").empty());
  CHECK_THROWS_AS(rmpi::make_localhost_config(-1, 0, "w"), rmpi::ConfigError);
  CHECK_THROWS_AS(rmpi::make_localhost_config(2, 65535, "w"), rmpi::ConfigError);
}

TEST_CASE("make_remote_config: cnt entries per host, host-major ids") {
  const auto c = rmpi::make_remote_config({"a", "b"}, 2, 7000, "r");
  REQUIRE(c.size() == 4);
  const char* hosts[] = {"a", "a", "b", "b"};
  const int ports[] = {7000, 7001, 7000, 7001};
  for (int i = 0; i < 4; ++i) {
    CHECK(c[i].host == hosts[i]);
    CHECK(c[i].port == ports[i]);
    CHECK(c[i].name == "r" + std::to_string(i));
    CHECK(c[i].id == i);
  }
  for (const auto& e : rmpi::make_remote_config({"a", "b", "c"}, 1, 0, "r")) CHECK(e.port == 0);
  CHECK_THROWS_AS(rmpi::make_remote_config({"a", ""}, 1, 0, "r"), rmpi::ConfigError);
}

TEST_CASE("build_default_config fills node_path and mpi_module, keeps what is set") {
  const auto d = rmpi::build_default_config({.mpi_func = "f", .mpi_args = rp::list(1, 2)});
  CHECK(d.node_path == rp::node_path());
  CHECK(d.mpi_module == rp::executable_path());
  CHECK(d.mpi_func == "f");
  CHECK(d.mpi_args == rp::list(1, 2));
  const auto e = rmpi::build_default_config({.node_path = "/x/rmpi-node", .mpi_module = "/x/prog"});
  CHECK(e.node_path == "/x/rmpi-node");
  CHECK(e.mpi_module == "/x/prog");
  CHECK(e.launch_path.empty());
}

TEST_CASE("launch rejects bad configs before starting anything, naming the id") {
  const auto d = config_for("sum_worker", rp::list(1));
  CHECK(error_of([&] { rmpi::launch(d, {}); }).find("no entries") != std::string::npos);
  auto gap = rmpi::make_localhost_config(2, 0, "w");
  gap[1].id = 2;
  CHECK(error_of([&] { rmpi::launch(d, gap); }).find("id 2") != std::string::npos);
  auto twice = rmpi::make_localhost_config(2, 0, "w");
  twice[1].id = 0;
  CHECK(error_of([&] { rmpi::launch(d, twice); }).find("id 0 appears twice") != std::string::npos);
  CHECK_THROWS_AS(rmpi::launch(d, twice), rmpi::ConfigError);
  auto unnamed = rmpi::make_localhost_config(1, 0, "w");
  unnamed[0].name.clear();
  CHECK_THROWS_AS(rmpi::launch(d, unnamed), rmpi::ConfigError);
  CHECK_THROWS_AS(rmpi::launch(config_for("", rp::list(1)), rmpi::make_localhost_config(1, 0, "w")),
                  rmpi::ConfigError);
}

TEST_CASE("launch: a node or place that cannot start is an error naming the rank and host") {
  auto bad_node = config_for("sum_worker", rp::list(1));
  bad_node.node_path = "/nonexistent/rmpi-node";
  const std::string err = error_of([&] { rmpi::launch(bad_node, rmpi::make_localhost_config(2, 0, "b")); });
  INFO(err);
  CHECK(err.find("rmpi::launch: rank ") != std::string::npos);
  CHECK(err.find("localhost") != std::string::npos);
  CHECK_THROWS_AS(rmpi::launch(bad_node, rmpi::make_localhost_config(1, 0, "b")), rmpi::SpawnError);
  CHECK_THROWS_AS(
      rmpi::launch(config_for("no_such_worker", rp::list(1)), rmpi::make_localhost_config(2, 0, "n")),
      rmpi::NameError);
}

TEST_CASE("launch with no_wait: 3 ranks compute, rank 0 reports, wait returns after finish") {
  auto job = rmpi::launch(config_for("sum_worker", rp::list(10)), rmpi::make_localhost_config(3, 0, "s"),
                          {.no_wait = true});
  REQUIRE(job.size() == 3);
  const auto msg = job.place(0).get_for<rp::Value>(std::chrono::seconds(30));
  REQUIRE(msg.has_value());
  CHECK(*msg == rp::list(rp::sym("sum"), 60));
  job.wait();
  for (int i = 0; i < 3; ++i) {
    REQUIRE(job.place(i).try_wait().has_value());
    CHECK(*job.place(i).try_wait() == 0);
  }
}

TEST_CASE("launch: per-entry overrides replace the default args") {
  auto config = rmpi::make_localhost_config(2, 0, "o");
  config[0].overrides = rmpi::DefaultConfig{.mpi_args = rp::list(100)};
  auto job = rmpi::launch(config_for("sum_worker", rp::list(1)), config, {.no_wait = true});
  const auto msg = job.place(0).get_for<rp::Value>(std::chrono::seconds(30));
  REQUIRE(msg.has_value());
  CHECK(*msg == rp::list(rp::sym("sum"), 100 * 1 + 1 * 2));
  job.wait();
}

TEST_CASE("launch: a rank that exits non-zero is an error naming the rank and status, not a hang") {
  const std::string err = error_of(
      [] { rmpi::launch(config_for("failing_worker", rp::list()), rmpi::make_localhost_config(3, 0, "f")); });
  INFO(err);
  CHECK(err.find("rank ") != std::string::npos);
  CHECK(err.find("localhost") != std::string::npos);
  CHECK(err.find("status") != std::string::npos);
}

TEST_CASE("launch: std::exit(9) at rank 1 fails the job with rank 1's 9, not the others' ends") {
  for (int trial = 0; trial < 3; ++trial) {
    try {
      rmpi::launch(config_for("exiting_worker", rp::list()), rmpi::make_localhost_config(3, 0, "x"));
      FAIL("the launch did not fail");
    } catch (const rmpi::JobFailed& e) {
      INFO(e.what());
      CHECK(e.rank() == 1);
      CHECK(e.status() == std::optional<int>(9));
      CHECK(std::string(e.what()).find("rank 1 on localhost") != std::string::npos);
    }
  }
}

/// RMPI_DETECT_TIMEOUT=`seconds` for this process (and so the nodes and
/// ranks it launches) while in scope.
struct DetectTimeout {
  explicit DetectTimeout(const char* seconds) {
    if (const char* v = std::getenv(rmpi::kDetectTimeoutEnv)) before = v;
    ::setenv(rmpi::kDetectTimeoutEnv, seconds, 1);
  }
  ~DetectTimeout() {
    if (before) ::setenv(rmpi::kDetectTimeoutEnv, before->c_str(), 1);
    else ::unsetenv(rmpi::kDetectTimeoutEnv);
  }
  std::optional<std::string> before;
};

/// Every pid in `pids` ends within 15 s (pidfd: no polling).
bool all_gone(const std::vector<int>& pids) {
  for (int pid : pids) {
    const int fd = static_cast<int>(::syscall(SYS_pidfd_open, pid, 0));
    if (fd < 0) continue;  // already reaped
    pollfd p{fd, POLLIN, 0};
    const bool ended = ::poll(&p, 1, 15000) == 1;
    ::close(fd);
    if (!ended) return false;
  }
  return true;
}

std::vector<int> rank_pids(rmpi::LaunchedJob& job) {
  std::vector<int> pids;
  for (int id = 0; id < job.size(); ++id) pids.push_back(job.place(id).pid());
  return pids;
}

TEST_CASE("launch: SIGSTOP of a rank the others wait on fails the job after the bound, naming the rank and the stop") {
  const DetectTimeout bound("2");
  rmpi::LaunchedJob job = rmpi::launch(config_for("stoppable_worker", rp::list()),
                                       rmpi::make_localhost_config(3, 0, "st"), {.no_wait = true});
  const std::vector<int> pids = rank_pids(job);
  REQUIRE(job.place(1).get_for<rp::Value>(std::chrono::seconds(30)) == rp::list(rp::sym("ready")));
  REQUIRE(::kill(pids[1], SIGSTOP) == 0);
  const auto stopped_at = Clock::now();
  // Without the stop being seen nothing ever ends: rank 1 waits for (go) that never comes.
  auto waited = std::async(std::launch::async, [&job] {
    try {
      job.wait();
    } catch (const rmpi::JobFailed& e) {
      return std::make_tuple(e.rank(), e.status(), std::string(e.what()));
    }
    return std::make_tuple(-1, std::optional<int>(), std::string("wait() returned"));
  });
  REQUIRE(waited.wait_for(std::chrono::seconds(30)) == std::future_status::ready);
  const auto [rank, status, what] = waited.get();
  INFO(what);
  CHECK(rank == 1);
  CHECK(status == std::optional<int>(128 + SIGSTOP));
  CHECK(what.find("rmpi::launch: rank 1 on localhost:") != std::string::npos);
  CHECK(what.find("was stopped by signal 19 (SIGSTOP) and not continued within 2 s") != std::string::npos);
  // Not before the bound: a stop is allowed that long.
  CHECK(Clock::now() - stopped_at >= std::chrono::seconds(2));
  // The stopped rank was killed (SIGKILL ends a stopped process), the others with their nodes.
  CHECK(all_gone(pids));
}

TEST_CASE("launch: a rank stopped and continued within the bound goes on") {
  const DetectTimeout bound("1");
  rmpi::LaunchedJob job = rmpi::launch(config_for("stoppable_worker", rp::list()),
                                       rmpi::make_localhost_config(3, 0, "sc"), {.no_wait = true});
  const std::vector<int> pids = rank_pids(job);
  REQUIRE(job.place(1).get_for<rp::Value>(std::chrono::seconds(30)) == rp::list(rp::sym("ready")));
  // What the node reports of rank 1, as launch's own watch sees it.
  auto stop_seen = std::make_shared<std::promise<int>>();
  auto continue_seen = std::make_shared<std::promise<void>>();
  job.place(1).add_on_stop_change([stop_seen, continue_seen](rp::RemoteConnection&, int sig) {
    if (sig != 0) stop_seen->set_value(sig);
    else continue_seen->set_value();
  });
  auto waited = std::async(std::launch::async, [&job] { job.wait(); });
  REQUIRE(::kill(pids[1], SIGSTOP) == 0);
  // Continued as soon as the stop is seen (well within the bound).
  auto stop = stop_seen->get_future();
  REQUIRE(stop.wait_for(std::chrono::seconds(20)) == std::future_status::ready);
  CHECK(stop.get() == SIGSTOP);
  CHECK(job.place(1).stop_signal() == std::optional<int>(SIGSTOP));
  REQUIRE(::kill(pids[1], SIGCONT) == 0);
  REQUIRE(continue_seen->get_future().wait_for(std::chrono::seconds(20)) == std::future_status::ready);
  CHECK_FALSE(job.place(1).stop_signal().has_value());
  // Past the bound (1 s) the continued rank is left alone: its channel stays open and silent.
  CHECK_FALSE(job.place(1).get_for<rp::Value>(std::chrono::milliseconds(2500)).has_value());
  CHECK(::kill(pids[1], 0) == 0);
  job.place(1).put(rp::list(rp::sym("go")));
  REQUIRE(waited.wait_for(std::chrono::seconds(30)) == std::future_status::ready);
  CHECK_NOTHROW(waited.get());
  CHECK(all_gone(pids));
}

TEST_CASE("launch: rank 0 ending without finish is an error") {
  const std::string err = error_of([] {
    rmpi::launch(config_for("unfinished_worker", rp::list()), rmpi::make_localhost_config(2, 0, "u"));
  });
  INFO(err);
  CHECK(err.find("rank 0") != std::string::npos);
  CHECK(err.find("finish") != std::string::npos);
}

TEST_CASE("launch-demo exits 0 with its result and leaves no process behind") {
  int sid = 0;
  const auto start = Clock::now();
  const Run r = run_in_session(RMPI_LAUNCH_DEMO_EXE, std::chrono::seconds(30), sid);
  INFO(r.out);
  CHECK_FALSE(r.timed_out);
  CHECK(r.status == 0);
  CHECK(Clock::now() - start < std::chrono::seconds(10));
  const auto result = r.out.find("launch-demo: 4 ranks, sum 1..1000 = 500500\n");
  const auto done = r.out.find("launch-demo: done\n");
  CHECK(result != std::string::npos);
  CHECK(done != std::string::npos);
  CHECK(result < done);
  // Nodes and places are reparented once the demo exits: give them a bounded
  // time to be gone (they should be already: the pipe reached EOF).
  std::vector<int> left = live_in_session(sid);
  for (const auto until = Clock::now() + std::chrono::seconds(5); !left.empty() && Clock::now() < until;
       left = live_in_session(sid))
    rmpi::testing::wait_until_gone({left.begin(), left.end()},
                                   std::chrono::duration_cast<std::chrono::milliseconds>(until - Clock::now()));
  CHECK(left.empty());
  if (!left.empty()) ::kill(-sid, SIGKILL);
}

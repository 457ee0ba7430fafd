// The shared-memory transport inside whole jobs (real rank processes, one
// node): it is chosen for ranks of one node and not under RMPI_TRANSPORT=tcp;
// 0 B to 1 GiB by single copy, by the pipelined fallback and over a posix
// segment; 8 ranks on 2 cores; the futex sleep and its wake-up; links made on
// demand; kill -9 of a peer during a shared-memory wait (on the futex, and
// before the pair ever linked).
#include <doctest/doctest.h>

#include <dirent.h>
#include <signal.h>

#include <string>

#include "job_harness.hpp"

using rmpi::test::JobResult;
using rmpi::test::JobSpec;
using rmpi::test::run_job;

namespace {

using Env = std::map<std::string, std::string>;

JobResult job(const char* program, std::vector<std::string> args, int ranks, const Env& env = {},
              std::function<std::string(int)> node_id = {}) {
  JobSpec spec{.ranks = ranks, .program = program, .args = std::move(args), .node_id = std::move(node_id)};
  for (int r = 0; r < ranks; ++r) spec.extra_env[r] = env;  // RMPI_TRANSPORT unset: auto
  spec.timeout = std::chrono::seconds(90);
  return run_job(std::move(spec));
}

bool has(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }

int shm_names() {
  int n = 0;
  if (DIR* d = ::opendir("/dev/shm")) {
    while (const dirent* e = ::readdir(d)) n += std::string(e->d_name).starts_with("rmpi-");
    ::closedir(d);
  }
  return n;
}

}  // namespace

TEST_CASE("ranks of one node map each other's segments; RMPI_TRANSPORT=tcp and other nodes do not") {
  SUBCASE("one node, 3 ranks: each maps its own segment and both peers'") {
    const auto res = job(RMPI_SHM_PROGRAM, {"maps"}, 3);
    INFO(res.summary());
    REQUIRE(res.all_exited_zero());
    for (const auto& r : res.ranks) CHECK(has(r.out, "SHM_MAPPINGS 3"));
  }
  SUBCASE("RMPI_TRANSPORT=tcp: no segment") {
    const auto res = job(RMPI_SHM_PROGRAM, {"maps"}, 3, {{"RMPI_TRANSPORT", "tcp"}});
    INFO(res.summary());
    REQUIRE(res.all_exited_zero());
    for (const auto& r : res.ranks) CHECK(has(r.out, "SHM_MAPPINGS 0"));
  }
  SUBCASE("RMPI_TRANSPORT=auto and =shm: the same as unset") {
    for (const std::string t : {"auto", "shm"}) {
      CAPTURE(t);
      const auto res = job(RMPI_SHM_PROGRAM, {"maps"}, 3, {{"RMPI_TRANSPORT", t}});
      INFO(res.summary());
      REQUIRE(res.all_exited_zero());
      for (const auto& r : res.ranks) CHECK(has(r.out, "SHM_MAPPINGS 3"));
    }
  }
  SUBCASE("two nodes (ranks 0,1 on a; 2 on b): shared memory inside a node only") {
    const auto res = job(RMPI_SHM_PROGRAM, {"maps"}, 3, {}, [](int r) { return r < 2 ? "a" : "b"; });
    INFO(res.summary());
    REQUIRE(res.all_exited_zero());
    CHECK(has(res.ranks[0].out, "SHM_MAPPINGS 2"));
    CHECK(has(res.ranks[1].out, "SHM_MAPPINGS 2"));
    CHECK(has(res.ranks[2].out, "SHM_MAPPINGS 1"));  // its own only
  }
}

// 1 GiB + 4 KiB over shared memory (pipelined copy) is test_rmpi_p2p's
// "[big]" case, which runs on this transport by default.
TEST_CASE("0 B, 1 B, the eager limit +-1, 1 MiB and 64 MiB by single copy (CMA)") {
  const auto res = job(RMPI_SHM_PROGRAM, {"sizes"}, 2, {{"RMPI_SHM_CMA", "1"}});
  INFO(res.summary());
  CHECK(res.all_exited_zero());
}

TEST_CASE("the same sizes pipelined through the ring when CMA is off, and over a posix segment") {
  const int names_before = shm_names();
  SUBCASE("RMPI_SHM_CMA=0") {
    const auto res = job(RMPI_SHM_PROGRAM, {"sizes"}, 2, {{"RMPI_SHM_CMA", "0"}});
    INFO(res.summary());
    CHECK(res.all_exited_zero());
  }
  SUBCASE("RMPI_SHM_SEGMENT=posix, 3 ranks") {
    const auto res = job(RMPI_SHM_PROGRAM, {"sizes"}, 3, {{"RMPI_SHM_SEGMENT", "posix"}});
    INFO(res.summary());
    CHECK(res.all_exited_zero());
  }
  CHECK(shm_names() <= names_before);  // every posix name was unlinked
}

TEST_CASE("8 ranks on 2 cores over shared memory: ring and collectives") {
  for (const std::string spin : {"50", "0"}) {
    CAPTURE(spin);
    const auto ring = job(RMPI_RING_EXE, {}, 8, {{"RMPI_SPIN_US", spin}});
    INFO(ring.summary());
    CHECK(ring.all_exited_zero());
    const auto coll = job(RMPI_COLLECTIVES_CHECK_EXE, {}, 8, {{"RMPI_SPIN_US", spin}});
    INFO(coll.summary());
    CHECK(coll.all_exited_zero());
  }
}

namespace {
// Rank 0 was killed with SIGKILL while rank 1 waited for it: rank 1 saw an
// error naming rank 0, and nothing hung or was left running.
void check_rank_1_saw_rank_0_die(const JobResult& res) {
  INFO(res.summary());
  CHECK(!res.timed_out);
  CHECK(res.ranks[0].signal == SIGKILL);
  CHECK(res.ranks[1].exit_code == 0);
  CHECK(has(res.ranks[1].out, "ERROR: "));
  CHECK(has(res.ranks[1].out, "rank 0"));
  CHECK(has(res.ranks[1].out, "PASS"));
  CHECK(res.no_child_left);
}
}  // namespace

TEST_CASE("kill -9 of the peer of a rank asleep on its futex: RankFailed naming it within the bound, no hang") {
  // Supervised: thrown at once; else after waiting the bound for a launcher.
  for (const Env& env : {Env{}, Env{{"RMPI_SUPERVISED", "1"}}}) {
    CAPTURE(env.size());
    const auto res = job(RMPI_SHM_PROGRAM, {"kill-wait"}, 2, env);
    CHECK(has(res.ranks[0].out, "SLEEPS IN futex"));
    check_rank_1_saw_rank_0_die(res);
  }
}

TEST_CASE("a rank with only shared-memory peers sleeps on its futex and a message wakes it") {
  const auto res = job(RMPI_SHM_PROGRAM, {"wake", "futex"}, 2);
  INFO(res.summary());
  CHECK(res.all_exited_zero());
  CHECK(has(res.ranks[0].out, "SLEEPS IN futex"));
  CHECK(has(res.ranks[0].out, "PASS"));
  CHECK(has(res.ranks[1].out, "PASS"));
  CHECK(res.no_child_left);
}

TEST_CASE("a rank with a socket link sleeps in epoll (RMPI_TRANSPORT=tcp) and a message wakes it") {
  const auto res = job(RMPI_SHM_PROGRAM, {"wake", "epoll"}, 2, {{"RMPI_TRANSPORT", "tcp"}});
  INFO(res.summary());
  CHECK(res.all_exited_zero());
  CHECK(has(res.ranks[0].out, "SLEEPS IN "));
  CHECK(has(res.ranks[0].out, "epoll"));
  CHECK(has(res.ranks[1].out, "PASS"));
  CHECK(res.no_child_left);
}

TEST_CASE("links are made on demand: 16 ranks where only ring neighbours talk map only their neighbours") {
  const auto res = job(RMPI_SHM_PROGRAM, {"neighbours"}, 16);
  INFO(res.summary());
  REQUIRE(res.all_exited_zero());
  for (const auto& r : res.ranks) {
    CHECK(has(r.out, "PASS"));
    CHECK(has(r.out, "SHM_MAPPINGS 3"));  // its own segment and its two neighbours'
  }
  CHECK(res.no_child_left);
}

TEST_CASE("a link coming up under traffic from both sides keeps order; any-source sees ranks never linked") {
  const auto res = job(RMPI_SHM_PROGRAM, {"both-sides"}, 8, {{"RMPI_SHM_CMA", "0"}});
  INFO(res.summary());
  CHECK(res.all_exited_zero());
  for (const auto& r : res.ranks) CHECK(has(r.out, "PASS"));
  const auto cma = job(RMPI_SHM_PROGRAM, {"both-sides"}, 4, {{"RMPI_SHM_CMA", "1"}});
  INFO(cma.summary());
  CHECK(cma.all_exited_zero());
  CHECK(cma.no_child_left);
}

TEST_CASE("kill -9 of a peer never linked, while a receive from it waits: RankFailed naming it") {
  check_rank_1_saw_rank_0_die(job(RMPI_SHM_PROGRAM, {"kill-unlinked"}, 3));
}

TEST_CASE("kill -9 of the sender in the middle of a CMA pull: RankFailed naming it, nothing delivered, no hang") {
  for (const Env& env : {Env{}, Env{{"RMPI_SHM_CMA", "1"}}}) {
    CAPTURE(env.size());
    const auto res = job(RMPI_SHM_PROGRAM, {"kill-pull"}, 2, env);
    INFO(res.summary());
    CHECK(!res.timed_out);
    CHECK(res.ranks[0].signal == SIGKILL);
    CHECK(res.ranks[1].exit_code == 0);
    CHECK(has(res.ranks[1].out, "RANK_FAILED 0: "));
    CHECK(has(res.ranks[1].out, "PASS"));
    CHECK(res.no_child_left);
  }
}

// Supervised jobs (issue 10, Deliver 7): under rmpirun --supervise a killed
// rank is reported and the job goes on; the survivors get rmpi::RankFailed
// (in a receive from the dead rank, or in a collective), shrink the
// communicator and finish on it; nothing is left running. A rank stopped
// past the detection bound is killed and treated the same.
#include <doctest/doctest.h>

#include <signal.h>
#include <sys/wait.h>

#include <iterator>
#include <regex>
#include <string>

#include "job_processes.hpp"
#include "running_job.hpp"

using rmpi::testing::RunningJob;

namespace {

std::size_t count(const std::string& s, const std::regex& re) {
  return static_cast<std::size_t>(std::distance(std::sregex_iterator(s.begin(), s.end(), re), std::sregex_iterator()));
}

}  // namespace

TEST_CASE("supervised-ranks: a rank is killed and the job goes on shrunk") {
  RunningJob job(RMPIRUN_EXE, {"--supervise", "--oversubscribe", "-n", "4", SUPERVISED_RANKS_EXE});
  const int st = job.wait_exit();
  REQUIRE(WIFEXITED(st));
  CHECK(WEXITSTATUS(st) == 0);
  CHECK_MESSAGE(job.out().find("supervised-ranks: 3 of 4 ranks finished, ranks 2 failed, last sum 4\n") !=
                    std::string::npos,
                job.out() << job.err());
  CHECK(job.err().find("rmpirun: rank 2 on localhost was killed by signal 9 (SIGKILL); the job goes on") !=
        std::string::npos);
  rmpi::testing::check_no_leftovers(job);
}

TEST_CASE("kill -9 of a supervised rank that others wait on in recv and in a barrier") {
  for (const int victim : {1, 3}) {
    CAPTURE(victim);
    RunningJob job(RMPIRUN_EXE, {"--supervise", "--oversubscribe", "-n", "4", FAILING_RANK_EXE, "supervised",
                                 std::to_string(victim)});
    job.wait_for(R"((ready \d\n(.|\n)*){4})", false);
    const pid_t pid = rmpi::testing::local_rank_pid(job, victim);
    REQUIRE(pid > 0);
    ::kill(pid, SIGKILL);
    const int st = job.wait_exit();
    REQUIRE(WIFEXITED(st));
    CHECK(WEXITSTATUS(st) == 0);
    INFO(job.out() << job.err());
    // Every survivor went on in a communicator of 3, with the same sum.
    const int sum = 0 + 1 + 2 + 3 - victim;
    CHECK(count(job.out(), std::regex("shrunk \\d -> [0-2]/3 sum " + std::to_string(sum) + "\n")) == 3);
    // Rank 0 waited on the victim itself: it saw it fail.
    CHECK(std::regex_search(job.out(), std::regex("failed 0:( \\d)* " + std::to_string(victim))));
    CHECK(job.err().find("rmpirun: rank " + std::to_string(victim) + " on localhost was killed by signal 9") !=
          std::string::npos);
    rmpi::testing::check_no_leftovers(job);
  }
}

TEST_CASE("a supervised rank stopped past the bound is killed and the survivors go on shrunk") {
  RunningJob job(RMPIRUN_EXE, {"-xRMPI_DETECT_TIMEOUT=2", "--supervise", "--oversubscribe", "-n", "3",
                               FAILING_RANK_EXE, "supervised", "1"});
  job.wait_for(R"((ready \d\n(.|\n)*){3})", false);
  const pid_t pid = rmpi::testing::local_rank_pid(job, 1);
  REQUIRE(pid > 0);
  ::kill(pid, SIGSTOP);
  const int st = job.wait_exit();
  REQUIRE(WIFEXITED(st));
  CHECK(WEXITSTATUS(st) == 0);
  INFO(job.out() << job.err());
  // Rank 0 waited in recv from the stopped rank, rank 2 in a barrier with it.
  CHECK(count(job.out(), std::regex("shrunk \\d -> [01]/2 sum 2\n")) == 2);
  CHECK(std::regex_search(job.out(), std::regex("failed 0:( \\d)* 1")));
  CHECK(job.err().find("rmpirun: rank 1 on localhost was stopped by signal 19 (SIGSTOP) and not continued "
                       "within 2 s; the job goes on (--supervise)") != std::string::npos);
  rmpi::testing::check_no_leftovers(job);
}

// --restart-every (issue 10, Deliver 7): a failed rank is started again at
// its rank; the survivors see the old process fail, then talk to the new one.
TEST_CASE("--restart-every: a rank killed in its first process is restarted once and rejoins the world") {
  RunningJob job(RMPIRUN_EXE, {"--supervise", "--restart-every", "0.1", "--max-restarts", "2", "--oversubscribe",
                               "-n", "3", FAILING_RANK_EXE, "restart_once", "1"});
  const int st = job.wait_exit();
  INFO(job.out() << job.err());
  REQUIRE(WIFEXITED(st));
  CHECK(WEXITSTATUS(st) == 0);  // every rank ended 0 in the end
  // Each survivor saw the first process fail, then heard from the restarted one.
  for (const int r : {0, 2}) {
    CHECK(job.out().find("failed " + std::to_string(r) + ": 1\n") != std::string::npos);
    CHECK(job.out().find(std::to_string(r) + ": back 1 from 1, failed now:\n") != std::string::npos);
    CHECK(job.out().find("restarted 1 got " + std::to_string(10 * r) + " from " + std::to_string(r) + "\n") !=
          std::string::npos);
    // What the first process sent before it died is never delivered as the new one's.
    CHECK(job.out().find(std::to_string(r) + ": tag 5 from 1: 101\n") != std::string::npos);
  }
  CHECK(count(job.err(), std::regex("restarting it")) == 1);
  CHECK(job.err().find("rmpirun: rank 1 on localhost was killed by signal 9 (SIGKILL); restarting it in 0.1 s "
                       "(try 1 of 2)\n") != std::string::npos);
  rmpi::testing::check_no_leftovers(job);
}

TEST_CASE("--restart-every: a rank that always fails is restarted exactly N times, then the job goes on shrunk") {
  RunningJob job(RMPIRUN_EXE, {"--restart-every", "1", "--max-restarts", "2", "--oversubscribe", "-n", "3",
                               FAILING_RANK_EXE, "always_fails", "1"});
  const int st = job.wait_exit();
  INFO(job.out() << job.err());
  REQUIRE(WIFEXITED(st));
  CHECK(WEXITSTATUS(st) == 3);  // the first failure's: rank 1 never recovered
  CHECK(count(job.err(), std::regex("rmpirun: rank 1 on localhost exited with status 3; restarting it in 1 s "
                                    "\\(try [12] of 2\\)\n")) == 2);
  CHECK(job.err().find("(try 1 of 2)") < job.err().find("(try 2 of 2)"));
  CHECK(count(job.err(), std::regex("rmpirun: rank 1 on localhost exited with status 3; gave up after 2 restarts "
                                    "in a row \\(--max-restarts\\); the job goes on \\(--supervise\\)\n")) == 1);
  // Rank 1's three processes each said ready; the survivors went on without it.
  CHECK(count(job.out(), std::regex("ready 1\n")) == 3);
  CHECK(count(job.out(), std::regex("shrunk \\d -> [01]/2 sum 2\n")) == 2);
  rmpi::testing::check_no_leftovers(job);
}

// Failure semantics of an rmpirun job (issue 10, Deliver 6): the first
// failure in time is the one reported and returned; a rank that failed
// because of it (its receive from the dead rank) is never blamed; a rank
// that exits early never blocks at exit; an uncaught exception, a
// collective argument error and rmpi::abort end the job naming the rank; a
// rank stopped past the detection bound is killed and blamed (128 + signal),
// one continued within it goes on.
#include <doctest/doctest.h>

#include <signal.h>
#include <sys/wait.h>

#include <iterator>
#include <regex>
#include <string>
#include <vector>

#include "job_processes.hpp"
#include "running_job.hpp"

using rmpi::testing::RunningJob;

namespace {

// Short, so that a secondary rank gives up soon if the launcher never came.
const std::string kDetect = "-xRMPI_DETECT_TIMEOUT=3";

struct Ended {
  int status = -1;  // rmpirun's exit status (-1: killed by a signal)
  std::string err;
};

/// Runs failing-rank <mode> <culprit> on `n` ranks; rank 0's stdin stays
/// open (a rank that reads it waits until the job ends it).
Ended run(const std::string& mode, int culprit, int n) {
  RunningJob job(RMPIRUN_EXE, {kDetect, "--oversubscribe", "-n", std::to_string(n), FAILING_RANK_EXE, mode,
                               std::to_string(culprit)});
  const int st = job.wait_exit();
  rmpi::testing::check_no_leftovers(job);
  return {WIFEXITED(st) ? WEXITSTATUS(st) : -1, job.err()};
}

/// "rmpirun: rank R on" lines: which ranks rmpirun blamed.
std::vector<int> blamed(const std::string& err) {
  std::vector<int> out;
  const std::regex re(R"(rmpirun: rank (\d+) on )");
  for (std::sregex_iterator it(err.begin(), err.end(), re), end; it != end; ++it)
    out.push_back(std::stoi((*it)[1].str()));
  return out;
}


}  // namespace

TEST_CASE("a rank of a shell job exiting 3 makes rmpirun exit 3 naming it") {
  RunningJob job(RMPIRUN_EXE, {"--oversubscribe", "-n", "3", "sh", "-c", "exit $((RMPI_RANK==1 ? 3 : 0))"});
  const int st = job.wait_exit();
  REQUIRE(WIFEXITED(st));
  CHECK(WEXITSTATUS(st) == 3);
  CHECK(job.err().find("rmpirun: rank 1 on localhost exited with status 3") != std::string::npos);
  rmpi::testing::check_no_leftovers(job);
}

TEST_CASE("rank 1 returning 3 mid-allreduce: the job exits 3 and only rank 1 is blamed") {
  const Ended e = run("return3", 1, 3);
  CHECK(e.status == 3);
  CHECK_MESSAGE(blamed(e.err) == std::vector<int>{1}, e.err);
  CHECK(e.err.find("rank 1 on localhost exited with status 3") != std::string::npos);
}

TEST_CASE("std::exit(2) in one rank ends the job at once with 2, while the others wait") {
  // Rank 0 reads its stdin, which stays open: the job ends only because rank 1 did.
  const Ended e = run("exit2", 1, 3);
  CHECK(e.status == 2);
  CHECK_MESSAGE(blamed(e.err) == std::vector<int>{1}, e.err);
}

TEST_CASE("std::_Exit(9) in one rank ends the job with 9") {
  const Ended e = run("quick_exit", 2, 3);
  CHECK(e.status == 9);
  CHECK_MESSAGE(blamed(e.err) == std::vector<int>{2}, e.err);
}

TEST_CASE("an uncaught exception ends the job with one line naming the rank and what()") {
  const Ended e = run("throw", 1, 3);
  CHECK(e.status == 1);
  CHECK_MESSAGE(e.err.find("rmpi: rank 1 ends: uncaught std::runtime_error: boom at rank 1\n") != std::string::npos,
                e.err);
  CHECK_MESSAGE(blamed(e.err) == std::vector<int>{1}, e.err);
  CHECK(e.err.find("SIGABRT") == std::string::npos);
}

TEST_CASE("rmpi::abort(comm, 7) ends the job with 7") {
  const Ended e = run("abort", 2, 3);
  CHECK(e.status == 7);
  CHECK(e.err.find("rmpi: rank 2 called rmpi::abort with code 7") != std::string::npos);
  CHECK_MESSAGE(blamed(e.err) == std::vector<int>{2}, e.err);
}

TEST_CASE("a collective argument error at one rank does not leave the others waiting") {
  const Ended e = run("bad_root", 1, 3);
  CHECK(e.status == 1);
  CHECK(e.err.find("rmpi: rank 1 ends: uncaught std::invalid_argument") != std::string::npos);
  CHECK_MESSAGE(blamed(e.err) == std::vector<int>{1}, e.err);
}

TEST_CASE("kill -9 of one rank among 4 is always blamed on the killed rank") {
  for (int trial = 0; trial < 10; ++trial) {
    const int victim = 1 + trial % 3;
    CAPTURE(trial);
    RunningJob job(RMPIRUN_EXE, {kDetect, "--oversubscribe", "-n", "4", FAILING_RANK_EXE, "wait",
                                 std::to_string(victim)});
    job.wait_for(R"((ready \d\n(.|\n)*){4})", false);
    const pid_t pid = rmpi::testing::local_rank_pid(job, victim);
    REQUIRE(pid > 0);
    ::kill(pid, SIGKILL);
    const int st = job.wait_exit();
    REQUIRE(WIFEXITED(st));
    CHECK(WEXITSTATUS(st) == 128 + SIGKILL);
    CHECK_MESSAGE(blamed(job.err()) == std::vector<int>{victim}, job.err());
    CHECK(job.err().find("was killed by signal 9 (SIGKILL)") != std::string::npos);
    rmpi::testing::check_no_leftovers(job);
  }
}

TEST_CASE("a rank stopped before init: the init timeout names the rank that never arrived") {
  RunningJob job(RMPIRUN_EXE, {"-xRMPI_INIT_TIMEOUT=2", "--oversubscribe", "-n", "3", FAILING_RANK_EXE,
                               "stop_in_init", "1"});
  const int st = job.wait_exit();
  REQUIRE(WIFEXITED(st));
  CHECK(WEXITSTATUS(st) == 1);
  CHECK_MESSAGE(std::regex_search(job.err(), std::regex(R"(rmpirun: rank [02] on localhost exited with status 1 )"
                                                        R"(while rank 1 never reached init\n)")),
                job.err());
  rmpi::testing::check_no_leftovers(job);
}

TEST_CASE("SIGSTOP of a rank that others wait on in recv ends the job after the bound, naming it") {
  RunningJob job(RMPIRUN_EXE, {kDetect, "--oversubscribe", "-n", "3", FAILING_RANK_EXE, "wait", "1"});
  job.wait_for(R"((ready \d\n(.|\n)*){3})", false);
  const pid_t pid = rmpi::testing::local_rank_pid(job, 1);
  REQUIRE(pid > 0);
  ::kill(pid, SIGSTOP);
  // Without the stop being seen, nothing ever ends: rank 0 waits in recv from rank 1 forever.
  const int st = job.wait_exit();
  REQUIRE(WIFEXITED(st));
  CHECK(WEXITSTATUS(st) == 128 + SIGSTOP);
  CHECK_MESSAGE(blamed(job.err()) == std::vector<int>{1}, job.err());
  CHECK_MESSAGE(job.err().find("rmpirun: rank 1 on localhost was stopped by signal 19 (SIGSTOP) and not "
                               "continued within 3 s\n") != std::string::npos,
                job.err());
  // The stopped rank was killed (SIGKILL works on a stopped process), and nothing is left.
  rmpi::testing::check_no_leftovers(job);
}

TEST_CASE("a rank stopped and continued within the bound goes on") {
  RunningJob job(RMPIRUN_EXE, {"-xRMPI_DETECT_TIMEOUT=1", "--verbose", "--oversubscribe", "-n", "3",
                               FAILING_RANK_EXE, "stdin_barrier", "1"});
  job.wait_for(R"((ready \d\n(.|\n)*){3})", false);
  const pid_t pid = rmpi::testing::local_rank_pid(job, 1);
  REQUIRE(pid > 0);
  ::kill(pid, SIGSTOP);
  job.wait_for(R"(rank 1 stopped by signal 19 \(SIGSTOP\))", true);
  ::kill(pid, SIGCONT);
  job.wait_for(R"(rank 1 continued)", true);
  // Past the bound (1 s) the continued rank is still left alone.
  CHECK_FALSE(job.saw("SIGKILL|not continued", true, std::chrono::milliseconds(2500)));
  CHECK(::kill(pid, 0) == 0);
  job.close_stdin();
  const int st = job.wait_exit();
  REQUIRE(WIFEXITED(st));
  CHECK_MESSAGE(WEXITSTATUS(st) == 0, job.err());
  CHECK(blamed(job.err()).empty());
  rmpi::testing::check_no_leftovers(job);
}

// failing-rank <mode> <rank>: a rank program of the job-failure tests. Every
// rank inits and prints "ready <rank>"; then rank <rank> fails as <mode> says
// while the others wait for it:
//   return3  : every rank runs allreduces; <rank> returns 3 from main between two
//   exit2    : <rank> calls std::exit(2); rank 0 (if not <rank>) reads its stdin,
//              the others wait in a receive from rank 0
//   quick_exit : as exit2 with std::_Exit(9)
//   throw    : <rank> throws std::runtime_error("boom at rank <rank>") out of main
//   abort    : <rank> calls rmpi::abort(comm, 7)
//   bad_root : <rank> calls broadcast with a root outside the communicator
//   stop_in_init : <rank> stops itself (SIGSTOP) before init; the others time
//              out in init (RMPI_INIT_TIMEOUT)
//   supervised : as wait, under rmpirun --supervise: on rmpi::RankFailed each
//              survivor prints "failed R: <failed_ranks>", shrinks, runs a
//              barrier and an allreduce on the survivors and prints
//              "shrunk <world rank> -> <id>/<cnt> sum <sum of world ranks>"
//   stdin_barrier : nobody fails: rank 0 reads its stdin to the end, then
//              every rank runs a barrier and finishes (the test stops and
//              continues <rank> meanwhile)
//   half_sent : (2 ranks, supervised, RMPI_TRANSPORT=tcp) <rank> prints
//              "sending" and sends 64 MiB to rank 0, which reads its stdin to
//              the end first (the test kills <rank> mid-message meanwhile),
//              then receives and prints "rank 0 saw: <what() of RankFailed>"
//   restart_once : (under --restart-every) every other rank sends <rank>
//              "go" and waits in a receive from it; <rank>'s first process
//              takes every "go", sends each -1 with tag 5 and kills itself
//              (SIGKILL); the restarted one sends 100 + K with tag 5. The survivors
//              print "failed R: <failed_ranks>", receive from any source what
//              the restarted <rank> sends them (its rmpi::restart_count()),
//              print "R: back K from S, failed now:<failed_ranks>" and send it
//              10 * R, which it prints as "restarted K got X from S"; then
//              they print "R: tag 5 from <rank>: <value>" (the new process's)
//   always_fails : (under --restart-every) <rank> returns 3 right after init in
//              every process; the others do as in supervised
//   wait     : nobody fails by itself: rank 0 waits in a receive from <rank>,
//              <rank> in one from rank 0, the others in a barrier (the
//              test kills or stops <rank>)
#include <signal.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <stdexcept>
#include <string>
#include <vector>

#include <rmpi/rmpi.hpp>

namespace {
void read_stdin_to_end() {
  char c;
  while (::read(0, &c, 1) > 0) {
  }
}
}  // namespace

int main(int argc, char** argv) {
  if (argc != 3) {
    std::fprintf(stderr, "usage: failing-rank <mode> <rank>\n");
    return 64;
  }
  const std::string mode = argv[1];
  const int culprit = std::atoi(argv[2]);
  const char* rank_env = std::getenv("RMPI_RANK");
  if (mode == "stop_in_init" && rank_env && std::atoi(rank_env) == culprit) ::raise(SIGSTOP);
  rmpi::Comm comm = rmpi::init(argc, argv);
  const int me = rmpi::rmpi_id(comm);
  std::printf("ready %d\n", me);
  std::fflush(stdout);
  const bool guilty = me == culprit;
  if (mode == "return3") {
    for (int round = 0; round < 1000; ++round) {
      if (guilty && round == 10) return 3;
      rmpi::allreduce(comm, std::plus<>{}, round);
    }
  } else if (mode == "exit2" || mode == "quick_exit") {
    if (guilty) {
      if (mode == "exit2") std::exit(2);
      std::_Exit(9);
    }
    if (me == 0) {
      read_stdin_to_end();
    } else {
      (void)rmpi::recv<int>(comm, 0);
    }
  } else if (mode == "throw") {
    if (guilty) throw std::runtime_error("boom at rank " + std::to_string(me));
    rmpi::barrier(comm);
  } else if (mode == "abort") {
    if (guilty) rmpi::abort(comm, 7);
    rmpi::barrier(comm);
  } else if (mode == "bad_root") {
    const int root = guilty ? rmpi::rmpi_cnt(comm) : 0;
    (void)rmpi::broadcast(comm, root, 5);
  } else if (mode == "stop_in_init") {
    rmpi::barrier(comm);
  } else if (mode == "restart_once") {
    const int n = rmpi::rmpi_cnt(comm);
    if (guilty && rmpi::restart_count() == 0) {
      for (int r = 0; r < n; ++r)
        if (r != me) (void)rmpi::recv<int>(comm, r);
      for (int r = 0; r < n; ++r)
        if (r != me) rmpi::send(comm, r, -1, rmpi::Tag(5));  // never delivered as the new process's
      ::raise(SIGKILL);
    }
    if (guilty) {
      for (int r = 0; r < n; ++r)
        if (r != me) rmpi::send(comm, r, rmpi::restart_count());
      for (int r = 0; r < n; ++r)
        if (r != me) rmpi::send(comm, r, 100 + rmpi::restart_count(), rmpi::Tag(5));
      for (int r = 0; r < n; ++r) {
        if (r == me) continue;
        const int x = rmpi::recv<int>(comm, r);
        std::printf("restarted %d got %d from %d\n", rmpi::restart_count(), x, r);
      }
    } else {
      rmpi::send(comm, culprit, 0);
      try {
        (void)rmpi::recv<int>(comm, culprit);
        std::printf("rank %d: no failure seen\n", me);
      } catch (const rmpi::RankFailed& e) {
        std::string seen;
        for (int r : comm.failed_ranks()) seen += " " + std::to_string(r);
        std::printf("failed %d:%s\n", me, seen.c_str());
      }
      std::fflush(stdout);
      const auto [count, st] = rmpi::recv_with_status<int>(comm, rmpi::any_source);
      std::string now;
      for (int r : comm.failed_ranks()) now += " " + std::to_string(r);
      std::printf("%d: back %d from %d, failed now:%s\n", me, count, st.source, now.c_str());
      rmpi::send(comm, culprit, 10 * me);
      std::printf("%d: tag 5 from %d: %d\n", me, culprit, rmpi::recv<int>(comm, culprit, rmpi::Tag(5)));
    }
    std::fflush(stdout);
  } else if (mode == "always_fails" && guilty) {
    return 3;
  } else if (mode == "supervised" || mode == "always_fails") {
    try {
      if (me == 0) (void)rmpi::recv<int>(comm, culprit);
      else if (!guilty) rmpi::barrier(comm);
      else (void)rmpi::recv<int>(comm, 0);
    } catch (const rmpi::RankFailed& e) {
      std::string seen;
      for (int r : comm.failed_ranks()) seen += " " + std::to_string(r);
      std::printf("failed %d:%s\n", me, seen.c_str());
      std::fflush(stdout);
      rmpi::Comm shrunk = rmpi::comm_shrink(comm);
      rmpi::barrier(shrunk);
      const int sum = rmpi::allreduce(shrunk, rmpi::op::sum, me);
      std::printf("shrunk %d -> %d/%d sum %d\n", me, shrunk.id(), shrunk.cnt(), sum);
      std::fflush(stdout);
    }
  } else if (mode == "stdin_barrier") {
    if (me == 0) read_stdin_to_end();
    rmpi::barrier(comm);
  } else if (mode == "half_sent") {
    if (guilty) {
      std::printf("sending\n");
      std::fflush(stdout);
      rmpi::send(comm, 0, std::vector<char>(64u << 20, 'x'));
    } else if (me == 0) {
      read_stdin_to_end();
      try {
        (void)rmpi::recv<std::vector<char>>(comm, culprit);
      } catch (const rmpi::RankFailed& e) {
        std::printf("rank 0 saw: %s\n", e.what());
        std::fflush(stdout);
      }
    }
  } else if (mode == "wait") {
    if (me == 0) (void)rmpi::recv<int>(comm, culprit);
    else if (!guilty) rmpi::barrier(comm);
    else (void)rmpi::recv<int>(comm, 0);
  } else {
    std::fprintf(stderr, "failing-rank: unknown mode %s\n", mode.c_str());
    return 64;
  }
  rmpi::finish();
  return 0;
}

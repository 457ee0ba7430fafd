// supervised-ranks: a job that outlives one of its ranks.
//   rmpirun --supervise -n 4 build/bin/supervised-ranks [victim]
// Every rank adds its id into an allreduce, round after round. In round 3
// rank `victim` (default 2) is killed (SIGKILL). The survivors see
// rmpi::RankFailed, shrink the communicator to the ranks still alive
// (rmpi::comm_shrink) and finish the rounds there; the new rank 0 prints
// "supervised-ranks: 3 of 4 ranks finished, ranks 2 failed, last sum 4".
#include <signal.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include <rmpi/rmpi.hpp>

int main(int argc, char** argv) {
  const int victim = argc > 1 ? std::atoi(argv[1]) : 2;
  rmpi::Comm world = rmpi::init(argc, argv);
  const int world_id = world.id();
  rmpi::Comm comm = world;
  constexpr int kRounds = 6;
  int sum = 0;
  std::string failed;
  for (int round = 0; round < kRounds;) {
    if (round == 3 && world_id == victim) ::raise(SIGKILL);
    try {
      sum = rmpi::allreduce(comm, rmpi::op::sum, world_id);
      ++round;
    } catch (const rmpi::RankFailed& e) {
      std::fprintf(stderr, "supervised-ranks: rank %d: %s; shrinking\n", world_id, e.what());
      comm = rmpi::comm_shrink(comm);
      // A rank whose allreduce completed before the failure is a round ahead of one whose
      // allreduce failed: the survivors resume at the lowest round (as MPIX_Comm_agree would).
      round = rmpi::allreduce(comm, rmpi::op::min, round);
    }
  }
  // The world ranks that are not among the survivors.
  const std::vector<int> survivors = rmpi::allgather(comm, world_id);
  for (int r = 0; r < world.cnt(); ++r)
    if (std::find(survivors.begin(), survivors.end(), r) == survivors.end())
      failed += (failed.empty() ? "" : " ") + std::to_string(r);
  if (comm.id() == 0)
    std::printf("supervised-ranks: %d of %d ranks finished, ranks %s failed, last sum %d\n", comm.cnt(),
                world.cnt(), failed.empty() ? "none" : failed.c_str(), sum);
  std::fflush(stdout);
  rmpi::finish();
  return 0;
}

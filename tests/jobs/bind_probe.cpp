// A rank that reports where it runs: its CPU affinity (sched_getaffinity, in hwloc's list
// syntax "0-1,4"), and with "rmpi" its local rank and size in the world and in a split
// communicator, and its host's topology summary (rmpi::locality).
#include <sched.h>

#include <cstdio>
#include <cstdlib>
#include <string>

#include <rmpi/rmpi.hpp>

namespace {

std::string affinity_list() {
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(0, sizeof set, &set) != 0) return "?";
  std::string text;
  for (int cpu = 0; cpu < CPU_SETSIZE; ++cpu) {
    if (!CPU_ISSET(cpu, &set)) continue;
    int last = cpu;
    while (last + 1 < CPU_SETSIZE && CPU_ISSET(last + 1, &set)) ++last;
    if (!text.empty()) text += ",";
    text += std::to_string(cpu) + (last > cpu ? "-" + std::to_string(last) : "");
    cpu = last;
  }
  return text;
}

}  // namespace

int main(int argc, char** argv) {
  const char* rank = std::getenv("RMPI_RANK");
  if (argc < 2 || std::string(argv[1]) != "rmpi") {
    std::printf("rank %s affinity %s\n", rank ? rank : "?", affinity_list().c_str());
    return 0;
  }
  rmpi::Comm world = rmpi::init(argc, argv);
  const rmpi::Comm half = rmpi::comm_split(world, world.rank() % 2, world.rank() / 2);
  std::printf("rank %d local %d/%d half %d/%d topology %s\n", world.rank(), rmpi::local_rank(world),
              rmpi::local_size(world), rmpi::local_rank(half), rmpi::local_size(half),
              rmpi::host_topology().summary().c_str());
  rmpi::finish();
  return 0;
}

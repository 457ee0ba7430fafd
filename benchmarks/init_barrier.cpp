// rmpi-init-barrier: init, one barrier, exit. What `benchmarks/compare` times to
// measure launch (`rmpirun -n 4 build/bin/rmpi-init-barrier`), against
// mpi-init-barrier.c under mpirun / mpiexec.
#include <cstdio>
#include <exception>
#include <rmpi/rmpi.hpp>

int main(int argc, char** argv) {
  try {
    rmpi::Comm comm = rmpi::init(argc, argv);
    rmpi::barrier(comm);
    rmpi::finish();
    return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "rmpi-init-barrier: %s\n", e.what());
    return 1;
  }
}

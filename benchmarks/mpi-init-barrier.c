/* mpi-init-barrier: MPI_Init, one MPI_Barrier, MPI_Finalize; the plain-MPI twin of
 * init_barrier.cpp, built by benchmarks/compare with mpicc.openmpi / mpicc.mpich. */
#include <mpi.h>

int main(int argc, char** argv) {
  MPI_Init(&argc, &argv);
  MPI_Barrier(MPI_COMM_WORLD);
  MPI_Finalize();
  return 0;
}

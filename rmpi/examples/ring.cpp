// ring: a token goes around the ranks `laps` times; every rank adds one to
// it and passes it to the next. Rank 0 prints the final count.
//
//   rmpirun -n 5 build/bin/ring [laps]
#include <cstdio>
#include <cstdlib>
#include <exception>

#include <rmpi/rmpi.hpp>

int main(int argc, char** argv) {
  try {
    rmpi::Comm comm = rmpi::init(argc, argv);
    const int laps = argc > 1 ? std::atoi(argv[1]) : 1;
    const int id = rmpi::rmpi_id(comm);
    const int cnt = rmpi::rmpi_cnt(comm);
    const int next = (id + 1) % cnt;
    const int prev = (id + cnt - 1) % cnt;
    long token = 0;
    for (int lap = 0; lap < laps; ++lap) {
      if (id == 0) {
        rmpi::send(comm, next, token + 1);
        token = rmpi::recv<long>(comm, prev);
      } else {
        token = rmpi::recv<long>(comm, prev);
        rmpi::send(comm, next, token + 1);
      }
    }
    if (id == 0) std::printf("ring of %d ranks, %d laps: count = %ld\n", cnt, laps, token);
    rmpi::finish();
    return id == 0 && token != static_cast<long>(cnt) * laps ? 1 : 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "ring: %s\n", e.what());
    return 1;
  }
}

// The programmatic launch (the reference's rmpi-launch) on this host: four
// ranks, each a named place on its own node, sum 1..N with allreduce over
// their partitions; rank 0 prints the sum, then every rank finishes.
#include <rmpi/error.hpp>
#include <rmpi/launch.hpp>
#include <rmpi/places.hpp>
#include <rmpi/rmpi.hpp>

#include <cstdint>
#include <iostream>

namespace rp = rmpi::places;

// args = (N): rank r adds the integers of its partition of 1..N.
void rmpi_worker(rp::PlaceChannel ch) {
  auto [comm, args, tc] = rmpi::init(ch);
  const auto n = static_cast<std::size_t>(args[0].as_int());
  const auto [offset, length] = rmpi::partition(comm, n);
  std::int64_t part = 0;
  for (std::size_t i = offset; i < offset + length; ++i) part += static_cast<std::int64_t>(i + 1);
  const std::int64_t total = rmpi::allreduce(comm, rmpi::op::sum, part);
  if (comm.id() == 0)
    std::cout << "launch-demo: " << comm.cnt() << " ranks, sum 1.." << n << " = " << total << std::endl;
  rmpi::finish(comm, tc);
}
RMPI_PLACE(rmpi_worker);

int main(int argc, char** argv) {
  rp::init(argc, argv);  // in a place process, runs rmpi_worker and never returns
  try {
    rmpi::launch(rmpi::build_default_config({.mpi_func = "rmpi_worker", .mpi_args = rp::list(1000)}),
                 rmpi::make_localhost_config(4, 0, "worker"));
  } catch (const rmpi::Error& e) {
    std::cerr << "launch-demo: " << e.what() << std::endl;
    return 1;
  }
  std::cout << "launch-demo: done" << std::endl;
  return 0;
}

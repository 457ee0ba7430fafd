// pi: numerical integration of 4 / (1 + x^2) over [0, 1] (= pi) by the
// midpoint rule. Each rank integrates its `partition` of the intervals;
// `reduce` sums the parts at rank 0, which prints pi to 10 digits.
//
//   rmpirun -n 4 build/bin/pi [intervals]
#include <cstdio>
#include <cstdlib>
#include <exception>

#include <rmpi/rmpi.hpp>

int main(int argc, char** argv) {
  try {
    rmpi::Comm comm = rmpi::init(argc, argv);
    const std::size_t intervals = argc > 1 ? std::strtoull(argv[1], nullptr, 10) : 50'000'000;
    const double h = 1.0 / static_cast<double>(intervals);
    const auto [offset, length] = rmpi::partition(comm, intervals);
    double part = 0.0;
    for (std::size_t i = offset; i < offset + length; ++i) {
      const double x = (static_cast<double>(i) + 0.5) * h;
      part += 4.0 / (1.0 + x * x);
    }
    const double pi = rmpi::reduce(comm, 0, rmpi::op::sum, part * h);
    if (rmpi::rmpi_id(comm) == 0) std::printf("pi = %.10f\n", pi);
    rmpi::finish();
    return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "pi: %s\n", e.what());
    return 1;
  }
}

// Rabenseifner's allreduce (reduce-scatter + allgather) in place on spans.
#include <rmpi/collectives/rabenseifner.hpp>

#include <doctest/doctest.h>

#include "algorithm_checks.hpp"

namespace rc = rmpi::collectives;
using rc::InMemoryTransport;

TEST_CASE("Rabenseifner: serial result, rank order, identical bits, any length") {
  rc::test::check_span_allreduce(
      [](InMemoryTransport& t, auto o, auto data) { rc::allreduce_rabenseifner(t, o, data); }, true);
}

TEST_CASE("Rabenseifner sends each rank about 2 N (p - 1) / p elements, not N log2 p") {
  constexpr std::size_t kLength = 1024;
  rc::InMemoryWorld world(8);
  world.run([](InMemoryTransport& t) {
    std::vector<double> data(kLength, 1.0);
    rc::allreduce_rabenseifner(t, rmpi::op::sum, std::span<double>(data));
    CHECK(data == std::vector<double>(kLength, 8.0));
  });
  // 3 halving and 3 doubling steps per rank.
  CHECK(world.messages_sent() == 8 * 6);
}

// Van de Geijn's broadcast (binomial scatter + ring allgather) in place, and
// the hypercube broadcast in place, at every root.
#include <rmpi/collectives/scatter_allgather.hpp>

#include <doctest/doctest.h>

#include <rmpi/collectives/broadcast.hpp>

#include "algorithm_checks.hpp"

namespace rc = rmpi::collectives;
using rc::InMemoryTransport;

TEST_CASE("scatter-allgather broadcast delivers the root's data, every size and root") {
  rc::test::check_span_broadcast(
      [](InMemoryTransport& t, int root, auto data) { rc::broadcast_scatter_allgather(t, root, data); });
}

TEST_CASE("hypercube broadcast in place, every size and root") {
  rc::test::check_span_broadcast(
      [](InMemoryTransport& t, int root, auto data) { rc::broadcast_hypercube(t, root, data); });
}

TEST_CASE("a broadcast buffer of another length than the root's is an error naming both") {
  rc::InMemoryWorld world(3);
  CHECK_THROWS_WITH_AS(world.run([](InMemoryTransport& t) {
    std::vector<int> data(t.rank() == 0 ? 4 : 5);
    rc::broadcast_hypercube(t, 0, std::span<int>(data));
  }),
                       doctest::Contains("has room for 5 elements"), std::length_error);
}

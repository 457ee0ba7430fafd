// Bruck's allgather, of opaque values and in place.
#include <rmpi/collectives/bruck.hpp>

#include <doctest/doctest.h>

#include "algorithm_checks.hpp"

namespace rc = rmpi::collectives;
using rc::InMemoryTransport;

TEST_CASE("Bruck allgather of opaque values, in rank order") {
  rc::test::check_value_allgather(
      [](InMemoryTransport& t, const auto& v) { return rc::allgather_bruck(t, v); });
}

TEST_CASE("Bruck allgather in place") {
  rc::test::check_span_allgather(
      [](InMemoryTransport& t, auto data) { rc::allgather_bruck(t, data); });
}

TEST_CASE("Bruck allgather takes ceil(log2 p) rounds") {
  rc::InMemoryWorld world(13);
  world.run([](InMemoryTransport& t) { (void)rc::allgather_bruck(t, t.rank()); });
  CHECK(world.messages_sent() == 13 * 4);
}

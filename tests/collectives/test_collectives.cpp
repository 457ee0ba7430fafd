// The umbrella header: everything together, as a user writes it.
#include <doctest/doctest.h>

#include <rmpi/collectives.hpp>
#include <vector>

#include "support.hpp"

namespace rc = rmpi::collectives;

TEST_CASE("the umbrella header gives a complete program: partial sums to a total") {
  rc::InMemoryWorld world(6);
  const auto totals = rc::test::run_ranks(world, [](rc::InMemoryTransport& t) {
    const double local = 1.0 + t.rank();
    auto total = rc::allreduce(t, rmpi::op::sum, local);
    rc::barrier(t);
    const auto all = rc::allgather(t, total);
    return total + static_cast<double>(all.size());
  });
  for (double total : totals) CHECK(total == 21.0 + 6.0);
  CHECK(world.pending_messages() == 0);
}

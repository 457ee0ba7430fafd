// allgather over the in-memory transport: every size, every rank.
#include <doctest/doctest.h>

#include <rmpi/collectives/allgather.hpp>
#include <rmpi/collectives/in_memory.hpp>
#include <vector>

#include "support.hpp"

namespace rc = rmpi::collectives;
using rc::InMemoryTransport;

TEST_CASE("allgather gives every rank all values in rank order") {
  for (int p : rc::test::sizes()) {
    CAPTURE(p);
    rc::InMemoryWorld world(p);
    const auto results = rc::test::run_ranks(world, [](InMemoryTransport& t) {
      const int r = t.rank();
      return std::tuple(rc::allgather(t, r * 3 - 1), rc::allgather(t, 1.5 * r),
                        rc::allgather(t, std::vector<double>(r % 4, 0.25 * r)),
                        rc::allgather(t, std::vector<int>{r, r * r}));
    });
    CHECK(world.pending_messages() == 0);
    std::vector<int> ints;
    std::vector<double> doubles;
    std::vector<std::vector<double>> vd;
    std::vector<std::vector<int>> vi;
    for (int q = 0; q < p; ++q) {
      ints.push_back(q * 3 - 1);
      doubles.push_back(1.5 * q);
      vd.emplace_back(q % 4, 0.25 * q);
      vi.push_back({q, q * q});
    }
    for (int r = 0; r < p; ++r) {
      CHECK(std::get<0>(results[r]) == ints);
      CHECK(std::get<1>(results[r]) == doubles);
      CHECK(std::get<2>(results[r]) == vd);
      CHECK(std::get<3>(results[r]) == vi);
    }
  }
}

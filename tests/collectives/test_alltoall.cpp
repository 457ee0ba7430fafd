// alltoall over the in-memory transport: every size, element i to rank i.
#include <doctest/doctest.h>

#include <rmpi/collectives/alltoall.hpp>
#include <rmpi/collectives/in_memory.hpp>
#include <stdexcept>
#include <string>
#include <vector>

#include "support.hpp"

namespace rc = rmpi::collectives;
using rc::InMemoryTransport;

TEST_CASE("alltoall sends element i of every rank to rank i") {
  for (int p : rc::test::sizes()) {
    CAPTURE(p);
    rc::InMemoryWorld world(p);
    const auto results = rc::test::run_ranks(world, [](InMemoryTransport& t) {
      const int r = t.rank();
      std::vector<int> ints;
      std::vector<double> doubles;
      std::vector<std::vector<double>> vd;
      std::vector<std::vector<int>> vi;
      for (int i = 0; i < t.size(); ++i) {
        ints.push_back(r * 1000 + i);
        doubles.push_back(r + 0.001 * i);
        vd.emplace_back((r + i) % 3, 1.0 * r - i);
        vi.push_back({r, i});
      }
      return std::tuple(rc::alltoall(t, ints), rc::alltoall(t, doubles), rc::alltoall(t, vd),
                        rc::alltoall(t, vi));
    });
    CHECK(world.pending_messages() == 0);
    CHECK(world.messages_sent() == static_cast<std::size_t>(4 * p * (p - 1)));
    for (int r = 0; r < p; ++r) {
      const auto& [ints, doubles, vd, vi] = results[r];
      REQUIRE(ints.size() == static_cast<std::size_t>(p));
      REQUIRE(vd.size() == static_cast<std::size_t>(p));
      for (int i = 0; i < p; ++i) {
        CHECK(ints[i] == i * 1000 + r);
        CHECK(doubles[i] == i + 0.001 * r);
        CHECK(vd[i] == std::vector<double>((i + r) % 3, 1.0 * i - r));
        CHECK(vi[i] == std::vector<int>{i, r});
      }
    }
  }
}

TEST_CASE("alltoall rejects a vector that has not one element per rank") {
  rc::InMemoryWorld world(3);
  CHECK_THROWS_WITH_AS(world.run([](InMemoryTransport& t) {
    (void)rc::alltoall(t, std::vector<int>(t.rank() == 1 ? 2 : 3, 0));
  }),
                       "rmpi::collectives::alltoall: rank 1 passed 2 values for 3 ranks",
                       std::invalid_argument);
}

// gather over the in-memory transport: every size, every root, rank order.
#include <doctest/doctest.h>

#include <rmpi/collectives/gather.hpp>
#include <rmpi/collectives/in_memory.hpp>
#include <rmpi/collectives/schedule.hpp>
#include <string>
#include <vector>

#include "support.hpp"

namespace rc = rmpi::collectives;
using rc::InMemoryTransport;

TEST_CASE("gather collects every rank's value at the root, in rank order") {
  for (int p : rc::test::sizes()) {
    CAPTURE(p);
    rc::InMemoryWorld world(p);
    const auto ints = rc::test::run_all_roots(world, [](InMemoryTransport& t, int root) {
      return rc::gather(t, root, t.rank() * 10 + root);
    });
    const auto doubles = rc::test::run_all_roots(world, [](InMemoryTransport& t, int root) {
      return rc::gather(t, root, 0.5 * t.rank() - root);
    });
    const auto vd = rc::test::run_all_roots(world, [](InMemoryTransport& t, int root) {
      return rc::gather(t, root, std::vector<double>(t.rank() % 3, 1.0 * t.rank()));
    });
    const auto vi = rc::test::run_all_roots(world, [](InMemoryTransport& t, int root) {
      return rc::gather(t, root, std::vector<int>{t.rank(), root});
    });
    CHECK(world.pending_messages() == 0);
    for (int root = 0; root < p; ++root) {
      CAPTURE(root);
      for (int r = 0; r < p; ++r) {
        if (r != root) {
          CHECK(ints[root][r].empty());
          CHECK(vd[root][r].empty());
          continue;
        }
        REQUIRE(ints[root][r].size() == static_cast<std::size_t>(p));
        REQUIRE(doubles[root][r].size() == static_cast<std::size_t>(p));
        REQUIRE(vd[root][r].size() == static_cast<std::size_t>(p));
        REQUIRE(vi[root][r].size() == static_cast<std::size_t>(p));
        for (int q = 0; q < p; ++q) {
          CHECK(ints[root][r][q] == q * 10 + root);
          CHECK(doubles[root][r][q] == 0.5 * q - root);
          CHECK(vd[root][r][q] == std::vector<double>(q % 3, 1.0 * q));
          CHECK(vi[root][r][q] == std::vector<int>{q, root});
        }
      }
    }
  }
}

TEST_CASE("gather is a tree: the root receives ceil(log2 p) messages, not p - 1") {
  for (int p : {1, 2, 3, 7, 16, 17, 33}) {
    for (int root : {0, p - 1}) {
      CAPTURE(p);
      CAPTURE(root);
      rc::InMemoryWorld world(p);
      const auto got = rc::test::run_ranks(world, [&](InMemoryTransport& t) {
        return rc::gather(t, root, std::string(1, static_cast<char>('a' + t.rank() % 26)));
      });
      CHECK(world.messages_sent() == static_cast<std::size_t>(p - 1));
      CHECK(world.messages_received(root) == static_cast<std::size_t>(rc::hypercube_rounds(p)));
      REQUIRE(got[root].size() == static_cast<std::size_t>(p));
      CHECK(got[root].back() == std::string(1, static_cast<char>('a' + (p - 1) % 26)));
    }
  }
}

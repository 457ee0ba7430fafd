// broadcast over the in-memory transport, every size and every root.
#include <doctest/doctest.h>

#include <rmpi/collectives/broadcast.hpp>
#include <rmpi/collectives/in_memory.hpp>
#include <rmpi/collectives/schedule.hpp>
#include <stdexcept>
#include <string>
#include <vector>

#include "support.hpp"

namespace rc = rmpi::collectives;
using rc::InMemoryTransport;

TEST_CASE("broadcast delivers the root's int, double and vectors everywhere") {
  for (int p : rc::test::sizes()) {
    CAPTURE(p);
    rc::InMemoryWorld world(p);
    // Non-roots pass values that must be ignored.
    const auto ints = rc::test::run_all_roots(world, [](InMemoryTransport& t, int root) {
      return rc::broadcast(t, root, t.rank() * 31 + root * 7 + 1);
    });
    const auto doubles = rc::test::run_all_roots(world, [](InMemoryTransport& t, int root) {
      return rc::broadcast(t, root, 0.1 * t.rank() + 0.01 * root);
    });
    const auto vd = rc::test::run_all_roots(world, [](InMemoryTransport& t, int root) {
      return rc::broadcast(t, root, std::vector<double>(t.rank() + 1, 0.5 * t.rank()));
    });
    const auto vi = rc::test::run_all_roots(world, [](InMemoryTransport& t, int root) {
      // The non-root overload: only the root has a value.
      if (t.rank() == root) return rc::broadcast(t, root, std::vector<int>{root, -root, 42});
      return rc::broadcast<std::vector<int>>(t, root);
    });
    CHECK(world.pending_messages() == 0);
    for (int root = 0; root < p; ++root) {
      for (int r = 0; r < p; ++r) {
        CHECK(ints[root][r] == root * 31 + root * 7 + 1);
        CHECK(doubles[root][r] == 0.1 * root + 0.01 * root);
        CHECK(vd[root][r] == std::vector<double>(root + 1, 0.5 * root));
        CHECK(vi[root][r] == std::vector<int>{root, -root, 42});
      }
    }
  }
}

TEST_CASE("broadcast sends p - 1 messages in ceil(log2 p) rounds") {
  for (int p : {1, 2, 5, 8, 13, 33}) {
    for (int root : {0, p / 2, p - 1}) {
      rc::InMemoryWorld world(p);
      world.run([&](InMemoryTransport& t) { (void)rc::broadcast(t, root, std::string("x")); });
      CHECK(world.messages_sent() == static_cast<std::size_t>(p - 1));
      // The root's last child hears in the last round; it received once.
      for (int r = 0; r < p; ++r) CHECK(world.messages_received(r) == (r == root ? 0u : 1u));
    }
  }
}

TEST_CASE("broadcast rejects a bad root and a root without a value") {
  rc::InMemoryWorld world(3);
  CHECK_THROWS_AS(world.run([](InMemoryTransport& t) { (void)rc::broadcast(t, 3, 1); }),
                  std::invalid_argument);
  CHECK_THROWS_WITH_AS(
      world.run([](InMemoryTransport& t) {
        if (t.rank() == 1) (void)rc::broadcast<int>(t, 1);
      }),
      "rmpi::collectives::broadcast: the root (rank 1) must pass the value to broadcast",
      std::invalid_argument);
}

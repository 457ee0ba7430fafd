// Dissemination barrier: nobody leaves before everyone came.
#include <rmpi/collectives/dissemination.hpp>

#include <doctest/doctest.h>

#include <atomic>
#include <rmpi/collectives/in_memory.hpp>
#include <rmpi/collectives/schedule.hpp>
#include <vector>

#include "support.hpp"

namespace rc = rmpi::collectives;
using rc::InMemoryTransport;

TEST_CASE("no rank leaves a dissemination barrier before every rank has entered it") {
  constexpr int kRepeats = 10;
  for (int p : rc::test::sizes()) {
    CAPTURE(p);
    rc::InMemoryWorld world(p);
    std::vector<std::atomic<int>> arrived(kRepeats);
    const auto early = rc::test::run_ranks(world, [&](InMemoryTransport& t) {
      int seen_early = 0;
      for (int k = 0; k < kRepeats; ++k) {
        ++arrived[k];
        rc::barrier_dissemination(t);
        if (arrived[k].load() != t.size()) ++seen_early;
      }
      return seen_early;
    });
    for (int r = 0; r < p; ++r) CHECK(early[r] == 0);
    CHECK(world.pending_messages() == 0);
    // ceil(log2 p) rounds of one message per rank.
    CHECK(world.messages_sent() ==
          static_cast<std::size_t>(kRepeats * p * rc::hypercube_rounds(p)));
  }
}

TEST_CASE("a rank that skips the dissemination barrier is reported as deadlock") {
  rc::InMemoryWorld world(5);
  CHECK_THROWS_AS(world.run([](InMemoryTransport& t) {
    if (t.rank() != 3) rc::barrier_dissemination(t);
  }),
                  rc::TransportDeadlock);
}

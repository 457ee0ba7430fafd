// barrier over the in-memory transport: nobody leaves before everyone came.
#include <doctest/doctest.h>

#include <atomic>
#include <rmpi/collectives/barrier.hpp>
#include <rmpi/collectives/in_memory.hpp>
#include <rmpi/collectives/schedule.hpp>
#include <vector>

#include "support.hpp"

namespace rc = rmpi::collectives;
using rc::InMemoryTransport;

TEST_CASE("no rank leaves a barrier before every rank has entered it") {
  constexpr int kRepeats = 20;
  for (int p : rc::test::sizes()) {
    CAPTURE(p);
    rc::InMemoryWorld world(p);
    std::vector<std::atomic<int>> arrived(kRepeats);
    const auto early = rc::test::run_ranks(world, [&](InMemoryTransport& t) {
      int seen_early = 0;
      for (int k = 0; k < kRepeats; ++k) {
        ++arrived[k];
        rc::barrier(t);
        if (arrived[k].load() != t.size()) ++seen_early;
      }
      return seen_early;
    });
    for (int r = 0; r < p; ++r) CHECK(early[r] == 0);
    CHECK(world.pending_messages() == 0);
    // A reduce and a broadcast: 2 (p - 1) messages per barrier.
    CHECK(world.messages_sent() == static_cast<std::size_t>(kRepeats * 2 * (p - 1)));
  }
}

TEST_CASE("a rank that skips the barrier leaves the others waiting (reported as deadlock)") {
  rc::InMemoryWorld world(4);
  CHECK_THROWS_AS(world.run([](InMemoryTransport& t) {
    if (t.rank() != 2) rc::barrier(t);
  }),
                  rc::TransportDeadlock);
}

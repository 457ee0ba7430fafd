// The in-memory transport: FIFO per (src, dst, tag), matching on (src, tag),
// typed receives, error propagation and deadlock detection.
#include <doctest/doctest.h>

#include <atomic>
#include <rmpi/collectives/in_memory.hpp>
#include <rmpi/collectives/transport.hpp>
#include <stdexcept>
#include <string>
#include <vector>

#include "support.hpp"

namespace rc = rmpi::collectives;

static_assert(rc::PointToPoint<rc::InMemoryTransport>);
static_assert(!rc::PointToPoint<int>);

TEST_CASE("a world runs one thread per rank with its rank and size") {
  rc::InMemoryWorld world(7);
  CHECK(world.size() == 7);
  const auto seen = rc::test::run_ranks(world, [](rc::InMemoryTransport& t) {
    return std::vector<int>{t.rank(), t.size()};
  });
  for (int r = 0; r < 7; ++r) CHECK(seen[r] == std::vector<int>{r, 7});
  CHECK_THROWS_AS(rc::InMemoryWorld(0), std::invalid_argument);
}

TEST_CASE("messages between one pair and tag arrive in order; recv matches (src, tag)") {
  rc::InMemoryWorld world(3);
  const auto got = rc::test::run_ranks(world, [](rc::InMemoryTransport& t) {
    std::vector<int> out;
    if (t.rank() == 0) {
      for (int i = 0; i < 100; ++i) t.send(2, 0, i);
      t.send(2, 1, -1);
    } else if (t.rank() == 1) {
      t.send(2, 0, 1000);
    } else {
      out.push_back(t.recv<int>(0, 1));  // tag 1 overtakes the tag-0 queue
      out.push_back(t.recv<int>(1, 0));  // another source overtakes too
      for (int i = 0; i < 100; ++i) out.push_back(t.recv<int>(0, 0));
    }
    return out;
  });
  REQUIRE(got[2].size() == 102);
  CHECK(got[2][0] == -1);
  CHECK(got[2][1] == 1000);
  for (int i = 0; i < 100; ++i) CHECK(got[2][i + 2] == i);
  CHECK(world.pending_messages() == 0);
  CHECK(world.messages_sent() == 102);
  CHECK(world.messages_received(2) == 102);
  CHECK(world.messages_received(0) == 0);
}

TEST_CASE("a rank can send to itself, and values of any copyable type travel") {
  rc::InMemoryWorld world(1);
  const auto got = rc::test::run_ranks(world, [](rc::InMemoryTransport& t) {
    t.send(0, 0, std::string("self"));
    return t.recv<std::string>(0, 0);
  });
  CHECK(got[0] == "self");
}

TEST_CASE("a receive of the wrong type throws TransportTypeError and keeps the message") {
  rc::InMemoryWorld world(2);
  CHECK_THROWS_AS(world.run([](rc::InMemoryTransport& t) {
    if (t.rank() == 0) t.send(1, 0, 3.5);
    if (t.rank() == 1) (void)t.recv<int>(0, 0);
  }),
                  rc::TransportTypeError);
  try {
    world.run([](rc::InMemoryTransport& t) {
      if (t.rank() == 0) t.send(1, 4, 3.5);
      if (t.rank() == 1) (void)t.recv<int>(0, 4);
    });
    FAIL("no exception");
  } catch (const rc::TransportTypeError& e) {
    const std::string what = e.what();
    CHECK(what.find("rank 1 expected int from rank 0 (tag 4)") != std::string::npos);
    CHECK(what.find("double") != std::string::npos);
  }
  CHECK(world.pending_messages() == 1);
}

TEST_CASE("the first exception of any rank is rethrown; blocked ranks are unwound") {
  rc::InMemoryWorld world(5);
  std::atomic<int> unwound{0};
  try {
    world.run([&](rc::InMemoryTransport& t) {
      if (t.rank() == 3) throw std::runtime_error("rank 3 failed");
      try {
        (void)t.recv<int>((t.rank() + 1) % 5, 0);  // never sent
      } catch (const rc::TransportAborted&) {
        ++unwound;
        throw;
      }
    });
    FAIL("no exception");
  } catch (const std::runtime_error& e) {
    CHECK(std::string(e.what()) == "rank 3 failed");
  }
  CHECK(unwound == 4);
}

TEST_CASE("a deadlock is reported instead of hanging") {
  rc::InMemoryWorld world(3);
  try {
    world.run([](rc::InMemoryTransport& t) {
      if (t.rank() == 0) return;  // finishes without sending
      (void)t.recv<int>(0, 0);
    });
    FAIL("no exception");
  } catch (const rc::TransportDeadlock& e) {
    const std::string what = e.what();
    CHECK(what.find("rank 1 waits for rank 0 tag 0") != std::string::npos);
    CHECK(what.find("rank 2 waits for rank 0 tag 0") != std::string::npos);
  }
  // The same world runs again, from empty queues.
  const auto got = rc::test::run_ranks(world, [](rc::InMemoryTransport& t) {
    if (t.rank() == 0) {
      t.send(1, 0, 1);
      t.send(2, 0, 2);
      return 0;
    }
    return t.recv<int>(0, 0);
  });
  CHECK(got == std::vector<int>{0, 1, 2});
}

TEST_CASE("ranks outside the world are rejected") {
  rc::InMemoryWorld world(2);
  CHECK_THROWS_AS(world.run([](rc::InMemoryTransport& t) { t.send(2, 0, 1); }), std::out_of_range);
  CHECK_THROWS_AS(world.run([](rc::InMemoryTransport& t) { (void)t.recv<int>(-1, 0); }),
                  std::out_of_range);
}

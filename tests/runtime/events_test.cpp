// The router loop: after_seconds / every_seconds timed from the loop's
// start, posted work, and RestartPolicy values.
#include <rmpi/event.hpp>

#include <doctest/doctest.h>

#include <chrono>
#include <cmath>
#include <limits>
#include <string>
#include <thread>
#include <vector>

#include <rmpi/error.hpp>
#include <rmpi/restart.hpp>

namespace rp = rmpi::places;

TEST_CASE("after_seconds timers fire in time order, counted from the loop's start") {
  rp::EventLoop loop;
  std::vector<int> order;
  auto c = rp::after_seconds(0.15, [&] {
    order.push_back(3);
    loop.stop();
  });
  auto a = rp::after_seconds(0.05, [&] { order.push_back(1); });
  auto b = rp::after_seconds(0.1, [&] { order.push_back(2); });
  loop.add(c);
  loop.add(a);
  loop.add(b);
  const auto start = std::chrono::steady_clock::now();
  loop.run();
  const auto took = std::chrono::steady_clock::now() - start;
  CHECK(order == std::vector<int>{1, 2, 3});
  CHECK(took >= std::chrono::milliseconds(150));
  CHECK(took < std::chrono::seconds(5));
}

TEST_CASE("every_seconds fires repeatedly") {
  rp::EventLoop loop;
  int ticks = 0;
  std::vector<std::chrono::steady_clock::time_point> at;
  auto every = rp::every_seconds(0.02, [&] {
    at.push_back(std::chrono::steady_clock::now());
    if (++ticks == 5) loop.stop();
  });
  loop.add(every);
  const auto start = std::chrono::steady_clock::now();
  loop.run();
  REQUIRE(ticks == 5);
  CHECK(at.back() - start >= std::chrono::milliseconds(100));
  for (std::size_t i = 1; i < at.size(); ++i) CHECK(at[i] >= at[i - 1]);
}

TEST_CASE("every_seconds rejects a period that is not a positive number of seconds") {
  for (double bad : {0.0, -1.0, std::nan(""), std::numeric_limits<double>::infinity()}) {
    CAPTURE(bad);
    CHECK_THROWS_WITH_AS(rp::every_seconds(bad, [] {}), doctest::Contains("every_seconds: the period"),
                         rmpi::ConfigError);
  }
  CHECK_NOTHROW(rp::every_seconds(1e-6, [] {}));
}

TEST_CASE("work posted from another thread runs on the loop's thread") {
  rp::EventLoop loop;
  std::thread::id ran_on;
  std::thread poster([&] {
    loop.post([&] {
      ran_on = std::this_thread::get_id();
      loop.stop();
    });
  });
  loop.run();
  poster.join();
  const bool same_thread = ran_on == std::this_thread::get_id();
  CHECK(same_thread);
}

TEST_CASE("RestartPolicy: off, respawn, procedure, restarter") {
  rp::RestartPolicy off;
  CHECK_FALSE(off.enabled());
  rp::RestartPolicy now = true;
  CHECK(now.enabled());
  CHECK(now.respawns_at_once());
  int called = 0;
  rp::RestartPolicy proc = [&] { ++called; };
  REQUIRE(proc.procedure() != nullptr);
  (*proc.procedure())();
  CHECK(called == 1);
  rp::RestartPolicy every = rp::restart_every(2.0, 3);
  REQUIRE(every.restarter() != nullptr);
  CHECK(every.restarter()->seconds == 2.0);
  CHECK(every.restarter()->retry == 3);
  CHECK_FALSE(rp::RestartPolicy(false).enabled());
}

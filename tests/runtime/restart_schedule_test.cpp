// RestartSchedule (a Restarter's decisions) driven by a controllable clock:
// the delay before each restart, giving up after `retry` restarts in a row,
// and the count reset once the place stayed alive 2 × seconds.
#include <rmpi/restart_schedule.hpp>

#include <doctest/doctest.h>

#include <chrono>

namespace rp = rmpi::places;
using rp::detail::RestartSchedule;
using namespace std::chrono_literals;

namespace {
/// A clock the test moves by hand.
struct ManualClock {
  RestartSchedule::Clock::time_point now{};
  void advance(RestartSchedule::Clock::duration d) { now += d; }
};
}  // namespace

TEST_CASE("a restart waits `seconds`; retries run out after exactly `retry` restarts") {
  ManualClock clock;
  RestartSchedule s(rp::restart_every(2.0, 3), clock.now);
  for (int attempt = 1; attempt <= 3; ++attempt) {
    clock.advance(100ms);  // the place dies quickly
    auto r = s.exited(clock.now);
    REQUIRE(r.has_value());
    CHECK(r->delay == 2s);
    CHECK(r->attempt == attempt);
    clock.advance(r->delay);
    s.started(clock.now);
  }
  clock.advance(100ms);
  CHECK_FALSE(s.exited(clock.now).has_value());
  CHECK(s.tries() == 3);
}

TEST_CASE("the count resets once the place stayed alive 2 x seconds, not before") {
  ManualClock clock;
  RestartSchedule s(rp::restart_every(1.0, 2), clock.now);
  clock.advance(10ms);
  CHECK(s.exited(clock.now)->attempt == 1);
  clock.advance(1s);
  s.started(clock.now);
  clock.advance(1999ms);  // just short of 2 x seconds: still counted
  CHECK(s.exited(clock.now)->attempt == 2);
  clock.advance(1s);
  s.started(clock.now);
  clock.advance(2s);  // alive 2 x seconds: a fresh count
  auto r = s.exited(clock.now);
  REQUIRE(r.has_value());
  CHECK(r->attempt == 1);
  CHECK(s.tries() == 1);
}

TEST_CASE("without retry the place is restarted forever; 0 retries give up at once") {
  ManualClock clock;
  RestartSchedule forever(rp::restart_every(0.5), clock.now);
  for (int i = 1; i <= 1000; ++i) {
    auto r = forever.exited(clock.now);
    REQUIRE(r.has_value());
    CHECK(r->attempt == i);
    forever.started(clock.now);
  }
  RestartSchedule never(rp::restart_every(0.5, 0), clock.now);
  CHECK_FALSE(never.exited(clock.now).has_value());
}

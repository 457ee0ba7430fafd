// Places without a node: dynamic_place (child processes of this test
// binary running registered functions), place (threads), thunks, init.
#include <rmpi/place.hpp>

#include <doctest/doctest.h>

#include <chrono>
#include <csignal>
#include <cstdlib>
#include <iostream>
#include <string>
#include <vector>

#include <rmpi/error.hpp>
#include <rmpi/log.hpp>

#include "test_places.hpp"

namespace rp = rmpi::places;
using rp::PlaceChannel;
using rp::Value;

namespace {

void echo_doubles(PlaceChannel ch) {
  auto v = ch.get<std::vector<double>>();
  for (auto& x : v) x *= 2;
  ch.put(v);
}
RMPI_PLACE(echo_doubles);

void waits_forever(PlaceChannel ch) {
  ch.put(std::string("ready"));
  for (;;) (void)ch.get<Value>();
}
RMPI_PLACE(waits_forever);

rp::Place echo_thunk() { return rp::place(rmpi::testing::places::echo); }
RMPI_PLACE_THUNK(echo_thunk);

const bool place_mode = rp::init_at_startup();

}  // namespace

TEST_CASE("values of every kind round-trip through a place process") {
  rp::Place p = rp::dynamic_place("echo");
  CHECK(p.pid() > 0);
  std::vector<Value> values = {
      Value(),
      Value(true),
      Value(false),
      Value(std::int64_t{-42}),
      Value(std::int64_t{1} << 62),
      Value(3.25),
      Value("hello"),
      Value(std::string()),
      rp::sym("a-symbol"),
      Value(rp::Bytes{{0, 1, 2, 255}}),
      Value(rp::List{}),
      rp::list(rp::sym("set"), "user0", 100, rp::list(1.5, rp::list("nested", rp::List{}))),
      Value(rp::Map{{Value("k"), Value(1)}, {rp::sym("s"), rp::list(1, 2)}}),
      Value(std::string(1 << 20, 'x')),
  };
  for (const auto& v : values) {
    p.put(v);
    auto back = p.channel().get_for<Value>(std::chrono::seconds(20));
    REQUIRE(back.has_value());
    CHECK(*back == v);
  }
  p.put(rp::sym("stop"));
  CHECK(p.wait() == 0);
}

TEST_CASE("messages arrive in the order sent, and typed messages work") {
  rp::Place p = rp::dynamic_place("echo");
  for (int i = 0; i < 500; ++i) p.put(Value(i));
  for (int i = 0; i < 500; ++i) {
    auto v = p.channel().get_for<Value>(std::chrono::seconds(20));
    REQUIRE(v.has_value());
    CHECK(v->as_int() == i);
  }
  p.put(rp::sym("stop"));
  CHECK(p.wait() == 0);

  rp::Place d = rp::dynamic_place("echo_doubles");
  d.put(std::vector<double>{1.0, 2.5, -4.0});
  auto r = d.channel().get_for<std::vector<double>>(std::chrono::seconds(20));
  REQUIRE(r.has_value());
  CHECK(*r == std::vector<double>{2.0, 5.0, -8.0});
  CHECK(d.wait() == 0);
}

TEST_CASE("a function that is not registered is an error naming it and the executable") {
  try {
    rp::dynamic_place("no_such_function");
    FAIL("dynamic_place did not throw");
  } catch (const rmpi::NameError& e) {
    const std::string what = e.what();
    CHECK(what.find("no_such_function") != std::string::npos);
    CHECK(what.find(rp::executable_path()) != std::string::npos);
  }
}

TEST_CASE("a place's exit status is reported: exit 3, throw, kill") {
  rp::Place a = rp::dynamic_place("exits_3");
  CHECK(a.get<std::string>() == "bye");
  a.put(Value(true));
  CHECK(a.wait() == 3);

  rp::Place b = rp::dynamic_place("throws");
  b.put(Value(1));
  CHECK(b.wait() == 1);

  rp::Place c = rp::dynamic_place("waits_forever");
  CHECK(c.get<std::string>() == "ready");
  c.kill();
  CHECK(c.wait() == 128 + SIGKILL);
  CHECK_THROWS_AS(c.channel().get<Value>(), rmpi::ChannelClosed);
}

TEST_CASE("place(fn) runs on a thread with an in-memory channel") {
  rp::Place p = rp::place([](PlaceChannel ch) {
    const int n = static_cast<int>(ch.get<Value>().as_int());
    ch.put(Value(n * 2));
  });
  CHECK(p.pid() == 0);
  p.put(Value(21));
  CHECK(p.get<Value>().as_int() == 42);
  CHECK(p.wait() == 0);
  CHECK_THROWS_AS(p.channel().get<Value>(), rmpi::ChannelClosed);

  rp::Place q = rp::place([](PlaceChannel) { throw std::runtime_error("thread place failure"); });
  CHECK(q.wait() == 1);
}

TEST_CASE("a thunk's place is bridged to the process's channel") {
  // Only a thunk is registered under this name: the place process runs it
  // and bridges its channel to the place the thunk returned.
  rp::Place p = rp::dynamic_place("echo_thunk");
  p.put(rp::list(rp::sym("x"), 1));
  auto v = p.channel().get_for<Value>(std::chrono::seconds(20));
  REQUIRE(v.has_value());
  CHECK(*v == rp::list(rp::sym("x"), 1));
  p.put(rp::sym("stop"));
  CHECK(p.wait() == 0);
}

TEST_CASE("init returns at once outside a place process") {
  CHECK_FALSE(rp::in_place_process());
  char arg0[] = "place_test";
  char* argv[] = {arg0, nullptr};
  rp::init(1, argv);
  CHECK(place_mode);
}

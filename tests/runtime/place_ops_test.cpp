// Place operations across real rmpi-node processes on loopback: a node as
// the location of dynamic_place, places that use their own node
// (current_node) to spawn siblings and reach named places, and a named place
// that dies under its clients.
#include <rmpi/remote_node.hpp>

#include <doctest/doctest.h>

#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <future>
#include <string>

#include <rmpi/error.hpp>
#include <rmpi/place.hpp>

#include "remote_test_helpers.hpp"
#include "test_places.hpp"

namespace rp = rmpi::places;
using rp::PlaceChannel;
using rp::Value;

namespace {

constexpr auto kWait = std::chrono::seconds(20);

// Answers each message with (sibling <message> <its pid>) until 'stop.
void tags_replies(PlaceChannel ch) {
  for (;;) {
    Value v = ch.get<Value>();
    if (v.is_symbol("stop")) return;
    ch.put(rp::list(rp::sym("sibling"), v, static_cast<std::int64_t>(::getpid())));
  }
}
RMPI_PLACE(tags_replies);

// Spawns tags_replies on its own node, says its pid, then relays each
// message to the sibling and the sibling's answer back, until 'stop.
void relays_through_sibling(PlaceChannel ch) {
  rp::Place sibling = rp::dynamic_place(rp::current_node(), rp::executable_path(), "tags_replies");
  ch.put(rp::list(rp::sym("sibling-pid"), static_cast<std::int64_t>(sibling.pid())));
  for (;;) {
    Value v = ch.get<Value>();
    sibling.put(v);
    if (v.is_symbol("stop")) break;
    ch.put(sibling.get<Value>());
  }
  ch.put(rp::list(rp::sym("sibling-exit"), sibling.wait()));
}
RMPI_PLACE(relays_through_sibling);

// Says "up", then ignores its channel and SIGTERM: only SIGKILL ends it.
void ignores_its_channel(PlaceChannel ch) {
  ::signal(SIGTERM, SIG_IGN);
  ch.put(std::string("up"));
  for (;;) ::pause();
}
RMPI_PLACE(ignores_its_channel);


// Given (name key value), connects to the named place `name` on its own node,
// sets key there and answers what a get of it returns; or, if there is no
// such place, (error <what>).
void uses_named_on_own_node(PlaceChannel ch) {
  Value req = ch.get<Value>();
  try {
    rp::RemoteNode node = rp::current_node();
    rp::RemoteConnection tuple = rp::connect_to_named_place(node, req[0].as_string());
    tuple.put(rp::list(rp::sym("set"), req[1], req[2]));
    (void)tuple.get<Value>();
    tuple.put(rp::list(rp::sym("get"), req[1]));
    ch.put(tuple.get<Value>());
  } catch (const rmpi::NameError& e) {
    ch.put(rp::list(rp::sym("error"), std::string(e.what())));
  }
  (void)ch.get<Value>();
}
RMPI_PLACE(uses_named_on_own_node);

const bool place_mode = rp::init_at_startup();

using rmpi::testing::node_address;
using rmpi::testing::node_options;
using rmpi::testing::process_gone;

Value get(rp::RemoteConnection& c) {
  auto v = c.get_for<Value>(kWait);
  REQUIRE(v.has_value());
  return *v;
}

Value get(rp::Place& p) {
  auto v = p.channel().get_for<Value>(kWait);
  REQUIRE(v.has_value());
  return *v;
}

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

}  // namespace

TEST_CASE("dynamic_place at a RemoteNode: its channel works, wait gives its exit code") {
  (void)place_mode;
  auto node = rp::spawn_remote_node("localhost", node_options());
  rp::Place echo = rp::dynamic_place(node, rp::executable_path(), "echo");
  REQUIRE(echo.valid());
  CHECK(echo.pid() > 0);
  CHECK(echo.pid() != ::getpid());
  for (int i = 0; i < 5; ++i) echo.put(Value(i));
  for (int i = 0; i < 5; ++i) CHECK(get(echo).as_int() == i);
  CHECK_FALSE(echo.try_wait().has_value());
  echo.put(rp::sym("stop"));
  CHECK(echo.wait() == 0);
  CHECK(process_gone(echo.pid()));

  rp::Place three = rp::dynamic_place(node, rp::executable_path(), "exits_3");
  CHECK(three.channel().get_for<std::string>(kWait) == "bye");
  three.put(Value(true));
  CHECK(three.wait() == 3);
  CHECK(three.try_wait() == 3);
  node.send_exit();
}

TEST_CASE("dynamic_place at a RemoteNode: errors name the function and the node host:port") {
  auto node = rp::spawn_remote_node("127.0.0.1", node_options());
  const std::string at = node_address(node);
  try {
    (void)rp::dynamic_place(node, rp::executable_path(), "not_registered");
    FAIL("dynamic_place did not throw");
  } catch (const rmpi::NameError& e) {
    CHECK(contains(e.what(), "not_registered"));
    CHECK(contains(e.what(), at));
  }
  try {
    (void)rp::dynamic_place(node, "/nonexistent/program", "echo");
    FAIL("dynamic_place did not throw");
  } catch (const rmpi::SpawnError& e) {
    CHECK(contains(e.what(), "/nonexistent/program"));
    CHECK(contains(e.what(), at));
  }
  // kill() closes the place's channel: a place blocked on it ends.
  rp::Place echo = rp::dynamic_place(node, rp::executable_path(), "echo");
  const int pid = echo.pid();
  echo.kill();
  CHECK_THROWS_AS(echo.put(Value(1)), rmpi::ChannelClosed);
  CHECK(process_gone(pid));
  node.send_exit();
}

TEST_CASE("kill of a place on a RemoteNode that ignores its channel ends it; wait gives SIGKILL's status") {
  auto node = rp::spawn_remote_node("127.0.0.1", node_options());
  rp::Place deaf = rp::dynamic_place(node, rp::executable_path(), "ignores_its_channel");
  REQUIRE(deaf.channel().get_for<std::string>(kWait) == "up");
  const int pid = deaf.pid();
  deaf.kill();
  CHECK_THROWS_AS(deaf.put(Value(1)), rmpi::ChannelClosed);
  auto status = std::async(std::launch::async, [deaf]() mutable { return deaf.wait(); });
  REQUIRE(status.wait_for(kWait) == std::future_status::ready);
  CHECK(status.get() == 128 + SIGKILL);
  CHECK(deaf.try_wait() == 128 + SIGKILL);
  CHECK(process_gone(pid));
  // The node lives on: it still spawns places.
  rp::Place echo = rp::dynamic_place(node, rp::executable_path(), "echo");
  echo.put(Value(7));
  CHECK(get(echo).as_int() == 7);
  echo.put(rp::sym("stop"));
  CHECK(echo.wait() == 0);
  node.send_exit();
}

TEST_CASE("kill of a supervised place on a RemoteNode ends it for good: no restart follows") {
  auto node = rp::spawn_remote_node("127.0.0.1", node_options());
  rp::PlaceOptions options;
  options.restart_on_exit = true;
  rp::RemoteConnection deaf = node.launch_place({rp::executable_path(), "ignores_its_channel", false}, options);
  REQUIRE(deaf.get_for<std::string>(kWait) == "up");
  const int pid = deaf.pid();
  deaf.kill();
  auto status = std::async(std::launch::async, [deaf]() mutable { return deaf.wait(); });
  REQUIRE(status.wait_for(kWait) == std::future_status::ready);
  CHECK(status.get() == 128 + SIGKILL);
  CHECK(deaf.restart_count() == 0);
  CHECK(process_gone(pid));
  node.send_exit();
}

TEST_CASE("a place spawns a sibling on its own node and relays messages through it") {
  auto node = rp::spawn_remote_node("localhost", node_options());
  auto relay = rp::supervise_place_at(node, rp::executable_path(), "relays_through_sibling");
  const Value hello = get(relay);
  REQUIRE(hello[0].is_symbol("sibling-pid"));
  const auto sibling_pid = static_cast<pid_t>(hello[1].as_int());
  CHECK(sibling_pid > 0);
  CHECK(sibling_pid != relay.pid());
  CHECK(::kill(sibling_pid, 0) == 0);  // a process of its own, on this (loopback) host
  for (int i = 0; i < 3; ++i) {
    relay.put(Value(i));
    const Value answer = get(relay);
    CHECK(answer == rp::list(rp::sym("sibling"), i, static_cast<std::int64_t>(sibling_pid)));
  }
  relay.put(rp::sym("stop"));
  CHECK(get(relay) == rp::list(rp::sym("sibling-exit"), 0));
  CHECK(rmpi::testing::wait_for_exit(relay) == 0);
  CHECK(process_gone(sibling_pid));
  node.send_exit();
}

TEST_CASE("a sibling place ends with the place that spawned it") {
  auto node = rp::spawn_remote_node("localhost", node_options());
  auto relay = rp::supervise_place_at(node, rp::executable_path(), "relays_through_sibling");
  const Value hello = get(relay);
  REQUIRE(hello[0].is_symbol("sibling-pid"));
  const auto sibling_pid = static_cast<pid_t>(hello[1].as_int());
  REQUIRE(::kill(relay.pid(), SIGKILL) == 0);
  CHECK(rmpi::testing::wait_for_exit(relay) == 128 + SIGKILL);
  CHECK(process_gone(sibling_pid));
  node.send_exit();
}

TEST_CASE("a place connects to a named place on its own node") {
  auto node = rp::spawn_remote_node("localhost", node_options());
  auto tuple =
      rp::supervise_place_at(node, rp::executable_path(), "tuple_server", {.named = "tuple"});
  auto client = rp::supervise_place_at(node, rp::executable_path(), "uses_named_on_own_node");
  client.put(rp::list("tuple", "user7", 77));
  CHECK(get(client).as_int() == 77);
  // The place's write is seen through this program's own channel to the named place.
  tuple.put(rp::list(rp::sym("get"), "user7"));
  CHECK(get(tuple).as_int() == 77);
  client.put(Value(true));
  CHECK(rmpi::testing::wait_for_exit(client) == 0);

  auto lost = rp::supervise_place_at(node, rp::executable_path(), "uses_named_on_own_node");
  lost.put(rp::list("nobody-home", "k", 1));
  const Value answer = get(lost);
  REQUIRE(answer[0].is_symbol("error"));
  CHECK(contains(answer[1].as_string(), "'nobody-home'"));
  CHECK(contains(answer[1].as_string(), node_address(node)));
  lost.put(Value(true));
  CHECK(rmpi::testing::wait_for_exit(lost) == 0);
  node.send_exit();
}

TEST_CASE("a named place killed with -9: the next get, put and connect fail naming it") {
  auto node = rp::spawn_remote_node("localhost", node_options());
  const std::string at = node_address(node);
  auto owner =
      rp::supervise_place_at(node, rp::executable_path(), "tuple_server", {.named = "tuple"});
  auto client = rp::connect_to_named_place(node, "tuple");
  client.put(rp::list(rp::sym("set"), "k", 1));
  CHECK(get(client) == rp::list(rp::sym("ok")));

  const int pid = owner.pid();
  REQUIRE(pid > 0);
  REQUIRE(::kill(pid, SIGKILL) == 0);
  // Within the detection bound (5 s by default) the get fails; it never times out.
  try {
    const auto v = client.get_for<Value>(std::chrono::seconds(5) + std::chrono::seconds(5));
    FAIL("get returned instead of failing: " << (v ? "a message" : "a timeout"));
  } catch (const rmpi::ChannelClosed& e) {
    CHECK(contains(e.what(), "'tuple'"));
    CHECK(contains(e.what(), at));
  }
  try {
    client.put(rp::list(rp::sym("get"), "k"));
    FAIL("put to a dead named place did not throw");
  } catch (const rmpi::ChannelClosed& e) {
    CHECK(contains(e.what(), "'tuple'"));
    CHECK(contains(e.what(), at));
  }
  try {
    (void)rp::connect_to_named_place(node, "tuple");
    FAIL("connecting to a dead named place did not throw");
  } catch (const rmpi::NameError& e) {
    CHECK(contains(e.what(), "'tuple'"));
    CHECK(contains(e.what(), at));
  }
  CHECK(rmpi::testing::wait_for_exit(owner) == 128 + SIGKILL);
  CHECK(process_gone(pid));
  node.send_exit();
}

// Nodes and places across processes: real rmpi-node processes on loopback
// (listen port 0), places spawned from this test binary.
#include <rmpi/remote_node.hpp>

#include <doctest/doctest.h>

#include <chrono>
#include <csignal>
#include <cstdlib>
#include <future>
#include <string>
#include <vector>

#include <rmpi/error.hpp>
#include <rmpi/message_router.hpp>
#include <rmpi/place.hpp>

#include "remote_test_helpers.hpp"
#include "test_places.hpp"

namespace rp = rmpi::places;
using rp::PlaceChannel;
using rp::Value;

namespace {

constexpr auto kWait = std::chrono::seconds(20);

void kills_itself(PlaceChannel ch) {
  (void)ch.get<Value>();
  std::raise(SIGKILL);
}
RMPI_PLACE(kills_itself);

void says_hi(PlaceChannel ch) { ch.put(std::string("hi")); }
RMPI_PLACE(says_hi);


// Sends an int64, a string and a Value, then waits to be told to end.
void sends_typed(PlaceChannel ch) {
  ch.put(std::int64_t{41});
  ch.put(std::string("forty-two"));
  ch.put(rp::list(rp::sym("n"), 43));
  (void)ch.get<Value>();
}
RMPI_PLACE(sends_typed);

rp::Place echo_thunk() { return rp::place(rmpi::testing::places::echo); }
RMPI_PLACE_THUNK(echo_thunk);

rp::Place tuple_thunk() { return rp::place(rmpi::testing::places::tuple_server); }
RMPI_PLACE_THUNK(tuple_thunk);

const bool place_mode = rp::init_at_startup();
// Nodes spawned for the router thread (mr_spawn_remote_node) use the one built here.
const bool node_path_set = (::setenv("RMPI_NODE_PATH", RMPI_NODE_EXE, 0), true);

using rmpi::testing::node_options;
using rmpi::testing::wait_for_exit;

Value get(rp::RemoteConnection& c) {
  auto v = c.get_for<Value>(kWait);
  REQUIRE(v.has_value());
  return *v;
}


}  // namespace

TEST_CASE("spawn a node and a place, exchange messages in order") {
  (void)place_mode;
  auto [node, conn] =
      rp::spawn_node_supervise_place_at("localhost", rp::executable_path(), "echo", node_options());
  CHECK(node.port() > 0);
  // The host as the node's log lines name it (the address it was reached at).
  CHECK(node.get_log_prefix() == "PLACE 127.0.0.1:" + std::to_string(node.port()));
  for (int i = 0; i < 200; ++i) conn.put(Value(i));
  for (int i = 0; i < 200; ++i) CHECK(get(conn).as_int() == i);
  const Value nested = rp::list(rp::sym("k"), "s", 1.5, rp::list(rp::Bytes{{1, 2}}, Value()));
  rp::channel_put(conn, nested);
  CHECK(get(conn) == nested);
  CHECK(node.get_first_place().valid());
  conn.put(rp::sym("stop"));
  CHECK(wait_for_exit(conn) == 0);
  node.send_exit();
}

TEST_CASE("errors: a missing function and a missing named place name themselves") {
  auto node = rp::spawn_remote_node("127.0.0.1", node_options());
  try {
    node.launch_place({rp::executable_path(), "not_registered"});
    FAIL("launch_place did not throw");
  } catch (const rmpi::NameError& e) {
    const std::string what = e.what();
    CHECK(what.find("not_registered") != std::string::npos);
    CHECK(what.find(rp::executable_path()) != std::string::npos);
  }
  try {
    rp::connect_to_named_place(node, "nobody-home");
    FAIL("connect_to_named_place did not throw");
  } catch (const rmpi::NameError& e) {
    CHECK(std::string(e.what()).find("nobody-home") != std::string::npos);
  }
  CHECK_THROWS_AS(node.launch_place({"/nonexistent/program", "echo"}), rmpi::SpawnError);
  // The node still serves.
  auto c = rp::supervise_place_at(node, rp::executable_path(), "echo");
  c.put(Value("still here"));
  CHECK(get(c) == Value("still here"));
  rp::node_send_exit(node);
}

TEST_CASE("a place that exits 3, throws or is killed is reported; the node survives") {
  auto node = rp::spawn_remote_node("localhost", node_options());
  auto a = rp::supervise_place_at(node, rp::executable_path(), "exits_3");
  CHECK(a.get<std::string>() == "bye");
  a.put(Value(true));
  CHECK(rp::distributed_place_wait(a) == 3);

  auto b = rp::supervise_place_at(node, rp::executable_path(), "throws");
  b.put(Value(1));
  CHECK(wait_for_exit(b) == 1);

  auto c = rp::supervise_place_at(node, rp::executable_path(), "kills_itself");
  c.put(Value(1));
  CHECK(wait_for_exit(c) == 128 + SIGKILL);
  CHECK_THROWS_AS(c.get<Value>(), rmpi::ChannelClosed);

  auto d = rp::supervise_place_at(node, rp::executable_path(), "echo");
  d.put(Value(7));
  CHECK(get(d).as_int() == 7);
  node.send_exit();
}

TEST_CASE("a named place reached through two connections") {
  for (bool thunk : {false, true}) {
    CAPTURE(thunk);
    auto node = rp::spawn_node_with_place_at("localhost", rp::executable_path(),
                                             thunk ? "tuple_thunk" : "tuple_server", node_options(),
                                             {.named = "tuple", .thunk = thunk});
    auto c1 = rp::connect_to_named_place(node, "tuple");
    auto c2 = rp::connect_to_named_place(node, "tuple");
    c1.put(rp::list(rp::sym("set"), "user0", 100));
    CHECK(get(c1) == rp::list(rp::sym("ok")));
    c2.put(rp::list(rp::sym("get"), "user0"));
    CHECK(get(c2).as_int() == 100);
    c2.put(rp::list(rp::sym("get"), "nobody"));
    CHECK(get(c2) == Value(false));
    // The first place's own channel is served too.
    auto first = node.get_first_place();
    first.put(rp::list(rp::sym("get"), "user0"));
    CHECK(get(first).as_int() == 100);
    node.send_exit();
  }
}

TEST_CASE("a thunk place and set_on_channel") {
  auto [node, conn] = rp::spawn_node_supervise_place_at(
      "localhost", rp::executable_path(), "echo_thunk", node_options(), {.thunk = true});
  std::promise<Value> got;
  conn.set_on_channel([&](rp::RemoteConnection&, Value v) { got.set_value(v); });
  conn.put(rp::list(rp::sym("ping"), 1));
  auto f = got.get_future();
  REQUIRE(f.wait_for(kWait) == std::future_status::ready);
  CHECK(f.get() == rp::list(rp::sym("ping"), 1));
  conn.put(rp::sym("stop"));
  CHECK(wait_for_exit(conn) == 0);
  node.send_exit();
}

TEST_CASE("restart_every restarts a place until the retries run out") {
  auto node = rp::spawn_remote_node("localhost", node_options());
  auto final_fail = std::make_shared<std::promise<void>>();
  rp::PlaceOptions o;
  o.restart_on_exit = rp::restart_every(0.5, 2, [final_fail] { final_fail->set_value(); });
  auto c = rp::supervise_place_at(node, rp::executable_path(), "says_hi", o);
  for (int i = 0; i < 3; ++i) CHECK(c.get_for<std::string>(kWait) == std::optional<std::string>("hi"));
  REQUIRE(final_fail->get_future().wait_for(kWait) == std::future_status::ready);
  CHECK(wait_for_exit(c) == 0);
  node.send_exit();
}

TEST_CASE("spawn_nodes_join starts nodes in parallel; the router thread serves mr_ requests") {
  auto nodes = rp::spawn_nodes_join({{"localhost", node_options()}, {"127.0.0.1", node_options()}});
  REQUIRE(nodes.size() == 2);
  CHECK(nodes[0].port() != nodes[1].port());
  auto [thread, mrch] = rp::start_message_router_thread(-1, nodes);
  const rp::Destination dest{"127.0.0.1", nodes[1].port()};
  rp::mr_supervise_named_dynamic_place_at(mrch, dest, "tuple", rp::executable_path(), "tuple_server");
  rp::mr_connect_to(mrch, dest, "tuple");
  PlaceChannel ch = rp::send_new_place_channel_to_named_dest(mrch, dest, "tuple");
  ch.put(rp::list(rp::sym("set"), "k", 5));
  CHECK(ch.get_for<Value>(kWait) == std::optional<Value>(rp::list(rp::sym("ok"))));
  CHECK_THROWS_AS(rp::send_new_place_channel_to_named_dest(mrch, dest, "missing"), rmpi::NameError);
  mrch.put(rp::list(rp::sym("stop")));
  thread.join();
  for (auto& n : nodes) n.send_exit();
}

TEST_CASE("set_on_channel hands each message over with its type") {
  (void)node_path_set;
  auto [node, conn] =
      rp::spawn_node_supervise_place_at("localhost", rp::executable_path(), "sends_typed", node_options());
  std::promise<std::int64_t> first;
  std::promise<std::vector<std::string>> rest;
  int seen = 0;
  std::vector<std::string> kinds;
  conn.set_on_channel<rp::Message>([&](rp::RemoteConnection&, const rp::Message& m) {
    if (seen++ == 0) {
      first.set_value(rp::decode<std::int64_t>(m));
      return;
    }
    if (m.type_tag == rmpi::type_tag<std::string>()) kinds.push_back("string " + rp::decode<std::string>(m));
    if (m.type_tag == rmpi::type_tag<Value>()) kinds.push_back("value " + rp::decode<Value>(m).to_string());
    if (kinds.size() == 2) rest.set_value(kinds);
  });
  auto f1 = first.get_future();
  auto f2 = rest.get_future();
  REQUIRE(f1.wait_for(kWait) == std::future_status::ready);
  CHECK(f1.get() == 41);
  REQUIRE(f2.wait_for(kWait) == std::future_status::ready);
  CHECK(f2.get() == std::vector<std::string>{"string forty-two", "value (n 43)"});
  conn.put(Value(true));
  CHECK(wait_for_exit(conn) == 0);

  // A handler for one type gets that type, decoded.
  auto again = rp::supervise_place_at(node, rp::executable_path(), "sends_typed");
  std::promise<std::int64_t> typed;
  again.set_on_channel<std::int64_t>([&](rp::RemoteConnection& c, std::int64_t x) {
    typed.set_value(x);
    c.set_on_channel([](rp::RemoteConnection&, Value) {});  // the rest: Values or not, dropped
  });
  auto f3 = typed.get_future();
  REQUIRE(f3.wait_for(kWait) == std::future_status::ready);
  CHECK(f3.get() == 41);
  node.send_exit();
}

TEST_CASE("connect_to_node reaches a node at any host:port; the router thread too") {
  auto owner = rp::spawn_node_with_place_at("localhost", rp::executable_path(), "tuple_server",
                                            node_options(), {.named = "tuple"});
  // A second handle to the same node, made from its address alone.
  auto other = rp::connect_to_node("127.0.0.1", owner.port());
  CHECK(other.port() == owner.port());
  CHECK(other.get_log_prefix() == owner.get_log_prefix());
  auto c = rp::connect_to_named_place(other, "tuple");
  c.put(rp::list(rp::sym("set"), "k", 9));
  CHECK(get(c) == rp::list(rp::sym("ok")));
  auto e = rp::supervise_place_at(other, rp::executable_path(), "echo");
  e.put(Value(5));
  CHECK(get(e).as_int() == 5);
  e.put(rp::sym("stop"));
  CHECK(wait_for_exit(e) == 0);

  // The router thread: a node it spawned is named by the address it returns,
  // and one it did not spawn is connected to.
  auto [thread, mrch] = rp::start_message_router_thread(-1, {});
  const rp::Destination spawned = rp::mr_spawn_remote_node(mrch, "localhost", 0);
  CHECK(spawned.port > 0);
  CHECK(spawned.port != owner.port());
  rp::mr_supervise_named_dynamic_place_at(mrch, spawned, "t2", rp::executable_path(), "tuple_server");
  PlaceChannel t2 = rp::send_new_place_channel_to_named_dest(mrch, spawned, "t2");
  t2.put(rp::list(rp::sym("get"), "k"));
  CHECK(t2.get_for<Value>(kWait) == std::optional<Value>(Value(false)));
  PlaceChannel t1 =
      rp::send_new_place_channel_to_named_dest(mrch, {"127.0.0.1", owner.port()}, "tuple");
  t1.put(rp::list(rp::sym("get"), "k"));
  CHECK(t1.get_for<Value>(kWait) == std::optional<Value>(Value(9)));
  mrch.put(rp::list(rp::sym("stop")));
  thread.join();
  rp::connect_to_node("127.0.0.1", spawned.port).send_exit();
  owner.send_exit();
}

TEST_CASE("a port in use is a SpawnError naming the port") {
  auto a = rp::spawn_remote_node("localhost", node_options());
  rp::NodeOptions o = node_options();
  o.listen_port = a.port();
  try {
    rp::spawn_remote_node("localhost", o);
    FAIL("spawn_remote_node did not throw");
  } catch (const rmpi::SpawnError& e) {
    const std::string what = e.what();
    CHECK(what.find(std::to_string(a.port())) != std::string::npos);
    CHECK(what.find("localhost") != std::string::npos);
  }
  a.send_exit();
}

TEST_CASE("Node: a router embedded in this process") {
  rp::Node node(0);
  const auto port = node.listen();
  CHECK(port > 0);
  CHECK(node.listen() == port);
  rp::Node clash(port);
  CHECK_THROWS_AS(clash.listen(), rmpi::ConnectError);
}

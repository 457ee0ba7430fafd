// Thread places (supervise_thread_at) across real processes: the node runs
// them on threads of one module host per module (this test executable,
// started by the node in host mode). They echo like any place, share the
// host's pid and globals, end with place_exit's code without ending their
// host, fail together (each named) when the host is killed, come back under
// their restart policy, and leave no host behind. Also: a connection to a
// named place hears its exit status.
#include <rmpi/remote_node.hpp>

#include <doctest/doctest.h>

#include <unistd.h>

#include <atomic>
#include <chrono>
#include <csignal>
#include <string>

#include <rmpi/error.hpp>
#include <rmpi/place.hpp>

#include "remote_test_helpers.hpp"

namespace rp = rmpi::places;
using rp::PlaceChannel;
using rp::Value;

namespace {

constexpr auto kWait = std::chrono::seconds(20);

/// Shared by the thread places of one host (one process).
std::atomic<int> places_started{0};

/// Says its pid and how many places of its process started so far (itself
/// included), then echoes until 'stop.
void host_echo(PlaceChannel ch) {
  const int started = ++places_started;
  ch.put(static_cast<int>(::getpid()));
  ch.put(started);
  for (;;) {
    Value v = ch.get<Value>();
    if (v.is_symbol("stop")) return;
    ch.put(v);
  }
}
RMPI_PLACE(host_echo);

/// Says "bye", waits for one message, ends its place with 3.
void exits_3(PlaceChannel ch) {
  ch.put(std::string("bye"));
  (void)ch.get<Value>();
  rp::place_exit(3);
}
RMPI_PLACE(exits_3);

/// A thunk: the place it returns (a thread of the host) says its pid, then echoes once.
rp::Place pid_echo_thunk() {
  return rp::place([](PlaceChannel ch) {
    ch.put(static_cast<int>(::getpid()));
    ch.put(ch.get<Value>());
  });
}
RMPI_PLACE_THUNK(pid_echo_thunk);

const bool place_mode = rp::init_at_startup();

using rmpi::testing::node_options;
using rmpi::testing::wait_for_exit;

int next_int(rp::RemoteConnection& c) {
  auto v = c.get_for<int>(kWait);
  REQUIRE(v.has_value());
  return *v;
}

void check_echo(rp::RemoteConnection& c, int n) {
  c.put(Value(n));
  auto v = c.get_for<Value>(kWait);
  REQUIRE(v.has_value());
  CHECK(v->as_int() == n);
}

bool gone(pid_t pid) { return rmpi::testing::process_gone(pid); }

}  // namespace

TEST_CASE("thread places of one module echo, share one host process and its globals; the host ends with the last") {
  auto node = rp::spawn_remote_node("localhost", node_options());
  auto a = rp::supervise_thread_at(node, rp::executable_path(), "host_echo");
  const pid_t host = next_int(a);
  CHECK(next_int(a) == 1);
  auto b = rp::supervise_thread_at(node, rp::executable_path(), "host_echo");
  CHECK(next_int(b) == host);
  CHECK(next_int(b) == 2);  // a's start is seen: one process, one set of globals
  CHECK(host != ::getpid());
  check_echo(a, 7);
  check_echo(b, 8);
  a.put(rp::sym("stop"));
  CHECK(wait_for_exit(a) == 0);
  check_echo(b, 9);  // the host lives on for b
  b.put(rp::sym("stop"));
  CHECK(wait_for_exit(b) == 0);
  CHECK(gone(host));  // its last thread place ended, while the node lives on
  // The next thread place gets a new host.
  auto c = rp::supervise_thread_at(node, rp::executable_path(), "host_echo");
  const pid_t next_host = next_int(c);
  CHECK(next_host != host);
  CHECK(next_int(c) == 1);
  node.send_exit();
  CHECK(gone(next_host));
}

TEST_CASE("a thread place that ends with place_exit(3): distributed_place_wait gives 3, its host goes on") {
  auto node = rp::spawn_remote_node("localhost", node_options());
  auto echo = rp::supervise_thread_at(node, rp::executable_path(), "host_echo");
  const pid_t host = next_int(echo);
  (void)next_int(echo);
  auto quitter = rp::supervise_thread_at(node, rp::executable_path(), "exits_3");
  CHECK(quitter.get_for<std::string>(kWait) == "bye");
  quitter.put(Value(1));
  CHECK(rp::distributed_place_wait(quitter) == 3);
  check_echo(echo, 11);
  CHECK_FALSE(rmpi::testing::process_gone(host, std::chrono::milliseconds(0)));
  node.send_exit();
  CHECK(gone(host));
}

TEST_CASE("kill of a thread place: its channel closes, wait gives SIGKILL's status, its host goes on") {
  auto node = rp::spawn_remote_node("localhost", node_options());
  auto echo = rp::supervise_thread_at(node, rp::executable_path(), "host_echo");
  const pid_t host = next_int(echo);
  (void)next_int(echo);
  auto victim = rp::supervise_thread_at(node, rp::executable_path(), "host_echo");
  CHECK(next_int(victim) == host);
  (void)next_int(victim);
  victim.kill();
  CHECK_THROWS_AS(victim.put(Value(1)), rmpi::ChannelClosed);
  CHECK(wait_for_exit(victim) == 128 + SIGKILL);
  check_echo(echo, 12);  // a thread cannot be killed alone: its host lives on for the others
  node.send_exit();
  CHECK(gone(host));
}

TEST_CASE("a thunk run as a thread place: the place it returns answers, in the host") {
  auto node = rp::spawn_remote_node("localhost", node_options());
  auto c = rp::supervise_thread_at(node, rp::executable_path(), "pid_echo_thunk", {.thunk = true});
  const pid_t host = next_int(c);
  CHECK(host != ::getpid());
  check_echo(c, 5);
  CHECK(wait_for_exit(c) == 0);
  CHECK(gone(host));
  node.send_exit();
}

TEST_CASE("a function the module does not register: the thread place fails with rmpi::NameError") {
  auto node = rp::spawn_remote_node("localhost", node_options());
  CHECK_THROWS_AS(rp::supervise_thread_at(node, rp::executable_path(), "no_such_place"),
                  rmpi::NameError);
  node.send_exit();
}

TEST_CASE("kill -9 of the module host fails each of its thread places, naming it") {
  auto node = rp::spawn_remote_node("localhost", node_options());
  auto a = rp::supervise_thread_at(node, rp::executable_path(), "host_echo");
  auto b = rp::supervise_thread_at(node, rp::executable_path(), "host_echo");
  const pid_t host = next_int(a);
  (void)next_int(a);
  REQUIRE(next_int(b) == host);
  (void)next_int(b);
  REQUIRE(::kill(host, SIGKILL) == 0);
  for (auto* c : {&a, &b}) {
    CHECK(wait_for_exit(*c) == 128 + SIGKILL);
    try {
      (void)c->get<Value>();
      FAIL("get did not throw");
    } catch (const rmpi::ChannelClosed& e) {
      const std::string what = e.what();
      CHECK(what.find("thread host_echo on PLACE 127.0.0.1:" + std::to_string(node.port())) !=
            std::string::npos);
      CHECK(what.find("killed by signal 9") != std::string::npos);
    }
  }
  CHECK(gone(host));
  node.send_exit();
}

TEST_CASE("kill -9 of the module host: thread places with a restart policy come back in a new host") {
  auto node = rp::spawn_remote_node("localhost", node_options());
  auto a = rp::supervise_thread_at(node, rp::executable_path(), "host_echo", {.restart_on_exit = true});
  auto b = rp::supervise_thread_at(node, rp::executable_path(), "host_echo", {.restart_on_exit = true});
  const pid_t host = next_int(a);
  (void)next_int(a);
  REQUIRE(next_int(b) == host);
  (void)next_int(b);
  REQUIRE(::kill(host, SIGKILL) == 0);
  const pid_t new_host = next_int(a);
  (void)next_int(a);
  CHECK(next_int(b) == new_host);
  (void)next_int(b);
  CHECK(new_host != host);
  CHECK(a.restart_count() == 1);
  CHECK(b.restart_count() == 1);
  check_echo(a, 21);
  check_echo(b, 22);
  CHECK(gone(host));
  node.send_exit();
  CHECK(gone(new_host));
}

TEST_CASE("distributed_place_wait on a connection to a named place gives the place's exit code") {
  for (const bool thread : {false, true}) {
    CAPTURE(thread);
    auto node = rp::spawn_remote_node("localhost", node_options());
    rp::PlaceOptions o{.named = "quitter"};
    auto spawned = thread ? rp::supervise_thread_at(node, rp::executable_path(), "exits_3", o)
                          : rp::supervise_place_at(node, rp::executable_path(), "exits_3", o);
    CHECK(spawned.get_for<std::string>(kWait) == "bye");
    auto named = rp::connect_to_named_place(node, "quitter");
    spawned.put(Value(1));
    CHECK(rp::distributed_place_wait(spawned) == 3);
    CHECK(rp::distributed_place_wait(named) == 3);
    node.send_exit();
  }
}

// Remote servers across processes: servers spawned from this test binary on a
// real rmpi-node (loopback, listen port 0), called through their typed stubs.
#include <rmpi/remote_server.hpp>

#include <doctest/doctest.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <future>
#include <map>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <rmpi/remote_node.hpp>

#include "bank_server.hpp"
#include "client_endpoints.hpp"
#include "remote_test_helpers.hpp"

namespace rp = rmpi::places;
using rp::list;
using rp::sym;
using rp::Value;

namespace {

constexpr auto kWait = std::chrono::seconds(30);

// A table server with every kind of operation the tests need.
struct TableServer {
  std::map<std::string, std::int64_t> table;
  std::vector<std::int64_t> items;

  std::int64_t set(const std::string& k, std::int64_t v) { return table[k] = v; }
  std::int64_t get(const std::string& k) const {
    auto it = table.find(k);
    if (it == table.end()) throw std::out_of_range("no key " + k);
    return it->second;
  }
  void add(const std::string& k, std::int64_t delta) { table[k] += delta; }
  void append(std::int64_t x) { items.push_back(x); }
  std::vector<std::int64_t> all_items() const { return items; }
  std::string fail(const std::string& why) { throw std::runtime_error(why); }
  void die(int code) { std::_Exit(code); }
  bool log(const std::string& text) {
    rp::log_to_parent(text, rp::Severity::warning);
    return true;
  }
};

constexpr rp::Rpc<&TableServer::set> table_set{"set"};
constexpr rp::Rpc<&TableServer::get> table_get{"get"};
constexpr rp::Cast<&TableServer::add> table_add{"add"};
constexpr rp::Cast<&TableServer::append> table_append{"append"};
constexpr rp::Rpc<&TableServer::all_items> table_items{"items"};
constexpr rp::Rpc<&TableServer::fail> table_fail{"fail"};
constexpr rp::Cast<&TableServer::die> table_die{"die"};
constexpr rp::Rpc<&TableServer::log> table_log{"log"};

}  // namespace

RMPI_REMOTE_SERVER(table_server, table_set, table_get, table_add, table_append, table_items,
                   table_fail, table_die, table_log);

namespace {

// A server that is not TableServer but names an operation "set" with other
// argument types, and one that names an operation TableServer does not have.
struct Impostor {
  std::int64_t set(double) { return 0; }
  std::int64_t missing() { return 0; }
};
constexpr rp::Rpc<&Impostor::set> impostor_set{"set"};
constexpr rp::Rpc<&Impostor::missing> impostor_missing{"missing"};

const bool place_mode = rp::init_at_startup();

using rmpi::testing::node_options;

rp::RemoteNode node_with_named_table(const std::string& name) {
  rp::PlaceOptions o;
  o.named = name;
  return rp::spawn_node_with_place_at("localhost", rp::executable_path(), "make_named_table_server",
                                      node_options(), o);
}

// Runs `fn` on another thread and fails (instead of hanging) if it takes longer than kWait.
template <class F>
auto bounded(F fn) {
  auto f = std::async(std::launch::async, std::move(fn));
  REQUIRE(f.wait_for(kWait) == std::future_status::ready);
  return f.get();
}

}  // namespace

TEST_CASE("the bank answers the reference's whole table of outcomes") {
  (void)place_mode;
  auto node = rp::spawn_remote_node("localhost", node_options());
  auto bank = rp::supervise_place_at(node, rp::executable_path(), "make_bank");
  auto show = [](const Value& v) { return v.to_string(); };
  CHECK(show(bank_new_account(bank, "user1")) == "(created user1)");
  CHECK(show(bank_new_account(bank, "user1")) == "(already-exists)");
  CHECK(show(bank_add(bank, "user1", 10)) == "(ok 10)");
  CHECK(show(bank_add(bank, "nobody", 10)) == "(invalid-account nobody)");
  CHECK(show(bank_remove(bank, "user1", 5)) == "(ok 5)");
  CHECK(show(bank_remove(bank, "user1", 6)) == "(insufficient-funds 5)");
  CHECK(show(bank_remove(bank, "user1", 5)) == "(ok 0)");
  CHECK(show(bank_remove(bank, "nobody", 1)) == "(invalid-account nobody)");
  CHECK(show(bank_new_account(bank, "user2")) == "(created user2)");
  CHECK(show(bank_add(bank, "user2", 7)) == "(ok 7)");
  CHECK(show(bank_add(bank, "user1", 3)) == "(ok 3)");
  node.send_exit();
}

TEST_CASE("a named server with 8 concurrent clients, 10,000 calls each: no lost update") {
  constexpr int kClients = 8;
  constexpr int kRounds = 5000;  // one set and one get per round
  auto node = node_with_named_table("table");
  std::vector<rp::RemoteConnection> conns;
  for (int i = 0; i < kClients; ++i) conns.push_back(rp::connect_to_named_place(node, "table"));
  std::vector<std::future<int>> clients;
  for (int i = 0; i < kClients; ++i) {
    clients.push_back(std::async(std::launch::async, [&conn = conns[i], i] {
      const std::string key = "client" + std::to_string(i);
      int wrong = 0;
      for (int j = 0; j < kRounds; ++j) {
        if (table_set(conn, key, j) != j) ++wrong;
        table_add(conn, "total", 1);
        if (table_get(conn, key) != j) ++wrong;
      }
      return wrong;
    }));
  }
  for (auto& c : clients) {
    REQUIRE(c.wait_for(std::chrono::seconds(100)) == std::future_status::ready);
    CHECK(c.get() == 0);
  }
  // Each client's casts were served before its last get; all of them before this get.
  CHECK(table_get(conns[0], "total") == kClients * kRounds);
  for (int i = 0; i < kClients; ++i)
    CHECK(table_get(conns[i], "client" + std::to_string(i)) == kRounds - 1);
  node.send_exit();
}

TEST_CASE("casts arrive in order relative to rpcs from the same client") {
  auto node = node_with_named_table("order");
  auto conn = rp::connect_to_named_place(node, "order");
  std::vector<std::int64_t> expected;
  for (std::int64_t i = 0; i < 300; ++i) {
    table_append(conn, i);
    expected.push_back(i);
    if (i % 37 == 0) REQUIRE(table_items(conn) == expected);
  }
  CHECK(table_items(conn) == expected);
  // The owner's channel is served too, in its own order.
  auto owner = node.get_first_place();
  table_append(owner, 1000);
  expected.push_back(1000);
  CHECK(table_items(owner) == expected);
  node.send_exit();
}

TEST_CASE("an operation that throws answers the caller with its message; the server goes on") {
  auto node = node_with_named_table("errors");
  auto conn = rp::connect_to_named_place(node, "errors");
  try {
    table_fail(conn, "the disk is on fire");
    FAIL("the call did not throw");
  } catch (const rp::RemoteError& e) {
    CHECK(e.kind() == rp::RemoteErrorKind::operation_failed);
    const std::string what = e.what();
    CHECK(what.find("the disk is on fire") != std::string::npos);
    CHECK(what.find("'fail'") != std::string::npos);
    CHECK(what.find("errors") != std::string::npos);  // the connection it went to
  }
  CHECK_THROWS_WITH_AS(table_get(conn, "nothing"), doctest::Contains("no key nothing"),
                       rp::RemoteError);
  CHECK(table_set(conn, "k", 5) == 5);
  CHECK(table_get(conn, "k") == 5);

  // Calls built from another definition: named by the server but with other
  // argument types, or not named by it at all.
  try {
    impostor_set(conn, 1.5);
    FAIL("the call did not throw");
  } catch (const rp::RemoteError& e) {
    CHECK(e.kind() == rp::RemoteErrorKind::bad_arguments);
    CHECK(std::string(e.what()).find("table_server serves 'set'") != std::string::npos);
  }
  try {
    impostor_missing(conn);
    FAIL("the call did not throw");
  } catch (const rp::RemoteError& e) {
    CHECK(e.kind() == rp::RemoteErrorKind::unknown_operation);
    CHECK(std::string(e.what()).find("'missing'") != std::string::npos);
  }
  // A raw message that is not a request is ignored (and logged), not fatal.
  conn.put(Value("not a request"));
  CHECK(table_get(conn, "k") == 5);
  node.send_exit();
}

TEST_CASE("a client of a server that died gets an error, not a hang") {
  SUBCASE("private server") {
    auto node = rp::spawn_remote_node("localhost", node_options());
    auto server = rp::supervise_place_at(node, rp::executable_path(), "make_table_server");
    CHECK(table_set(server, "k", 1) == 1);
    table_die(server, 3);
    CHECK(bounded([&] {
      try {
        (void)table_get(server, "k");
        return std::string("answered");
      } catch (const rmpi::ChannelClosed& e) {
        return std::string("closed: ") + e.what();
      }
    }).starts_with("closed: "));
    CHECK(bounded([&] { return server.wait(); }) == 3);
    node.send_exit();
  }
  SUBCASE("named server, a second client") {
    auto node = node_with_named_table("mortal");
    auto a = rp::connect_to_named_place(node, "mortal");
    auto b = rp::connect_to_named_place(node, "mortal");
    CHECK(table_set(b, "k", 1) == 1);
    table_die(a, 4);
    // The cast on `a` and a request on `b` are on two connections, with no
    // order between them: wait for the end, then `b` must fail, not hang.
    CHECK(bounded([&] { return a.wait(); }) == 4);
    CHECK_THROWS_AS(bounded([&] { return table_get(b, "k"); }), rmpi::ChannelClosed);
    node.send_exit();
  }
}

TEST_CASE("log_to_parent inside an operation reaches the server's owner") {
  struct Captured {
    std::mutex mu;
    std::vector<rp::protocol::Log> lines;
  };
  auto captured = std::make_shared<Captured>();
  std::promise<void> arrived;
  rp::detail::set_log_sink([captured, &arrived](const rp::protocol::Log& log) {
    std::lock_guard lock(captured->mu);
    captured->lines.push_back(log);
    if (log.text == "the owner hears this") arrived.set_value();
  });
  auto node = node_with_named_table("logger");
  auto conn = rp::connect_to_named_place(node, "logger");
  CHECK(table_log(conn, "the owner hears this"));
  const bool got = arrived.get_future().wait_for(kWait) == std::future_status::ready;
  node.send_exit();
  rp::detail::set_log_sink({});
  REQUIRE(got);
  std::lock_guard lock(captured->mu);
  const auto& log = captured->lines.back();
  CHECK(log.severity == "warning");
  CHECK(log.origin == "PLACE 127.0.0.1:" + std::to_string(node.port()));
  CHECK(log.origin == node.get_log_prefix());
}

TEST_CASE("a server on a thread of this process; threads sharing one channel get their own answers") {
  rp::Place server = rp::place(make_named_table_server);
  std::vector<std::future<int>> callers;
  for (int t = 0; t < 5; ++t) {
    callers.push_back(std::async(std::launch::async, [&server, t] {
      int wrong = 0;
      for (int j = 0; j < 500; ++j)
        if (table_set(server, "t" + std::to_string(t), t * 1000 + j) != t * 1000 + j) ++wrong;
      return wrong;
    }));
  }
  for (auto& c : callers) {
    REQUIRE(c.wait_for(kWait) == std::future_status::ready);
    CHECK(c.get() == 0);
  }
  CHECK(table_get(server, "t4") == 4499);
  server.kill();
  CHECK(server.wait() == 0);
}

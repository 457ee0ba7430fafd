// RendezvousServer and rendezvous_exchange, in one process: every
// participant gets the full table; bad clients are dropped while the others
// are served; wait() reports who never showed up.
#include <rmpi/rendezvous.hpp>

#include <unistd.h>

#include <fstream>
#include <future>
#include <thread>
#include <string>
#include <vector>

#include <doctest/doctest.h>

#include <rmpi/auth.hpp>
#include <rmpi/error.hpp>

#include "bad_peer.hpp"

TEST_CASE("five participants each get the whole table, indexed by id") {
  const std::string secret = rmpi::auth::make_secret();
  rmpi::RendezvousServer server("127.0.0.1", 0, secret, 5);
  CHECK(server.port() != 0);
  std::vector<std::future<std::vector<std::string>>> clients;
  for (std::uint32_t id = 0; id < 5; ++id)
    clients.push_back(std::async(std::launch::async, [&, id] {
      return rmpi::rendezvous_exchange("127.0.0.1", server.port(), secret, id, 5,
                                       "blob-" + std::to_string(id), std::chrono::seconds(10));
    }));
  const std::vector<std::string> expected{"blob-0", "blob-1", "blob-2", "blob-3", "blob-4"};
  for (auto& c : clients) CHECK(c.get() == expected);
  CHECK(server.wait(std::chrono::seconds(10)).empty());
  CHECK(server.rejected() == 0);
}

TEST_CASE("a wrong secret, garbage and an out-of-range id are dropped; the others are served") {
  const std::string secret = rmpi::auth::make_secret();
  rmpi::RendezvousServer server("127.0.0.1", 0, secret, 2);

  CHECK_THROWS_AS(rmpi::rendezvous_exchange("127.0.0.1", server.port(), "wrong", 0, 2, "evil",
                                            std::chrono::seconds(5)),
                  rmpi::ConnectError);
  const int garbage = rmpi::testing::connect_loopback(server.port());
  const char junk[64] = "this is not an rmpi frame header, not at all";
  CHECK(::write(garbage, junk, sizeof junk) == sizeof junk);
  char c;
  CHECK(::read(garbage, &c, 1) <= 0);  // dropped (EOF or reset)
  ::close(garbage);
  CHECK_THROWS_AS(rmpi::rendezvous_exchange("127.0.0.1", server.port(), secret, 7, 2, "bad id",
                                            std::chrono::seconds(5)),
                  rmpi::ConnectError);

  auto a = std::async(std::launch::async, [&] {
    return rmpi::rendezvous_exchange("127.0.0.1", server.port(), secret, 1, 2, "one", std::chrono::seconds(10));
  });
  const auto b = rmpi::rendezvous_exchange("127.0.0.1", server.port(), secret, 0, 2, "zero",
                                           std::chrono::seconds(10));
  CHECK(b == std::vector<std::string>{"zero", "one"});
  CHECK(a.get() == b);
  CHECK(server.wait(std::chrono::seconds(10)).empty());
  CHECK(server.rejected() == 3);
}

TEST_CASE("after the exchange a restarted participant replaces its blob and gets the table at once") {
  const std::string secret = rmpi::auth::make_secret();
  rmpi::RendezvousServer server("127.0.0.1", 0, secret, 2);
  auto one = std::async(std::launch::async, [&] {
    return rmpi::rendezvous_exchange("127.0.0.1", server.port(), secret, 1, 2, "one", std::chrono::seconds(10));
  });
  CHECK(rmpi::rendezvous_exchange("127.0.0.1", server.port(), secret, 0, 2, "zero", std::chrono::seconds(10)) ==
        std::vector<std::string>{"zero", "one"});
  CHECK(one.get() == std::vector<std::string>{"zero", "one"});
  REQUIRE(server.wait(std::chrono::seconds(10)).empty());
  // Participant 1 comes back (a restarted rank): answered at once, with its new blob.
  CHECK(rmpi::rendezvous_exchange("127.0.0.1", server.port(), secret, 1, 2, "one again", std::chrono::seconds(10)) ==
        std::vector<std::string>{"zero", "one again"});
  // A participant of another count is still refused.
  CHECK_THROWS_AS(rmpi::rendezvous_exchange("127.0.0.1", server.port(), secret, 1, 3, "x", std::chrono::seconds(5)),
                  rmpi::ConnectError);
  CHECK(server.rejected() == 1);
}

TEST_CASE("a participant arriving again before the exchange completes replaces its blob") {
  const std::string secret = rmpi::auth::make_secret();
  rmpi::RendezvousServer server("127.0.0.1", 0, secret, 2);
  auto first = std::async(std::launch::async, [&] {
    return rmpi::rendezvous_exchange("127.0.0.1", server.port(), secret, 1, 2, "old", std::chrono::seconds(10));
  });
  // Once the first arrival is in, its process "dies" and a new one arrives as id 1.
  std::vector<std::uint32_t> missing;
  for (int i = 0; i < 200 && missing != std::vector<std::uint32_t>{0}; ++i)
    missing = server.wait(std::chrono::milliseconds(50));
  REQUIRE(missing == std::vector<std::uint32_t>{0});
  auto second = std::async(std::launch::async, [&] {
    return rmpi::rendezvous_exchange("127.0.0.1", server.port(), secret, 1, 2, "new", std::chrono::seconds(10));
  });
  CHECK_THROWS_AS(first.get(), rmpi::ConnectError);  // its connection was closed for the new one
  CHECK(rmpi::rendezvous_exchange("127.0.0.1", server.port(), secret, 0, 2, "zero", std::chrono::seconds(10)) ==
        std::vector<std::string>{"zero", "new"});
  CHECK(second.get() == std::vector<std::string>{"zero", "new"});
}

TEST_CASE("wait reports the ids that never showed up") {
  const std::string secret = rmpi::auth::make_secret();
  auto server = std::make_unique<rmpi::RendezvousServer>("127.0.0.1", 0, secret, 3);
  auto one = std::async(std::launch::async, [&] {
    return rmpi::rendezvous_exchange("127.0.0.1", server->port(), secret, 1, 3, "one",
                                     std::chrono::seconds(10));
  });
  // Only id 1 ever comes: wait times out and names 0 and 2.
  std::vector<std::uint32_t> missing;
  for (int i = 0; i < 100 && missing != std::vector<std::uint32_t>{0, 2}; ++i)
    missing = server->wait(std::chrono::milliseconds(50));
  CHECK(missing == std::vector<std::uint32_t>{0, 2});
  server.reset();  // stops the server: the waiting client fails instead of hanging
  CHECK_THROWS_AS(one.get(), rmpi::ConnectError);
}

TEST_CASE("a port in use is a ConnectError naming it") {
  rmpi::RendezvousServer first("127.0.0.1", 0, "s", 1);
  try {
    rmpi::RendezvousServer second("127.0.0.1", first.port(), "s", 1);
    FAIL("binding a port in use must throw");
  } catch (const rmpi::ConnectError& e) {
    CHECK(std::string(e.what()).find(std::to_string(first.port())) != std::string::npos);
  }
}

namespace {

int threads_of_this_process() {
  std::ifstream status("/proc/self/status");
  for (std::string line; std::getline(status, line);)
    if (line.rfind("Threads:", 0) == 0) return std::stoi(line.substr(8));
  return -1;
}

}  // namespace

TEST_CASE("one thread serves every connection: idle connections add no thread") {
  const std::string secret = rmpi::auth::make_secret();
  rmpi::RendezvousServer server("127.0.0.1", 0, secret, 1, {.max_unauthenticated = 1000});
  const int before = threads_of_this_process();
  std::vector<int> idle;
  for (int i = 0; i < 300; ++i) idle.push_back(rmpi::testing::connect_loopback(server.port()));
  // Connections are accepted in order: once a later one is answered, all 300 are in their handshake.
  const int probe = rmpi::testing::connect_loopback(server.port());
  CHECK(rmpi::testing::wrong_secret_handshake(probe));
  CHECK(server.unauthenticated() >= 300);
  ::close(probe);
  CHECK(threads_of_this_process() <= before);
  for (int fd : idle) ::close(fd);
  CHECK(rmpi::rendezvous_exchange("127.0.0.1", server.port(), secret, 0, 1, "x",
                                  std::chrono::seconds(10)) == std::vector<std::string>{"x"});
}

TEST_CASE("past the cap a connection is closed at once; below it the others are served") {
  const std::string secret = rmpi::auth::make_secret();
  rmpi::RendezvousServer server("127.0.0.1", 0, secret, 1,
                                {.max_unauthenticated = 8, .handshake_timeout = std::chrono::seconds(60)});
  std::vector<int> held;
  for (int i = 0; i < 8; ++i) held.push_back(rmpi::testing::connect_loopback(server.port()));
  // The ninth is accepted after the eight (in order) and closed at once, not after 60 s.
  const int ninth = rmpi::testing::connect_loopback(server.port());
  CHECK_FALSE(rmpi::testing::wrong_secret_handshake(ninth));
  CHECK(rmpi::testing::closed_by_peer(ninth, std::chrono::seconds(5)));
  CHECK(server.unauthenticated() == 8);
  ::close(ninth);
  CHECK(server.rejected() == 1);
  ::close(held.back());
  held.pop_back();
  // The server frees the slot when it sees the close (asynchronously; bounded poll).
  for (const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(10);
       server.unauthenticated() > 7 && std::chrono::steady_clock::now() < until;)
    std::this_thread::yield();
  REQUIRE(server.unauthenticated() == 7);
  // A slot is free again: a participant gets through.
  CHECK(rmpi::rendezvous_exchange("127.0.0.1", server.port(), secret, 0, 1, "x",
                                  std::chrono::seconds(10)) == std::vector<std::string>{"x"});
  for (int fd : held) ::close(fd);
}

TEST_CASE("a connection that does not authenticate in time is dropped (the deadline is configurable)") {
  const std::string secret = rmpi::auth::make_secret();
  rmpi::RendezvousServer server("127.0.0.1", 0, secret, 1,
                                {.max_unauthenticated = 4, .handshake_timeout = std::chrono::milliseconds(200)});
  const int silent = rmpi::testing::connect_loopback(server.port());
  CHECK(rmpi::testing::closed_by_peer(silent, std::chrono::seconds(5)));
  ::close(silent);
  CHECK(server.rejected() == 1);
}

TEST_CASE("a rendezvous on several addresses serves them all on one port") {
  const std::string secret = rmpi::auth::make_secret();
  rmpi::RendezvousServer server(std::vector<std::string>{"127.0.0.1", "127.0.0.2"}, 0, secret, 2);
  auto a = std::async(std::launch::async, [&] {
    return rmpi::rendezvous_exchange("127.0.0.2", server.port(), secret, 1, 2, "b", std::chrono::seconds(10));
  });
  const auto t = rmpi::rendezvous_exchange("127.0.0.1", server.port(), secret, 0, 2, "a",
                                           std::chrono::seconds(10));
  CHECK(t == std::vector<std::string>{"a", "b"});
  CHECK(a.get() == t);
}

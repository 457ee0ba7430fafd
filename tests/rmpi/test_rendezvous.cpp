// RendezvousServer and rendezvous_exchange, in one process: every
// participant gets the full table; bad clients are dropped while the others
// are served; wait() reports who never showed up.
#include <rmpi/rendezvous.hpp>

#include <unistd.h>

#include <future>
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

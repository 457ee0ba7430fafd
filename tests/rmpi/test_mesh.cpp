// The rank mesh at init: peers that do not know the job secret, or send
// garbage, are dropped with a logged line while the job completes; a peer
// that cannot be reached is a ConnectError naming its rank, host and port.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstring>
#include <future>
#include <thread>

#include <doctest/doctest.h>

#include <cereal/archives/binary.hpp>
#include <cereal/types/string.hpp>

#include <rmpi/auth.hpp>
#include <rmpi/detail/endpoint.hpp>
#include <rmpi/message.hpp>
#include <rmpi/wire.hpp>

#include "bad_peer.hpp"
#include "job_harness.hpp"

using rmpi::test::Job;
using rmpi::test::run_job;

namespace {

bool has(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }


int connect_local(const std::string& name) {
  const int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
  sockaddr_un a{};
  a.sun_family = AF_UNIX;
  std::memcpy(a.sun_path + 1, name.data(), name.size());
  const auto len = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + 1 + name.size());
  if (::connect(fd, reinterpret_cast<sockaddr*>(&a), len) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

}  // namespace


TEST_CASE("garbage and wrong-secret peers at a rank's listeners are dropped; the job completes") {
  const std::uint16_t port = rmpi::testing::free_port();
  Job job({.ranks = 2,
           .program = RMPI_TEST_PROGRAM,
           .args = {"exchange"},
           .extra_env = {{1, {{"RMPI_PORT_RANGE", std::to_string(port) + "-" + std::to_string(port)}}}}});
  job.start(1);
  const int garbage = rmpi::testing::connect_loopback(port, std::chrono::seconds(2));
  REQUIRE(garbage >= 0);
  const char junk[] = "GET / HTTP/1.0\r\n\r\n and more bytes than a frame header holds";
  (void)!::write(garbage, junk, sizeof junk);
  CHECK(rmpi::testing::closed_by_peer(garbage));
  ::close(garbage);

  const int liar = rmpi::testing::connect_loopback(port, std::chrono::seconds(2));
  REQUIRE(liar >= 0);
  REQUIRE(rmpi::testing::wrong_secret_handshake(liar));
  CHECK(rmpi::testing::closed_by_peer(liar));
  ::close(liar);

  const int local = connect_local("rmpi-" + job.job_id() + "-1");
  REQUIRE(local >= 0);
  (void)!::write(local, junk, 8);
  ::shutdown(local, SHUT_WR);
  CHECK(rmpi::testing::closed_by_peer(local));
  ::close(local);

  job.start(0);
  const auto res = job.wait();
  INFO(res.summary());
  REQUIRE(res.all_exited_zero());
  // One line at once, the other two counted (one line per second at most).
  CHECK(has(res.ranks[1].err, "dropped a connection: "));
  CHECK(has(res.ranks[1].err, "(peer 127.0.0.1:"));
  CHECK(has(res.ranks[1].err, "bad frame magic"));
  CHECK(has(res.ranks[1].err, "2 more bad connections in the last 1.0 s not shown"));
}

TEST_CASE("a wrong-secret client at the rendezvous is dropped; the job completes") {
  Job job({.ranks = 3, .program = RMPI_TEST_PROGRAM, .args = {"exchange"}});
  CHECK_THROWS_AS(rmpi::rendezvous_exchange("127.0.0.1", job.server().port(), "wrong secret", 0, 3, "x",
                                            std::chrono::seconds(5)),
                  rmpi::ConnectError);
  job.start_all();
  const auto res = job.wait();
  INFO(res.summary());
  REQUIRE(res.all_exited_zero());
  CHECK(job.server().rejected() == 1);
}

TEST_CASE("an unreachable peer is a ConnectError naming its rank, host and port") {
  const std::uint16_t dead = rmpi::testing::free_port();  // nothing listens there
  Job job({.ranks = 2,
           .program = RMPI_TEST_PROGRAM,
           .args = {"exchange"},
           .extra_env = {{0, {{"RMPI_INIT_TIMEOUT", "2"}}}}});
  const rmpi::detail::Endpoint fake{"127.0.0.1", dead, "rmpi-nobody-here", "elsewhere", {}};
  const auto blob = rmpi::places::encode(fake).payload;
  auto fake_rank = std::async(std::launch::async, [&] {
    return rmpi::rendezvous_exchange("127.0.0.1", job.server().port(), job.secret(), 1, 2,
                                     std::string_view(reinterpret_cast<const char*>(blob.data()), blob.size()),
                                     std::chrono::seconds(20));
  });
  job.start(0);
  const auto res = job.wait();
  INFO(res.summary());
  CHECK(fake_rank.get().size() == 2);
  CHECK(res.ranks[0].exit_code == 1);
  CHECK(has(res.ranks[0].out, "rank 0 cannot reach rank 1 at 127.0.0.1:" + std::to_string(dead)));
}

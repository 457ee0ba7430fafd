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
#include <rmpi/message.hpp>
#include <rmpi/wire.hpp>

#include "job_harness.hpp"

using rmpi::test::Job;
using rmpi::test::run_job;

namespace {

bool has(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }

std::uint16_t free_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
  socklen_t len = sizeof a;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  ::close(fd);
  return ntohs(a.sin_port);
}

// Connects to 127.0.0.1:port, retrying while the listener is not up yet
// (bounded: 200 attempts 10 ms apart).
int connect_tcp(std::uint16_t port) {
  for (int i = 0; i < 200; ++i) {
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0) return fd;
    ::close(fd);
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return -1;
}

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

// True when the peer closes the connection within 10 s (reads and discards).
bool closed_by_peer(int fd) {
  char buf[256];
  for (;;) {
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, 10000) <= 0) return false;
    const ssize_t n = ::read(fd, buf, sizeof buf);
    if (n <= 0) return true;
  }
}

void write_frame(int fd, rmpi::wire::FrameKind kind, const void* data, std::size_t n) {
  const auto h = rmpi::wire::encode_header({.kind = kind, .length = n});
  (void)!::write(fd, h.data(), h.size());
  if (n) (void)!::write(fd, data, n);
}

// Runs the connector side of the handshake with a wrong secret.
void wrong_secret_handshake(int fd) {
  const auto nonce = rmpi::auth::make_nonce();
  write_frame(fd, rmpi::wire::FrameKind::auth, nonce.data(), nonce.size());
  std::byte reply[32 + 64];
  std::size_t got = 0;
  while (got < sizeof reply) {
    const ssize_t n = ::read(fd, reply + got, sizeof reply - got);
    if (n <= 0) break;
    got += static_cast<std::size_t>(n);
  }
  REQUIRE(got == sizeof reply);
  rmpi::auth::Nonce theirs{};
  std::memcpy(theirs.data(), reply + 32, 32);
  const auto proof = rmpi::auth::connector_proof("not the job secret", nonce, theirs);
  write_frame(fd, rmpi::wire::FrameKind::auth, proof.data(), proof.size());
}

// The layout of the blob a rank publishes (host, port, local socket, node).
struct FakeEndpoint {
  std::string host;
  std::uint16_t port = 0;
  std::string local_name;
  std::string node_id;
  template <class A>
  void serialize(A& ar) {
    ar(host, port, local_name, node_id);
  }
};

}  // namespace


TEST_CASE("garbage and wrong-secret peers at a rank's listeners are dropped; the job completes") {
  const std::uint16_t port = free_port();
  Job job({.ranks = 2,
           .program = RMPI_TEST_PROGRAM,
           .args = {"exchange"},
           .extra_env = {{1, {{"RMPI_PORT_RANGE", std::to_string(port) + "-" + std::to_string(port)}}}}});
  job.start(1);
  const int garbage = connect_tcp(port);
  REQUIRE(garbage >= 0);
  const char junk[] = "GET / HTTP/1.0\r\n\r\n and more bytes than a frame header holds";
  (void)!::write(garbage, junk, sizeof junk);
  CHECK(closed_by_peer(garbage));
  ::close(garbage);

  const int liar = connect_tcp(port);
  REQUIRE(liar >= 0);
  wrong_secret_handshake(liar);
  CHECK(closed_by_peer(liar));
  ::close(liar);

  const int local = connect_local("rmpi-" + job.job_id() + "-1");
  REQUIRE(local >= 0);
  (void)!::write(local, junk, 8);
  ::shutdown(local, SHUT_WR);
  CHECK(closed_by_peer(local));
  ::close(local);

  job.start(0);
  const auto res = job.wait();
  INFO(res.summary());
  REQUIRE(res.all_exited_zero());
  CHECK(has(res.ranks[1].err, "dropped a connection from 127.0.0.1"));
  CHECK(has(res.ranks[1].err, "bad frame magic"));
  CHECK(has(res.ranks[1].err, "does not know the job secret"));
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
  const std::uint16_t dead = free_port();  // nothing listens there
  Job job({.ranks = 2,
           .program = RMPI_TEST_PROGRAM,
           .args = {"exchange"},
           .extra_env = {{0, {{"RMPI_INIT_TIMEOUT", "2"}}}}});
  const FakeEndpoint fake{"127.0.0.1", dead, "rmpi-nobody-here", "elsewhere"};
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

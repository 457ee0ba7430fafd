// The transport core's accept mechanism: the sans-I/O Acceptor (cap,
// deadline, first frame) and its epoll loop against real loopback sockets:
// a cap on connections in their handshake, a timeout, a wrong secret,
// garbage, and a good peer still accepted after each.
#include <rmpi/transport/acceptor.hpp>
#include <rmpi/transport/asio_accept_loop.hpp>
#include <rmpi/transport/epoll_accept_loop.hpp>

#include <doctest/doctest.h>

#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <condition_variable>
#include <thread>

#include <boost/asio/dispatch.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <mutex>
#include <string>
#include <vector>

#include "bad_peer.hpp"

using namespace rmpi;
using namespace rmpi::transport;
using namespace std::chrono_literals;

namespace {

const std::string kSecret = "the job secret";

// Plays the connector's handshake over a blocking socket; true once authenticated.
bool authenticate(int fd, const std::string& secret) {
  Handshake hs(HandshakeRole::connector, secret, Clock::now() + 10s);
  std::vector<std::byte> buf(wire::kHeaderSize + kMaxHandshakePayload);
  for (int steps = 0; steps < 8; ++steps) {
    if (hs.has_output()) {
      const auto out = hs.take_output();
      if (::send(fd, out.data(), out.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(out.size())) return false;
    }
    if (hs.state() != Handshake::State::in_progress) return hs.done();
    const ssize_t n = ::recv(fd, buf.data(), hs.want(), 0);
    if (n <= 0) return false;
    hs.feed(std::span<const std::byte>(buf.data(), static_cast<std::size_t>(n)));
  }
  return false;
}

// A TCP listener on 127.0.0.1 with an EpollAcceptLoop, collecting what it accepts and logs.
struct Listener {
  explicit Listener(listener::ListenerLimits limits, std::optional<FrameLimits> first = std::nullopt) {
    const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
    REQUIRE(::listen(fd, 128) == 0);
    socklen_t len = sizeof a;
    ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
    port = ntohs(a.sin_port);
    loop.emplace(std::vector<EpollAcceptLoop::Listening>{{fd, false}},
                 AcceptorOptions{.secret = kSecret, .limits = limits, .first_frame = first},
                 [this](const std::string& line) {
                   std::lock_guard lock(mu);
                   lines.push_back(line);
                 },
                 [this](int afd, bool, AcceptedPeer peer) {
                   std::lock_guard lock(mu);
                   accepted.push_back(std::move(peer));
                   fds.push_back(afd);
                   cv.notify_all();
                 });
  }
  ~Listener() {
    loop->stop();
    for (int fd : fds) ::close(fd);
  }
  // Waits until `n` peers were accepted (10 s watchdog).
  bool wait_accepted(std::size_t n) {
    std::unique_lock lock(mu);
    return cv.wait_for(lock, 10s, [&] { return accepted.size() >= n; });
  }
  // Connects, authenticates, sends `first` if any; true once the listener hands the peer over.
  bool good_peer(const std::vector<std::byte>& first = {}) {
    const std::size_t before = [&] {
      std::lock_guard lock(mu);
      return accepted.size();
    }();
    const int fd = testing::connect_loopback(port);
    if (fd < 0 || !authenticate(fd, kSecret)) return false;
    if (!first.empty()) ::send(fd, first.data(), first.size(), MSG_NOSIGNAL);
    const bool ok = wait_accepted(before + 1);
    ::close(fd);
    return ok;
  }
  std::string all_lines() {
    std::lock_guard lock(mu);
    std::string out;
    for (const auto& l : lines) out += l + "\n";
    return out;
  }

  std::uint16_t port = 0;
  std::mutex mu;
  std::condition_variable cv;
  std::vector<AcceptedPeer> accepted;
  std::vector<int> fds;
  std::vector<std::string> lines;
  std::optional<EpollAcceptLoop> loop;  // last: its thread uses the members above
};

}  // namespace

TEST_CASE("Acceptor without I/O: the handshake, the first frame, the deadline and the cap") {
  std::vector<std::string> lines;
  Acceptor a({.secret = "k", .limits = {.max_unauthenticated = 1, .handshake_timeout = 1s},
              .first_frame = FrameLimits(16)},
             [&](const std::string& l) { lines.push_back(l); });
  const Clock::time_point t0{};
  const auto id = a.admit("10.0.0.1:1", t0);
  REQUIRE(id);
  CHECK(a.unauthenticated() == 1);
  CHECK_FALSE(a.admit("10.0.0.2:2", t0));  // the cap: one in its handshake
  CHECK(a.rejected() == 1);
  REQUIRE(lines.size() == 1);
  CHECK(lines[0].find("refused a connection: 1 connections are already in their handshake") == 0);
  CHECK(lines[0].find("10.0.0.2:2") != std::string::npos);

  Handshake connector(HandshakeRole::connector, "k", t0 + 1s);
  auto p = a.feed(*id, connector.take_output());
  CHECK(p.outcome == Acceptor::Outcome::pending);
  connector.feed(p.reply);
  REQUIRE(connector.done());
  p = a.feed(*id, connector.take_output());
  CHECK(p.outcome == Acceptor::Outcome::pending);  // authenticated, its first frame still to come
  CHECK(a.unauthenticated() == 0);                 // the slot is free once authenticated
  CHECK(a.want(*id) == wire::kHeaderSize);
  const auto h = frame_header({.kind = wire::FrameKind::control, .source = 9}, 3);
  std::vector<std::byte> first(h.begin(), h.end());
  first.insert(first.end(), {std::byte{1}, std::byte{2}, std::byte{3}});
  p = a.feed(*id, first);
  REQUIRE(p.outcome == Acceptor::Outcome::ready);
  const AcceptedPeer peer = a.take(*id);
  CHECK(peer.address == "10.0.0.1:1");
  REQUIRE(peer.first_frame);
  CHECK(peer.first_frame->header.source == 9);
  CHECK(peer.first_frame->payload.size() == 3);
  CHECK(a.pending() == 0);

  // The deadline: not before it, at it.
  const auto late = a.admit("10.0.0.3:3", t0);
  REQUIRE(late);
  CHECK(a.next_due() <= t0 + 1s);
  CHECK(a.expire(t0 + 999ms).empty());
  CHECK(a.expire(t0 + 1s) == std::vector<Acceptor::Id>{*late});
  CHECK(a.unauthenticated() == 0);
  CHECK(a.pending() == 0);
}

TEST_CASE("the epoll accept loop: good peers accepted, with their address and first frame") {
  Listener l({}, FrameLimits(0));
  const auto hello = frame_header({.kind = wire::FrameKind::control, .source = 5}, 0);
  REQUIRE(l.good_peer(std::vector<std::byte>(hello.begin(), hello.end())));
  REQUIRE(l.good_peer(std::vector<std::byte>(hello.begin(), hello.end())));
  std::lock_guard lock(l.mu);
  CHECK(l.accepted[0].address.find("127.0.0.1:") == 0);
  REQUIRE(l.accepted[1].first_frame);
  CHECK(l.accepted[1].first_frame->header.source == 5);
  CHECK(l.loop->rejected() == 0);
}

TEST_CASE("the epoll accept loop drops a wrong secret, garbage, a bad first frame; then a good peer is accepted") {
  Listener l({}, FrameLimits(0));
  const auto hello = frame_header({.kind = wire::FrameKind::control}, 0);
  const std::vector<std::byte> hello_bytes(hello.begin(), hello.end());
  SUBCASE("wrong secret") {
    const int fd = testing::connect_loopback(l.port);
    CHECK(testing::wrong_secret_handshake(fd));
    CHECK(testing::closed_by_peer(fd));
    ::close(fd);
    CHECK(l.all_lines().find("failed job-secret authentication") != std::string::npos);
  }
  SUBCASE("garbage") {
    const int fd = testing::connect_loopback(l.port);
    const std::string junk = "GET / HTTP/1.1\r\nHost: example\r\n\r\n";
    ::send(fd, junk.data(), junk.size(), MSG_NOSIGNAL);
    CHECK(testing::closed_by_peer(fd));
    ::close(fd);
    CHECK(l.all_lines().find("bad frame magic") != std::string::npos);
  }
  SUBCASE("a data frame before authenticating") {
    const int fd = testing::connect_loopback(l.port);
    testing::write_frame(fd, wire::FrameKind::data, "abcd", 4);
    CHECK(testing::closed_by_peer(fd));
    ::close(fd);
    CHECK(l.all_lines().find("sent a data frame before authenticating") != std::string::npos);
  }
  SUBCASE("a first frame over its limit") {
    const int fd = testing::connect_loopback(l.port);
    REQUIRE(authenticate(fd, kSecret));
    testing::write_frame(fd, wire::FrameKind::control, "x", 1);
    CHECK(testing::closed_by_peer(fd));
    ::close(fd);
    CHECK(l.all_lines().find("bad first frame after the handshake: frame length 1 over the limit of 0") !=
          std::string::npos);
  }
  CHECK(l.loop->rejected() == 1);
  CHECK(l.all_lines().find("(peer 127.0.0.1:") != std::string::npos);
  CHECK(l.good_peer(hello_bytes));
  CHECK(l.loop->unauthenticated() == 0);
}

TEST_CASE("the epoll accept loop caps connections in their handshake and times them out") {
  Listener l({.max_unauthenticated = 2, .handshake_timeout = 300ms});
  const int a = testing::connect_loopback(l.port);
  const int b = testing::connect_loopback(l.port);
  // Both silent ones hold the two slots once accepted: a third is closed at once.
  bool refused = false;
  for (int i = 0; i < 50 && !refused; ++i) {
    const int c = testing::connect_loopback(l.port);
    refused = testing::closed_by_peer(c, 100ms) && l.loop->rejected() >= 1 && l.loop->unauthenticated() == 2;
    ::close(c);
  }
  CHECK(refused);  // the line's wording is checked without I/O above
  // The silent ones are dropped at their deadline.
  CHECK(testing::closed_by_peer(a, 5s));
  CHECK(testing::closed_by_peer(b, 5s));
  ::close(a);
  ::close(b);
  CHECK(l.loop->unauthenticated() == 0);
  CHECK(l.good_peer());
  l.loop->stop();  // writes the held-back count
  CHECK(l.all_lines().find("no handshake within 300 ms (RMPI_HANDSHAKE_TIMEOUT_MS)") != std::string::npos);
}

TEST_CASE("the Asio accept loop: the same policy; garbage, a wrong secret, a silent peer, then a good peer") {
  namespace asio = boost::asio;
  asio::io_context io;
  std::mutex mu;
  std::condition_variable cv;
  std::vector<AcceptedPeer> accepted;
  std::vector<std::string> lines;
  auto loop = AsioAcceptLoop::create(
      io.get_executor(),
      {.secret = kSecret, .limits = {.max_unauthenticated = 8, .handshake_timeout = 300ms},
       .first_frame = FrameLimits(16)},
      [&](const std::string& line) {
        std::lock_guard lock(mu);
        lines.push_back(line);
      },
      [&](AsioAcceptLoop::Socket socket, AcceptedPeer peer) {
        std::lock_guard lock(mu);
        accepted.push_back(std::move(peer));
        cv.notify_all();
        boost::system::error_code ignored;
        socket.close(ignored);
      });
  asio::ip::tcp::acceptor acceptor(io, {asio::ip::make_address("127.0.0.1"), 0});
  const std::uint16_t port = acceptor.local_endpoint().port();
  loop->listen(std::move(acceptor));
  std::thread runner([&] { io.run(); });

  const int junk = testing::connect_loopback(port);
  const std::string http = "GET / HTTP/1.1\r\nHost: example\r\n\r\n";  // over one header
  ::send(junk, http.data(), http.size(), MSG_NOSIGNAL);
  CHECK(testing::closed_by_peer(junk));
  ::close(junk);
  const int wrong = testing::connect_loopback(port);
  CHECK(testing::wrong_secret_handshake(wrong));
  CHECK(testing::closed_by_peer(wrong));
  ::close(wrong);
  const int silent = testing::connect_loopback(port);
  CHECK(testing::closed_by_peer(silent, 5s));  // at the 300 ms deadline
  ::close(silent);
  CHECK(loop->rejected() == 3);

  const int good = testing::connect_loopback(port);
  REQUIRE(authenticate(good, kSecret));
  testing::write_frame(good, wire::FrameKind::control, "hi", 2);
  {
    std::unique_lock lock(mu);
    CHECK(cv.wait_for(lock, 10s, [&] { return !accepted.empty(); }));
    REQUIRE(accepted.size() == 1);
    REQUIRE(accepted[0].first_frame);
    CHECK(accepted[0].first_frame->payload.size() == 2);
    CHECK(accepted[0].address.find("127.0.0.1:") == 0);
  }
  ::close(good);
  CHECK(loop->unauthenticated() == 0);
  asio::dispatch(io, [&] { loop->stop(); });
  runner.join();  // stop() closed everything: run() returns
  std::lock_guard lock(mu);
  std::string all;
  for (const auto& l : lines) all += l + "\n";
  CHECK(all.find("bad frame magic") != std::string::npos);  // the first line, written at once
  CHECK(all.find("(peer 127.0.0.1:") != std::string::npos);
}

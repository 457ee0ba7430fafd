// The job-secret handshake state machine (rmpi/transport/handshake.hpp) and
// the connect-retry schedule (rmpi/transport/retry.hpp), driven without I/O.
#include <rmpi/transport/handshake.hpp>
#include <rmpi/transport/retry.hpp>

#include <doctest/doctest.h>

#include <algorithm>
#include <vector>

using namespace rmpi;
using namespace rmpi::transport;
using namespace std::chrono_literals;

namespace {

const Clock::time_point kStart{};
const Clock::time_point kLater = kStart + 10s;

// Moves every queued byte from `from` to `to`, one byte per feed() when
// `bytewise` (a peer whose bytes trickle in); returns the bytes not consumed.
std::size_t pump(Handshake& from, Handshake& to, bool bytewise = false) {
  const auto out = from.take_output();
  std::size_t used = 0;
  if (bytewise) {
    for (std::size_t i = 0; i < out.size(); ++i) used += to.feed(std::span(out).subspan(i, 1));
  } else {
    used = to.feed(out);
  }
  return out.size() - used;
}

std::vector<std::byte> frame(wire::FrameKind kind, std::size_t payload_size, std::byte fill = std::byte{7}) {
  const auto h = wire::encode_header({.kind = kind, .length = payload_size});
  std::vector<std::byte> out(h.begin(), h.end());
  out.insert(out.end(), payload_size, fill);
  return out;
}

}  // namespace

TEST_CASE("good secret: both sides finish, in whole or byte by byte") {
  for (const bool bytewise : {false, true}) {
    CAPTURE(bytewise);
    Handshake connector(HandshakeRole::connector, "s3cret", kLater);
    Handshake acceptor(HandshakeRole::acceptor, "s3cret", kLater);
    CHECK(connector.has_output());  // the challenge goes first
    CHECK_FALSE(acceptor.has_output());
    CHECK(acceptor.want() == wire::kHeaderSize);
    CHECK(pump(connector, acceptor, bytewise) == 0);
    CHECK(pump(acceptor, connector, bytewise) == 0);
    CHECK(connector.done());
    CHECK(acceptor.state() == Handshake::State::in_progress);
    CHECK(pump(connector, acceptor, bytewise) == 0);
    CHECK(acceptor.done());
    CHECK(acceptor.error() == HandshakeError::none);
    CHECK(acceptor.want() == 0);
    CHECK_FALSE(acceptor.has_output());
  }
}

TEST_CASE("bytes after the handshake stay with the caller") {
  Handshake connector(HandshakeRole::connector, "k", kLater);
  Handshake acceptor(HandshakeRole::acceptor, "k", kLater);
  pump(connector, acceptor);
  pump(acceptor, connector);
  auto bytes = connector.take_output();
  const auto hello = frame(wire::FrameKind::control, 5);
  bytes.insert(bytes.end(), hello.begin(), hello.end());
  CHECK(acceptor.feed(bytes) == bytes.size() - hello.size());
  CHECK(acceptor.done());
  CHECK(acceptor.feed(hello) == 0);
}

TEST_CASE("wrong secret: the acceptor finds a wrong proof, the connector a wrong answer") {
  SUBCASE("the connector's secret is wrong") {
    Handshake connector(HandshakeRole::connector, "guess", kLater);
    Handshake acceptor(HandshakeRole::acceptor, "real", kLater);
    pump(connector, acceptor);
    pump(acceptor, connector);
    CHECK(connector.failed());
    CHECK(connector.error() == HandshakeError::wrong_secret);
    // Its proof still goes out, so that the acceptor logs a failed proof.
    REQUIRE(connector.has_output());
    pump(connector, acceptor);
    CHECK(acceptor.failed());
    CHECK(acceptor.error() == HandshakeError::wrong_secret);
    CHECK(acceptor.reason().find("job secret") != std::string::npos);
    CHECK_FALSE(acceptor.has_output());
  }
  SUBCASE("a replayed reply with another nonce") {
    Handshake first(HandshakeRole::connector, "k", kLater);
    Handshake acceptor(HandshakeRole::acceptor, "k", kLater);
    pump(first, acceptor);
    const auto reply = acceptor.take_output();
    Handshake second(HandshakeRole::connector, "k", kLater);  // another nonce
    second.feed(reply);
    CHECK(second.error() == HandshakeError::wrong_secret);
  }
}

TEST_CASE("truncated: a close before the end fails with `closed`, never done") {
  Handshake connector(HandshakeRole::connector, "k", kLater);
  Handshake acceptor(HandshakeRole::acceptor, "k", kLater);
  auto challenge = connector.take_output();
  challenge.resize(challenge.size() - 1);
  CHECK(acceptor.feed(challenge) == challenge.size());
  CHECK(acceptor.want() == 1);
  CHECK(acceptor.state() == Handshake::State::in_progress);
  acceptor.on_closed();
  CHECK(acceptor.error() == HandshakeError::closed);
  acceptor.on_closed();  // the first failure stays
  CHECK(acceptor.error() == HandshakeError::closed);
}

TEST_CASE("oversize and wrong-sized frames are rejected at their header or size") {
  SUBCASE("a length over the auth limit, before any payload byte") {
    Handshake acceptor(HandshakeRole::acceptor, "k", kLater);
    const auto big = frame(wire::FrameKind::auth, 1 << 20);
    CHECK(acceptor.feed(big) == wire::kHeaderSize);
    CHECK(acceptor.error() == HandshakeError::bad_frame);
    CHECK(acceptor.reason().find("over the limit") != std::string::npos);
  }
  SUBCASE("an auth frame of the wrong size") {
    Handshake acceptor(HandshakeRole::acceptor, "k", kLater);
    acceptor.feed(frame(wire::FrameKind::auth, 33));
    CHECK(acceptor.error() == HandshakeError::unexpected_frame);
  }
  SUBCASE("a connector's reply of the wrong size") {
    Handshake connector(HandshakeRole::connector, "k", kLater);
    connector.feed(frame(wire::FrameKind::auth, 32));
    CHECK(connector.error() == HandshakeError::unexpected_frame);
  }
}

TEST_CASE("garbage: bad magic, another frame kind, frames without auth") {
  SUBCASE("bytes that are not a frame") {
    Handshake acceptor(HandshakeRole::acceptor, "k", kLater);
    std::vector<std::byte> junk(64, std::byte{'G'});
    CHECK(acceptor.feed(junk) == wire::kHeaderSize);
    CHECK(acceptor.error() == HandshakeError::bad_frame);
    CHECK(acceptor.reason().find("magic") != std::string::npos);
  }
  SUBCASE("a data frame instead of the challenge") {
    Handshake acceptor(HandshakeRole::acceptor, "k", kLater);
    acceptor.feed(frame(wire::FrameKind::data, 32));
    CHECK(acceptor.error() == HandshakeError::unexpected_frame);
  }
  SUBCASE("a whole frame handed over by an Asio read loop") {
    Handshake acceptor(HandshakeRole::acceptor, "k", kLater);
    const std::vector<std::byte> payload(32);
    acceptor.on_frame({.kind = wire::FrameKind::control, .length = 32}, payload);
    CHECK(acceptor.error() == HandshakeError::unexpected_frame);
  }
  SUBCASE("nothing is fed once failed") {
    Handshake acceptor(HandshakeRole::acceptor, "k", kLater);
    acceptor.on_closed();
    CHECK(acceptor.feed(frame(wire::FrameKind::auth, 32)) == 0);
    CHECK(acceptor.error() == HandshakeError::closed);
  }
}

TEST_CASE("timeouts: on_time fails at the deadline, not before") {
  Handshake acceptor(HandshakeRole::acceptor, "k", kLater);
  acceptor.on_time(kLater - 1ms);
  CHECK(acceptor.state() == Handshake::State::in_progress);
  acceptor.on_time(kLater);
  CHECK(acceptor.error() == HandshakeError::timed_out);
  // A finished handshake does not time out afterwards.
  Handshake connector(HandshakeRole::connector, "k", kLater);
  Handshake peer(HandshakeRole::acceptor, "k", kLater);
  pump(connector, peer);
  pump(peer, connector);
  connector.on_time(kLater + 1h);
  CHECK(connector.done());
}

TEST_CASE("retry: exponential back-off, capped, never past the deadline") {
  const auto deadline = kStart + 1s;
  RetrySchedule retry({.first_delay = 5ms, .max_delay = 200ms, .growth = 2}, deadline);
  auto now = kStart;
  std::vector<long> delays;
  for (int i = 0; i < 100; ++i) {
    const auto next = retry.after_failure(now);
    if (!next) break;
    CHECK(*next <= deadline);
    delays.push_back(std::chrono::duration_cast<std::chrono::milliseconds>(*next - now).count());
    now = *next;
  }
  REQUIRE(delays.size() >= 8);
  CHECK(std::vector<long>(delays.begin(), delays.begin() + 7) == std::vector<long>{5, 10, 20, 40, 80, 160, 200});
  CHECK(now == deadline);  // the last attempt is made at the deadline
  CHECK_FALSE(retry.after_failure(now).has_value());
}

TEST_CASE("retry: a fixed interval and a number of attempts") {
  RetrySchedule retry({.first_delay = 1000ms, .max_delay = 1000ms, .growth = 1, .max_attempts = 3});
  auto now = kStart;
  const auto a = retry.after_failure(now);
  REQUIRE(a);
  CHECK(*a - now == 1000ms);
  const auto b = retry.after_failure(*a);
  REQUIRE(b);
  CHECK(*b - *a == 1000ms);
  CHECK_FALSE(retry.after_failure(*b).has_value());
  CHECK(retry.attempts() == 3);
}

TEST_CASE("retry: a deadline already passed gives up at once") {
  RetrySchedule retry({}, kStart);
  CHECK_FALSE(retry.after_failure(kStart + 1ms).has_value());
}

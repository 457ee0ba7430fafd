// FramedConnection: frames in order, large payloads, the auth handshake, and
// every bad input closing that one connection with a reason naming it.
#include "framed_connection.hpp"

#include <doctest/doctest.h>

#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <future>
#include <mutex>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/write.hpp>

#include <rmpi/error.hpp>
#include <rmpi/message.hpp>

#include "io_thread.hpp"

namespace asio = boost::asio;
using namespace rmpi::places::detail;
using namespace std::chrono_literals;
namespace proto = rmpi::places::protocol;
namespace wire = rmpi::wire;

namespace {

constexpr auto kWait = 20s;

// Collects what a connection delivers: frames, readiness and the close reason.
struct Sink {
  std::mutex mu;
  std::condition_variable cv;
  std::deque<Frame> frames;
  bool ready = false;
  std::optional<std::string> closed;
  std::optional<CloseKind> closed_kind;

  ConnectionHandlers handlers() {
    ConnectionHandlers h;
    h.on_ready = [this] {
      std::lock_guard l(mu);
      ready = true;
      cv.notify_all();
    };
    h.on_frame = [this](Frame&& f) {
      std::lock_guard l(mu);
      frames.push_back(std::move(f));
      cv.notify_all();
    };
    h.on_close = [this](const CloseReason& r) {
      std::lock_guard l(mu);
      closed = r.text;
      closed_kind = r.kind;
      cv.notify_all();
    };
    return h;
  }
  Frame next() {
    std::unique_lock l(mu);
    REQUIRE(cv.wait_for(l, kWait, [&] { return !frames.empty() || closed; }));
    if (frames.empty()) FAIL("connection closed: " << *closed);
    Frame f = std::move(frames.front());
    frames.pop_front();
    return f;
  }
  std::string wait_closed() {
    std::unique_lock l(mu);
    REQUIRE(cv.wait_for(l, kWait, [&] { return closed.has_value(); }));
    return *closed;
  }
  CloseKind wait_closed_kind() {
    wait_closed();
    std::lock_guard l(mu);
    return *closed_kind;
  }
  bool wait_ready() {
    std::unique_lock l(mu);
    return cv.wait_for(l, kWait, [&] { return ready || closed; }) && ready;
  }
};

StreamSocket adopt(int fd) {
  StreamSocket s(io_context());
  s.assign(asio::generic::stream_protocol(AF_UNIX, 0), fd);
  return s;
}

std::vector<std::byte> pattern(std::size_t n, unsigned seed) {
  std::vector<std::byte> v(n);
  for (std::size_t i = 0; i < n; ++i) v[i] = static_cast<std::byte>((i * 131 + seed) & 0xff);
  return v;
}

void write_raw(int fd, const void* p, std::size_t n) {
  const char* c = static_cast<const char*>(p);
  while (n > 0) {
    ssize_t w = ::write(fd, c, n);
    REQUIRE(w > 0);
    c += w;
    n -= static_cast<std::size_t>(w);
  }
}

// A trusted connection reading from one end of a socketpair; the test writes raw bytes on the other.
struct RawPair {
  int raw = -1;
  std::shared_ptr<FramedConnection> conn;
  Sink sink;
  explicit RawPair(std::uint64_t max_length = 1 << 20) {
    int sv[2];
    REQUIRE(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0);
    raw = sv[1];
    conn = FramedConnection::create(adopt(sv[0]), "test peer", {.max_length = max_length});
    conn->start(AuthRole::trusted, "", sink.handlers());
  }
  ~RawPair() {
    conn->close("test over");
    sink.wait_closed();
    ::close(raw);
  }
};

wire::HeaderBytes header_bytes(wire::FrameKind kind, std::uint64_t length) {
  wire::FrameHeader h;
  h.kind = kind;
  h.length = length;
  return wire::encode_header(h);
}

}  // namespace

TEST_CASE("frames over a socketpair arrive in order, both ways, with large payloads") {
  int sv[2];
  REQUIRE(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0);
  Sink a_sink, b_sink;
  auto a = FramedConnection::create(adopt(sv[0]), "a", {.max_length = 1ull << 27});
  auto b = FramedConnection::create(adopt(sv[1]), "b", {.max_length = 1ull << 27});
  a->start(AuthRole::trusted, "", a_sink.handlers());
  b->start(AuthRole::trusted, "", b_sink.handlers());

  constexpr int kFrames = 2000;
  for (int i = 0; i < kFrames; ++i) {
    a->send_data(static_cast<std::uint32_t>(i), 7, pattern(static_cast<std::size_t>(i % 97), i));
    b->send_data(static_cast<std::uint32_t>(i), 9, pattern(static_cast<std::size_t>(i % 13), i));
  }
  const auto big = pattern(64u << 20, 3);
  a->send_data(12345, 1, big);
  for (int i = 0; i < kFrames; ++i) {
    Frame f = b_sink.next();
    REQUIRE(f.header.channel == static_cast<std::uint32_t>(i));
    CHECK(f.header.type_tag == 7);
    CHECK(f.payload == pattern(static_cast<std::size_t>(i % 97), i));
    Frame g = a_sink.next();
    REQUIRE(g.header.channel == static_cast<std::uint32_t>(i));
    CHECK(g.payload == pattern(static_cast<std::size_t>(i % 13), i));
  }
  Frame f = b_sink.next();
  CHECK(f.header.channel == 12345);
  CHECK(f.payload.size() == big.size());
  CHECK(f.payload == big);

  a->close("done");
  CHECK(a_sink.wait_closed() == "done");
  CHECK(b_sink.wait_closed() == "connection closed by b");
  // The kind, not the text, tells an orderly end from a failure.
  CHECK(a_sink.wait_closed_kind() == CloseKind::closed_here);
  CHECK(b_sink.wait_closed_kind() == CloseKind::peer_closed);
}

TEST_CASE("control messages round-trip; garbage does not decode as one") {
  proto::SpawnProcess sp{7, {"/bin/echo", "hi"}, {{"A", "1"}}, "/tmp", true};
  auto m = decode_control(encode_control(sp));
  REQUIRE(std::holds_alternative<proto::SpawnProcess>(m));
  CHECK(std::get<proto::SpawnProcess>(m).argv[1] == "hi");
  std::vector<std::byte> garbage(40, std::byte{0xff});
  CHECK_THROWS_AS(decode_control(garbage), rmpi::ProtocolError);
}

TEST_CASE("each bad frame closes the connection with a reason naming the problem") {
  SUBCASE("truncated header, then close") {
    RawPair p;
    auto h = header_bytes(wire::FrameKind::data, 0);
    write_raw(p.raw, h.data(), 12);
    ::shutdown(p.raw, SHUT_WR);
    CHECK(p.sink.wait_closed() == "bad frame from test peer: connection closed after 12 of 32 header bytes");
    CHECK(p.sink.wait_closed_kind() == CloseKind::bad_frame);
  }
  SUBCASE("truncated payload") {
    RawPair p;
    auto h = header_bytes(wire::FrameKind::data, 100);
    write_raw(p.raw, h.data(), h.size());
    write_raw(p.raw, "abc", 3);
    ::shutdown(p.raw, SHUT_WR);
    CHECK(p.sink.wait_closed().find("connection closed after 3 of 100 payload bytes") !=
          std::string::npos);
  }
  SUBCASE("length over the limit") {
    RawPair p(1024);
    auto h = header_bytes(wire::FrameKind::data, 4096);
    write_raw(p.raw, h.data(), h.size());
    const auto r = p.sink.wait_closed();
    CHECK(r.find("bad frame from test peer") == 0);
    CHECK(r.find("4096") != std::string::npos);
  }
  SUBCASE("wrong version") {
    RawPair p;
    auto h = header_bytes(wire::FrameKind::data, 0);
    h[4] = std::byte{7};
    write_raw(p.raw, h.data(), h.size());
    const auto r = p.sink.wait_closed();
    CHECK(r.find("bad frame from test peer: wrong frame version 7") == 0);
  }
  SUBCASE("bad magic") {
    RawPair p;
    auto h = header_bytes(wire::FrameKind::data, 0);
    h[0] = std::byte{'X'};
    write_raw(p.raw, h.data(), h.size());
    CHECK(p.sink.wait_closed().find("bad frame magic") != std::string::npos);
  }
  SUBCASE("unknown kind") {
    RawPair p;
    auto h = header_bytes(wire::FrameKind::data, 0);
    h[5] = std::byte{42};
    write_raw(p.raw, h.data(), h.size());
    CHECK(p.sink.wait_closed().find("unknown frame kind 42") != std::string::npos);
  }
  SUBCASE("garbage bytes") {
    RawPair p;
    const std::string junk = "GET / HTTP/1.1\r\nHost: example\r\n\r\n";
    write_raw(p.raw, junk.data(), junk.size());
    CHECK(p.sink.wait_closed().find("bad frame from test peer") == 0);
  }
  SUBCASE("a handler that throws") {
    int sv[2];
    REQUIRE(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0);
    Sink sink;
    auto conn = FramedConnection::create(adopt(sv[0]), "thrower");
    auto h = sink.handlers();
    h.on_frame = [](Frame&&) { throw rmpi::ProtocolError("payload is nonsense"); };
    conn->start(AuthRole::trusted, "", h);
    auto other = FramedConnection::create(adopt(sv[1]), "sender");
    other->start(AuthRole::trusted, "", {});
    other->send_data(1, 1, {});
    CHECK(sink.wait_closed() == "bad frame from thrower: payload is nonsense");
    other->close("done");
    conn.reset();
  }
}

namespace {

// A TCP listener on 127.0.0.1 handing accepted sockets to acceptor-role connections.
struct Listener {
  asio::io_context io;
  asio::ip::tcp::acceptor acceptor{io, {asio::ip::make_address("127.0.0.1"), 0}};
  std::uint16_t port() const { return acceptor.local_endpoint().port(); }
  std::shared_ptr<FramedConnection> accept(const std::string& secret, Sink& sink,
                                           std::chrono::milliseconds auth_timeout = 10s) {
    asio::ip::tcp::socket s(io);
    acceptor.accept(s);
    StreamSocket gs(io_context());
    gs.assign(asio::generic::stream_protocol(AF_INET, IPPROTO_TCP), s.release());
    const std::string name = describe_remote(gs);
    auto c = FramedConnection::create(std::move(gs), name, {.auth_timeout = auth_timeout});
    c->start(AuthRole::acceptor, secret, sink.handlers());
    return c;
  }
};

}  // namespace

TEST_CASE("TCP with the job secret: authenticated frames flow both ways") {
  Listener l;
  Sink server_sink, client_sink;
  auto accepted = std::async(std::launch::async, [&] { return l.accept("s3cret", server_sink); });
  auto client = connect_and_authenticate(io_context().get_executor(), "127.0.0.1", l.port(),
                                         "s3cret", client_sink.handlers());
  auto server = accepted.get();
  CHECK(client->authenticated());
  REQUIRE(server_sink.wait_ready());
  client->send_control(proto::Hello{proto::Role::spawner});
  Frame f = server_sink.next();
  REQUIRE(f.header.kind == wire::FrameKind::control);
  auto m = decode_control(f.payload);
  REQUIRE(std::holds_alternative<proto::Hello>(m));
  CHECK(std::get<proto::Hello>(m).role == proto::Role::spawner);
  server->send_control(proto::Welcome{"127.0.0.1", 1234});
  Frame w = client_sink.next();
  CHECK(std::get<proto::Welcome>(decode_control(w.payload)).port == 1234);
  client->close("bye");
  CHECK(client_sink.wait_closed() == "bye");
  CHECK(server_sink.wait_closed().find("connection closed by 127.0.0.1:") == 0);
}

TEST_CASE("a peer with the wrong secret is dropped with a logged reason") {
  Listener l;
  Sink server_sink, client_sink;
  auto accepted = std::async(std::launch::async, [&] { return l.accept("right", server_sink); });
  CHECK_THROWS_WITH_AS(connect_and_authenticate(io_context().get_executor(), "127.0.0.1",
                                                l.port(), "wrong", client_sink.handlers()),
                       doctest::Contains("failed job-secret authentication"),
                       rmpi::ConnectError);
  auto server = accepted.get();
  const auto reason = server_sink.wait_closed();
  CHECK(reason.find("127.0.0.1:") != std::string::npos);
  CHECK(reason.find("failed job-secret authentication") != std::string::npos);
  CHECK(server_sink.wait_closed_kind() == CloseKind::unauthenticated);
  CHECK_FALSE(server_sink.ready);
}

TEST_CASE("a silent peer is dropped at the auth timeout") {
  Listener l;
  Sink sink;
  asio::io_context io;
  asio::ip::tcp::socket silent(io);
  auto accepted = std::async(std::launch::async, [&] { return l.accept("x", sink, 200ms); });
  silent.connect({asio::ip::make_address("127.0.0.1"), l.port()});
  auto server = accepted.get();
  CHECK(sink.wait_closed().find("did not authenticate within 200 ms") != std::string::npos);
  CHECK(sink.wait_closed_kind() == CloseKind::unauthenticated);
}

TEST_CASE("a frame other than auth before authenticating is dropped") {
  Listener l;
  Sink sink;
  asio::io_context io;
  asio::ip::tcp::socket rude(io);
  auto accepted = std::async(std::launch::async, [&] { return l.accept("x", sink); });
  rude.connect({asio::ip::make_address("127.0.0.1"), l.port()});
  auto server = accepted.get();
  auto h = header_bytes(wire::FrameKind::control, 0);
  asio::write(rude, asio::buffer(h));
  CHECK(sink.wait_closed().find("sent a control frame before authenticating") !=
        std::string::npos);
}

TEST_CASE("connect_tcp_socket retries, then names host and port") {
  asio::io_context io;
  std::uint16_t free_port;
  {
    asio::ip::tcp::acceptor a(io, {asio::ip::make_address("127.0.0.1"), 0});
    free_port = a.local_endpoint().port();
  }
  ConnectOptions opts;
  opts.tries = 3;
  opts.retry_interval = 10ms;
  const std::string expected =
      "cannot connect to 127.0.0.1:" + std::to_string(free_port) + " after 3 tries";
  CHECK_THROWS_WITH_AS(connect_tcp_socket(io_context().get_executor(), "127.0.0.1", free_port, opts),
                       doctest::Contains(expected.c_str()), rmpi::ConnectError);
}

TEST_CASE("flow control: when_queue_below fires once the queue drains") {
  int sv[2];
  REQUIRE(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0);
  Sink sink;
  auto a = FramedConnection::create(adopt(sv[0]), "a", {.max_length = 1ull << 27});
  auto b = FramedConnection::create(adopt(sv[1]), "b", {.max_length = 1ull << 27});
  a->start(AuthRole::trusted, "", {});
  for (int i = 0; i < 8; ++i) a->send_data(1, 1, pattern(4u << 20, i));
  CHECK(a->queued_bytes() > 0);
  std::promise<std::size_t> drained;
  a->when_queue_below(0, [&] { drained.set_value(a->queued_bytes()); });
  b->start(AuthRole::trusted, "", sink.handlers());
  auto f = drained.get_future();
  REQUIRE(f.wait_for(kWait) == std::future_status::ready);
  CHECK(f.get() == 0);
  for (int i = 0; i < 8; ++i) CHECK(sink.next().payload.size() == (4u << 20));
  a->close("done");
  sink.wait_closed();
}

TEST_CASE("background connect: the future holds the connection once the listener appears") {
  Listener l;
  Sink server_sink, client_sink;
  ConnectOptions opts;
  opts.tries = 5;
  opts.retry_interval = 20ms;
  auto pending = connect_in_background(io_context().get_executor(), "127.0.0.1", l.port(), "k",
                                       client_sink.handlers(), opts);
  auto server = l.accept("k", server_sink);
  auto client = pending.get();
  CHECK(client->authenticated());
  REQUIRE(server_sink.wait_ready());
  client->close("done");
  CHECK(client_sink.wait_closed() == "done");
  server_sink.wait_closed();
}

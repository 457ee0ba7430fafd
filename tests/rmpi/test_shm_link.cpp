// The shared-memory link between two real processes: sizes around the eager
// limit, single copy (CMA) and its pipelined fallback, order, both directions
// at once, goodbye, and kill -9 of the peer during a wait.
#include "shm/link.hpp"

#include <doctest/doctest.h>

#include <sys/epoll.h>

#include <atomic>
#include <thread>

#include "shm_pair.hpp"

using namespace rmpi::testing;
using rmpi::wire::FrameHeader;
using rmpi::wire::FrameKind;

namespace {

constexpr std::size_t kLimit = 4096;

FrameHeader header(std::uint32_t seq, std::uint16_t tag = 7) {
  return {.kind = FrameKind::data, .flags = tag, .source = 3, .channel = seq, .type_tag = 0xfeedull};
}

// Echoes every frame back until the parent says goodbye, then says it too.
void echo(int sock, shm::LinkOptions opt, std::size_t ring = 64 * 1024) {
  Side s(sock, ring, opt);
  for (;;) {
    s.wait([&] { return !s.sink.frames.empty(); });
    if (s.sink.frames.empty()) break;  // eof
    Frame f = std::move(s.sink.frames.front());
    s.sink.frames.pop_front();
    s.send_wait(f.header, f.bytes);
  }
  if (!s.link->failure().empty()) throw std::runtime_error(s.link->failure());
  s.link->close();
  s.wait([&] { return s.link->idle(); });
}

void round_trips(shm::LinkOptions opt, const std::vector<std::size_t>& sizes, std::size_t ring = 64 * 1024) {
  Child child([&](int sock) { echo(sock, opt, ring); });
  Side s(child.sock, ring, opt);
  std::uint32_t seq = 0;
  for (const std::size_t n : sizes) {
    CAPTURE(n);
    const auto data = pattern(n, seq);
    const auto before = s.link->stats();
    s.send_wait(header(seq), data);
    const auto after = s.link->stats();
    if (n <= kLimit) CHECK(after.eager == before.eager + 1);
    else if (opt.cma == shm::CmaMode::always) CHECK(after.pulled == before.pulled + 1);
    else CHECK(after.copied == before.copied + 1);
    const Frame back = s.next();
    CHECK(back.header.channel == seq);
    CHECK(back.header.flags == 7);
    CHECK(back.header.source == 3);
    CHECK(back.header.type_tag == 0xfeedull);
    CHECK(back.header.length == n);
    CHECK(back.bytes == data);
    ++seq;
  }
  s.link->close();
  s.wait([&] { return false; });
  CHECK(s.link->eof());
  CHECK(s.link->failure().empty());
  CHECK(exited_ok(child.join()));
}

}  // namespace

TEST_CASE("0 B, 1 B, the eager limit -1/0/+1 and large messages by single copy (CMA)") {
  shm::LinkOptions opt{.eager_limit = kLimit, .cma = shm::CmaMode::always};
  round_trips(opt, {0, 1, kLimit - 1, kLimit, kLimit + 1, 1 << 20, 16u << 20, 0, 1});
}

TEST_CASE("with CMA refused, large messages are pipelined through the ring") {
  shm::LinkOptions opt{.eager_limit = kLimit, .cma = shm::CmaMode::never};
  round_trips(opt, {0, 1, kLimit, kLimit + 1, 100000, 16u << 20, 1}, 16 * 1024);
}

TEST_CASE("the link probes CMA and says so to the sender") {
  Child child([](int sock) {
    Side s(sock);
    s.link->close();
    s.wait([] { return false; });
  });
  Side s(child.sock);
  s.wait([&] { return s.link->peer_pulls(); }, std::chrono::seconds(10));
  CHECK(s.link->peer_pulls());  // this machine allows CMA between a parent and its child
  s.link->close();
  s.wait([] { return false; });
  CHECK(exited_ok(child.join()));
}

TEST_CASE("order holds over a small ring that wraps many times, mixed with large frames") {
  constexpr int kFrames = 20000;
  constexpr std::size_t kRing = 4096;
  shm::LinkOptions opt{.eager_limit = 1000, .cma = shm::CmaMode::always};
  Child child([&](int sock) {
    Side s(sock, kRing, opt);
    for (int i = 0; i < kFrames; ++i) {
      const Frame f = s.next();
      const std::size_t n = i % 97 == 0 ? 5000 : static_cast<std::size_t>(i % 301);
      if (f.header.channel != static_cast<std::uint32_t>(i) || f.bytes != pattern(n, i))
        throw std::runtime_error("frame " + std::to_string(i) + " out of order or damaged");
    }
    // Records of 64..384 bytes through 4 KiB: the ring wrapped hundreds of times.
    if (s.link->records_read() < static_cast<std::uint64_t>(kFrames)) throw std::runtime_error("too few records");
    s.link->close();
    s.wait([] { return false; });
  });
  Side s(child.sock, kRing, opt);
  std::vector<std::vector<std::byte>> keep;  // large payloads stay alive until pulled
  std::vector<shm::Link::Ticket> tickets;
  for (int i = 0; i < kFrames; ++i) {
    const std::size_t n = i % 97 == 0 ? 5000 : static_cast<std::size_t>(i % 301);
    auto data = pattern(n, i);
    tickets.push_back(s.link->send(header(i), data, n > 1000 ? &data : nullptr));
    s.link->progress(s.sink);
  }
  s.wait([&] { return s.link->idle(); });
  CHECK(s.link->done(tickets.back()));
  CHECK(s.link->stats().pulled == (kFrames + 96) / 97);
  s.link->close();
  s.wait([] { return false; });
  CHECK(s.link->eof());
  CHECK(exited_ok(child.join()));
}

TEST_CASE("both sides flood each other without deadlock") {
  constexpr int kFrames = 5000;
  const auto flood = [](Side& s) {
    for (int i = 0; i < kFrames; ++i) {
      s.link->send(header(i), pattern(static_cast<std::size_t>(i % 700), i));
      s.link->progress(s.sink);
    }
    s.wait([&] { return s.link->idle() && s.sink.frames.size() == kFrames; });
    for (int i = 0; i < kFrames; ++i)
      if (s.sink.frames[static_cast<std::size_t>(i)].bytes != pattern(static_cast<std::size_t>(i % 700), i))
        throw std::runtime_error("damaged frame " + std::to_string(i));
  };
  Child child([&](int sock) {
    Side s(sock, 8192);
    flood(s);
    s.link->close();
    s.wait([] { return false; });
  });
  Side s(child.sock, 8192);
  flood(s);
  CHECK(s.sink.frames.size() == kFrames);
  s.link->close();
  s.wait([] { return false; });
  CHECK(exited_ok(child.join()));
}

TEST_CASE("a receiver asleep on the futex is woken by the sender") {
  Child child([](int sock) {
    Side s(sock);
    char go = 0;
    read_all_fd(sock, &go, 1);  // the parent is asleep now
    s.send_wait(header(1), pattern(10, 1));
    s.link->close();
    s.wait([] { return false; });
  });
  Side s(child.sock);
  s.policy = {std::chrono::microseconds(0), std::chrono::seconds(20)};
  std::thread nudge([&] {
    // Tell the child to send once this side sleeps on its doorbell.
    while (s.mine.bell().state.load() != shm::Doorbell::futex) std::this_thread::yield();
    const char go = 1;
    write_all_fd(child.sock, &go, 1);
  });
  const auto t0 = std::chrono::steady_clock::now();
  const Frame f = s.next();
  nudge.join();
  CHECK(f.bytes == pattern(10, 1));
  // Woken, not timed out: far below the 20 s slice.
  CHECK(std::chrono::steady_clock::now() - t0 < std::chrono::seconds(10));
  s.link->close();
  s.wait([] { return false; });
  CHECK(exited_ok(child.join()));
}

TEST_CASE("kill -9 of the peer during a receive wait ends the wait with eof, no hang") {
  Child child([](int sock) {
    Side s(sock);
    ::pause();  // never sends
  });
  Side s(child.sock);
  std::thread killer([&] {
    while (s.mine.bell().state.load() != shm::Doorbell::futex) std::this_thread::yield();
    ::kill(child.pid, SIGKILL);
  });
  const auto t0 = std::chrono::steady_clock::now();
  CHECK_THROWS_WITH_AS(s.next(), doctest::Contains("link ended"), std::runtime_error);
  killer.join();
  CHECK(s.link->eof());
  CHECK(!s.link->peer_alive());
  CHECK(std::chrono::steady_clock::now() - t0 < std::chrono::seconds(5));
  const int st = child.join();
  CHECK((WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL));
}

TEST_CASE("kill -9 of the peer while it owes a pull fails the send, no hang") {
  Child child([](int sock) {
    Side s(sock);
    ::pause();  // attached (CMA verdict given) but never reads
  });
  Side s(child.sock, 64 * 1024, {.eager_limit = kLimit, .cma = shm::CmaMode::always});
  const auto big = pattern(1 << 20, 5);
  const auto t = s.link->send(header(1), big);
  std::thread killer([&] {
    while (s.mine.bell().state.load() != shm::Doorbell::futex) std::this_thread::yield();
    ::kill(child.pid, SIGKILL);
  });
  s.wait([&] { return s.link->done(t); });
  killer.join();
  CHECK(!s.link->done(t));
  CHECK(s.link->failure().find("ended before it received") != std::string::npos);
  const int st = child.join();
  CHECK((WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL));
}

TEST_CASE("kill -9 of the sender in the middle of a pipelined message fails the receive") {
  Child child([](int sock) {
    Side s(sock, 16 * 1024, {.eager_limit = 1024, .cma = shm::CmaMode::never});
    const auto big = pattern(1 << 20, 9);
    s.wait([&] { return s.link->peer_attached(); });
    s.link->send(header(1), big);  // only the first chunks fit
    s.link->progress(s.sink);
    if (s.link->idle()) throw std::runtime_error("1 MiB fit a 16 KiB ring");
    const char ready = 1;
    write_all_fd(sock, &ready, 1);
    ::pause();
  });
  Side s(child.sock, 16 * 1024, {.eager_limit = 1024, .cma = shm::CmaMode::never});
  char ready = 0;
  read_all_fd(child.sock, &ready, 1);
  ::kill(child.pid, SIGKILL);
  CHECK_THROWS_WITH_AS(s.next(), doctest::Contains("middle of a message"), std::runtime_error);
  CHECK(s.sink.aborted == 1);
  child.join();
}

TEST_CASE("a receiver asleep in epoll (its rank's bell and the pidfd) is woken by data, then by the peer's death") {
  Child child([](int sock) {
    Side s(sock);
    char go = 0;
    read_all_fd(sock, &go, 1);
    s.send_wait(header(1), pattern(100, 1));
    ::pause();  // killed by the parent
  });
  Side s(child.sock);
  shm::RankBell bell(s.mine.bell());
  const int ep = ::epoll_create1(EPOLL_CLOEXEC);
  REQUIRE(ep >= 0);
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.u32 = 1;
  REQUIRE(::epoll_ctl(ep, EPOLL_CTL_ADD, bell.fd(), &ev) == 0);
  ev.data.u32 = 2;
  REQUIRE(::epoll_ctl(ep, EPOLL_CTL_ADD, s.link->pidfd(), &ev) == 0);
  std::atomic<int> phase{0};
  std::thread nudge([&] {
    // Each time this side sleeps: first let the child send, then kill it.
    while (s.mine.control(0).reader_sleeps.load() == 0) std::this_thread::yield();
    const char go = 1;
    write_all_fd(child.sock, &go, 1);
    while (phase.load() == 0) std::this_thread::yield();
    while (s.mine.control(0).reader_sleeps.load() == 0) std::this_thread::yield();
    ::kill(child.pid, SIGKILL);
  });
  int sleeps = 0;
  const auto sleep_once = [&] {
    epoll_event out[2];
    const int n = ::epoll_wait(ep, out, 2, 10000);
    REQUIRE(n > 0);  // woken, not timed out
    ++sleeps;
    for (int i = 0; i < n; ++i) {
      if (out[i].data.u32 == 1) bell.drain();
      else s.link->peer_alive();
    }
  };
  while (s.sink.frames.empty()) {
    s.link->progress(s.sink);
    if (s.sink.frames.empty() && s.link->arm_sleep()) sleep_once();
  }
  phase = 1;
  CHECK(s.sink.frames.front().bytes == pattern(100, 1));
  while (!s.link->eof()) {
    s.link->progress(s.sink);
    if (!s.link->eof() && s.link->arm_sleep()) sleep_once();
  }
  nudge.join();
  CHECK(sleeps >= 2);
  CHECK(s.link->failure().empty());  // died between messages: a clean end
  ::close(ep);
  child.join();
}

TEST_CASE("64 MiB by single copy (CMA) and by the pipelined copy: the same bytes arrive") {
  constexpr std::size_t kBig = std::size_t{64} << 20;
  for (const auto mode : {shm::CmaMode::always, shm::CmaMode::never}) {
    CAPTURE(static_cast<int>(mode));
    const shm::LinkOptions opt{.eager_limit = kLimit, .cma = mode};
    Child child([&](int sock) {
      Side s(sock, 64 * 1024, opt);
      const Frame f = s.next();
      if (f.header.length != kBig || f.bytes != pattern(kBig, 11)) throw std::runtime_error("64 MiB damaged");
      s.link->close();
      s.wait([] { return false; });
    });
    Side s(child.sock, 64 * 1024, opt);
    s.wait([&] { return s.link->peer_attached(); });
    s.send_wait(header(1), pattern(kBig, 11));
    CHECK(s.link->stats().pulled == (mode == shm::CmaMode::always ? 1u : 0u));
    CHECK(s.link->stats().copied == (mode == shm::CmaMode::never ? 1u : 0u));
    s.link->close();
    s.wait([] { return false; });
    CHECK(s.link->failure().empty());
    CHECK(exited_ok(child.join()));
  }
}

TEST_CASE("automatic mode: a large frame is pulled when the receiver has a receive posted, else pipelined") {
  const shm::LinkOptions opt{.eager_limit = kLimit, .cma = shm::CmaMode::automatic, .pull_threshold = 8192};
  Child child([&](int sock) {
    Side s(sock, 64 * 1024, opt);
    const char go = 1;
    for (const std::uint32_t posted : {1u, 0u, 1u}) {
      s.link->advertise_posted(posted);
      write_all_fd(sock, &go, 1);
      const Frame f = s.next();
      if (f.bytes != pattern(f.header.length, f.header.channel)) throw std::runtime_error("frame damaged");
    }
    s.link->close();
    s.wait([] { return false; });
  });
  Side s(child.sock, 64 * 1024, opt);
  s.wait([&] { return s.link->peer_attached(); });
  REQUIRE(s.link->peer_pulls());
  char go = 0;
  // Posted and at the threshold: pulled. Not posted: pipelined. Posted but
  // below the threshold: pipelined.
  const std::pair<std::size_t, shm::Link::Stats> steps[] = {{8192, {0, 1, 0}}, {1 << 20, {0, 1, 1}}, {8191, {0, 1, 2}}};
  std::uint32_t seq = 0;
  for (const auto& [n, want] : steps) {
    CAPTURE(n);
    read_all_fd(child.sock, &go, 1);
    s.send_wait(header(seq), pattern(n, seq));
    ++seq;
    CHECK(s.link->stats().pulled == want.pulled);
    CHECK(s.link->stats().copied == want.copied);
  }
  s.link->close();
  s.wait([] { return false; });
  CHECK(exited_ok(child.join()));
}

namespace {
// Kills (and reaps) the sender as soon as a pull is about to start: the
// pull then finds no process to read from.
struct KillAtBegin final : shm::FrameSink {
  Child* child;
  std::vector<std::byte> buf;
  int begun = 0, completed = 0, aborted = 0;
  explicit KillAtBegin(Child& c) : child(&c) {}
  std::byte* begin_frame(const FrameHeader& h) override {
    ++begun;
    ::kill(child->pid, SIGKILL);
    last_status = child->join();
    buf.resize(h.length);
    return buf.data();
  }
  void complete_frame() override { ++completed; }
  void abort_frame() override { ++aborted; }
  int last_status = 0;
};
}  // namespace

TEST_CASE("kill -9 of the sender in the middle of a CMA pull fails the receive, nothing delivered") {
  const shm::LinkOptions opt{.eager_limit = kLimit, .cma = shm::CmaMode::always};
  Child child([&](int sock) {
    Side s(sock, 64 * 1024, opt);
    s.wait([&] { return s.link->peer_pulls(); });
    const auto big = pattern(std::size_t{16} << 20, 3);
    s.link->send(header(1), big);
    if (s.link->stats().pulled != 1) throw std::runtime_error("not posted for a pull");
    ::pause();  // killed by the parent
  });
  Side s(child.sock, 64 * 1024, opt);
  KillAtBegin sink(child);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (s.link->failure().empty() && !s.link->eof() && std::chrono::steady_clock::now() < deadline) {
    s.link->peer_alive();
    s.link->progress(sink);
  }
  CHECK(sink.begun == 1);
  CHECK(sink.completed == 0);
  CHECK(sink.aborted == 1);
  CHECK(s.link->failure().find("middle of a message") != std::string::npos);
  CHECK((WIFSIGNALED(sink.last_status) && WTERMSIG(sink.last_status) == SIGKILL));
}

#pragma once
// Test support for rmpi/src/shm: two real processes (the test and a forked
// child) that create their segments, swap (pid, fd, size) over a socketpair
// and link up, plus a sink that keeps received frames and a bounded wait.
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <deque>
#include <functional>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "shm/link.hpp"
#include "shm/segment.hpp"
#include "shm/doorbell.hpp"

namespace rmpi::testing {

namespace shm = rmpi::detail::shm;

struct Frame {
  wire::FrameHeader header;
  std::vector<std::byte> bytes;
};

/// Keeps every received frame; counts aborted ones.
struct Collect final : shm::FrameSink {
  std::deque<Frame> frames;
  Frame cur;
  int aborted = 0;
  std::byte* begin_frame(const wire::FrameHeader& h) override {
    cur.header = h;
    cur.bytes.resize(h.length);
    return cur.bytes.data();
  }
  void complete_frame() override { frames.push_back(std::move(cur)); }
  void abort_frame() override { ++aborted; }
};

inline void write_all_fd(int fd, const void* p, std::size_t n) {
  const auto* c = static_cast<const char*>(p);
  while (n) {
    const ssize_t w = ::write(fd, c, n);
    if (w <= 0) throw std::runtime_error("socketpair write failed");
    c += w;
    n -= static_cast<std::size_t>(w);
  }
}
inline void read_all_fd(int fd, void* p, std::size_t n) {
  auto* c = static_cast<char*>(p);
  while (n) {
    const ssize_t r = ::read(fd, c, n);
    if (r <= 0) throw std::runtime_error("socketpair read failed (peer gone)");
    c += r;
    n -= static_cast<std::size_t>(r);
  }
}

/// SegmentInfo over a socket, fixed layout.
inline void send_info(int fd, const shm::SegmentInfo& i) {
  struct {
    std::int64_t pid;
    int fd;
    std::uint64_t size;
    char name[96];
  } w{i.pid, i.fd, i.size, {}};
  std::snprintf(w.name, sizeof w.name, "%s", i.posix_name.c_str());
  write_all_fd(fd, &w, sizeof w);
}
inline shm::SegmentInfo recv_info(int fd) {
  struct {
    std::int64_t pid;
    int fd;
    std::uint64_t size;
    char name[96];
  } w{};
  read_all_fd(fd, &w, sizeof w);
  return {w.pid, w.fd, w.size, w.name};
}

/// How Side::wait waits: polls for `spin`, then sleeps on the futex in
/// slices, polling the peer's pidfd between slices.
struct WaitPolicy {
  std::chrono::microseconds spin{50};
  std::chrono::microseconds slice{20000};
};

/// One side of a linked pair.
struct Side {
  shm::Segment mine;
  std::unique_ptr<shm::Link> link;
  std::unique_ptr<shm::Sleeper> sleeper;
  Collect sink;
  WaitPolicy policy;

  Side(int sock, std::size_t ring_bytes = 64 * 1024, shm::LinkOptions opt = {},
       shm::SegmentKind kind = shm::SegmentKind::memfd)
      : mine(shm::Segment::create(1, ring_bytes, "test", kind)),
        sleeper(std::make_unique<shm::Sleeper>(mine.bell())) {
    send_info(sock, mine.info());
    link = std::make_unique<shm::Link>(mine, shm::Segment::attach(recv_info(sock), 0), 0, 0, opt);
  }

  /// Progresses until `done()` or throws after `limit`.
  template <class Pred>
  void wait(Pred done, std::chrono::seconds limit = std::chrono::seconds(30)) {
    using Clock = std::chrono::steady_clock;
    const auto deadline = Clock::now() + limit;
    const auto step = [&] {
      link->progress(sink);
      return done() || !link->failure().empty() || (link->eof() && link->idle());
    };
    const auto check_deadline = [&] {
      if (Clock::now() > deadline) throw std::runtime_error("shm test wait timed out: " + link->state());
    };
    if (step()) return;
    for (const auto spin_end = Clock::now() + policy.spin; Clock::now() < spin_end;) {
      // A clock read costs ~50-100 ns on a VM: not on every step.
      for (int i = 0; i < 64; ++i)
        if (step()) return;
    }
    for (;;) {
      check_deadline();
      link->peer_alive();
      if (step()) return;
      sleeper->sleep(policy.slice, [&] { return link->pending(); });
    }
  }

  /// The next frame, or throws if the link ended first.
  Frame next() {
    wait([&] { return !sink.frames.empty(); });
    if (sink.frames.empty())
      throw std::runtime_error("link ended: " + (link->failure().empty() ? std::string("eof") : link->failure()));
    Frame f = std::move(sink.frames.front());
    sink.frames.pop_front();
    return f;
  }

  /// Sends and waits until the payload is no longer needed.
  void send_wait(const wire::FrameHeader& h, std::span<const std::byte> payload) {
    const auto t = link->send(h, payload);
    wait([&] { return link->done(t); });
    if (!link->done(t)) throw std::runtime_error("send failed: " + link->failure());
  }
};

/// A child process running `body(sock)`; exit status 0 when it returned, 1
/// when it threw (message on stderr).
struct Child {
  pid_t pid = -1;
  int sock = -1;  // the parent's end
  explicit Child(const std::function<void(int)>& body) {
    int sv[2];
    if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) throw std::runtime_error("socketpair");
    std::fflush(nullptr);
    pid = ::fork();
    if (pid == 0) {
      ::close(sv[0]);
      int code = 0;
      try {
        body(sv[1]);
      } catch (const std::exception& e) {
        std::fprintf(stderr, "shm test child: %s\n", e.what());
        code = 1;
      }
      ::_exit(code);
    }
    ::close(sv[1]);
    sock = sv[0];
  }
  /// Waits for the child (bounded by the ctest TIMEOUT); returns its wait status.
  int join() {
    int status = 0;
    while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    pid = -1;
    return status;
  }
  ~Child() {
    if (pid > 0) {
      ::kill(pid, SIGKILL);
      join();
    }
    if (sock >= 0) ::close(sock);
  }
};

inline bool exited_ok(int status) { return WIFEXITED(status) && WEXITSTATUS(status) == 0; }

inline std::vector<std::byte> pattern(std::size_t n, unsigned seed) {
  std::vector<std::byte> v(n);
  std::uint32_t x = seed * 2654435761u + 1;
  for (auto& b : v) {
    x = x * 1664525u + 1013904223u;
    b = static_cast<std::byte>(x >> 24);
  }
  return v;
}

}  // namespace rmpi::testing

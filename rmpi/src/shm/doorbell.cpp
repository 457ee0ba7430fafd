#include "doorbell.hpp"

#include <linux/futex.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <climits>
#include <cstddef>
#include <cstring>
#include <string>

#include <rmpi/error.hpp>

namespace rmpi::detail::shm {
namespace {

// The futex word is in memory shared between processes: no FUTEX_PRIVATE_FLAG.
long futex(std::atomic<std::uint32_t>* word, int op, std::uint32_t val, const timespec* timeout) {
  return ::syscall(SYS_futex, reinterpret_cast<std::uint32_t*>(word), op, val, timeout, nullptr, 0);
}

socklen_t abstract_address(sockaddr_un& a, const char* name, std::size_t max) {
  std::memset(&a, 0, sizeof a);
  a.sun_family = AF_UNIX;
  const std::size_t n = ::strnlen(name, max);
  std::memcpy(a.sun_path + 1, name, n);
  return static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + 1 + n);
}

}  // namespace

void Waker::wake_futex(Doorbell& bell) {
  bell.seq.fetch_add(1, std::memory_order_release);
  futex(&bell.seq, FUTEX_WAKE, INT_MAX, nullptr);
}

void Waker::wake_socket(Doorbell& bell) {
  // One per process, for all its links; never closed (the process's end does).
  static const int sock = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (sock < 0) return;
  char name[sizeof bell.bell_name];
  std::memcpy(name, bell.bell_name, sizeof name);  // a private copy of shared bytes
  sockaddr_un a;
  const socklen_t len = abstract_address(a, name, sizeof name);
  const char one = 1;
  // EAGAIN: the receiver's queue is full of wake-ups already; nothing to add.
  (void)::sendto(sock, &one, 1, MSG_DONTWAIT | MSG_NOSIGNAL, reinterpret_cast<sockaddr*>(&a), len);
}

Sleeper::~Sleeper() = default;

void Sleeper::futex_wait(std::uint32_t token, std::chrono::microseconds timeout) {
  const timespec ts{static_cast<time_t>(timeout.count() / 1000000), static_cast<long>(timeout.count() % 1000000) * 1000};
  futex(&bell_->seq, FUTEX_WAIT, token, &ts);  // EAGAIN (already bumped), ETIMEDOUT, EINTR: all mean "look again"
}

RankBell::RankBell(Doorbell& bell) {
  sock_ = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (sock_ < 0) throw Error(std::string("rmpi: shared memory: cannot create the wake-up socket: ") + std::strerror(errno));
  // Pids repeat across pid namespaces that share a network namespace: add
  // randomness (one getrandom, no std::random_device).
  std::uint64_t nonce = 0;
  if (::getrandom(&nonce, sizeof nonce, GRND_NONBLOCK) != static_cast<ssize_t>(sizeof nonce))
    nonce = static_cast<std::uint64_t>(std::chrono::steady_clock::now().time_since_epoch().count());
  const std::string name = "rmpi-bell-" + std::to_string(::getpid()) + "-" + std::to_string(nonce);
  char padded[sizeof bell.bell_name] = {};
  std::memcpy(padded, name.data(), std::min(name.size(), sizeof padded - 1));
  sockaddr_un a;
  const socklen_t len = abstract_address(a, padded, sizeof padded);
  if (::bind(sock_, reinterpret_cast<sockaddr*>(&a), len) != 0) {
    const std::string why = std::strerror(errno);
    ::close(sock_);
    sock_ = -1;
    throw Error("rmpi: shared memory: cannot bind the wake-up socket @" + name + ": " + why);
  }
  std::memcpy(bell.bell_name, padded, sizeof padded);
}

RankBell::~RankBell() {
  if (sock_ >= 0) ::close(sock_);
}

void RankBell::drain() {
  char buf[64];
  while (::recv(sock_, buf, sizeof buf, MSG_DONTWAIT) > 0) {
  }
}

}  // namespace rmpi::detail::shm

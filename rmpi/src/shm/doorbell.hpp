#pragma once
// Waking a receiver that sleeps, and sleeping as one.
//
// The receiver owns the Doorbell in its segment. Before it sleeps it
// announces how (`state`: futex or epoll), issues a full fence, and looks at
// its rings once more; a sender publishes a record, issues a full fence, and
// reads `state`. One of the two always sees the other (the Dekker pattern),
// so a wake-up is never lost, and a sender pays for a wake-up (a system
// call) only when the receiver really sleeps.
//
// Two ways to sleep, because a rank may have sockets to watch as well:
//   * futex: FUTEX_WAIT on `seq`, for a rank whose every pending peer is on
//     shared memory. Waits are sliced (a timeout) so that the caller can poll
//     the peers' pidfds for deaths between slices.
//   * epoll: the receiver binds an abstract Unix datagram socket (its name is
//     in the doorbell), adds it to its epoll set beside its sockets and its
//     peers' pidfds, and a sender sends it one byte. Abstract names vanish with
//     the process; anyone who sends garbage there only causes a spurious wake.
//     (An eventfd reached with pidfd_getfd would need ptrace rights over the
//     receiver; a datagram socket needs none.)
#include <atomic>
#include <chrono>
#include <cstdint>

#include "segment.hpp"

namespace rmpi::detail::shm {

/// The sending side of wake-ups: one unbound datagram socket, opened lazily.
class Waker {
 public:
  Waker() = default;
  Waker(const Waker&) = delete;
  Waker& operator=(const Waker&) = delete;
  ~Waker();

  /// Wakes the owner of `bell` if it sleeps. Call after publishing.
  void notify(Doorbell& bell) {
    std::atomic_thread_fence(std::memory_order_seq_cst);
    const std::uint32_t st = bell.state.load(std::memory_order_relaxed);
    if (st != Doorbell::awake) wake(bell, st);
  }

 private:
  void wake(Doorbell& bell, std::uint32_t state);
  int sock_ = -1;
};

/// The receiving side: arms the doorbell of this process's own segment.
class Sleeper {
 public:
  explicit Sleeper(Doorbell& bell) : bell_(&bell) {}
  Sleeper(const Sleeper&) = delete;
  Sleeper& operator=(const Sleeper&) = delete;
  ~Sleeper();

  /// Announces a sleep of kind `how`; returns the token for futex_wait.
  /// The caller must look at its rings again after this and disarm() if
  /// anything is there.
  std::uint32_t arm(Doorbell::State how) {
    const std::uint32_t token = bell_->seq.load(std::memory_order_acquire);
    bell_->state.store(how, std::memory_order_relaxed);
    std::atomic_thread_fence(std::memory_order_seq_cst);
    return token;
  }
  void disarm() { bell_->state.store(Doorbell::awake, std::memory_order_relaxed); }

  /// Sleeps until a sender bumps `seq` past `token`, or `timeout`.
  void futex_wait(std::uint32_t token, std::chrono::microseconds timeout);

  /// The datagram socket for epoll mode (bound on first use; its name goes
  /// into the doorbell). Throws rmpi::Error if it cannot be bound.
  int epoll_fd();
  /// Reads the pending wake-up bytes of the epoll socket.
  void drain();

 private:
  Doorbell* bell_;
  int sock_ = -1;
};

}  // namespace rmpi::detail::shm

#pragma once
// Waking a receiver that sleeps, and sleeping as one.
//
// The receiver owns the Doorbell in its segment (futex sleep, all rings) and
// the `reader_sleeps` word of each ring it reads (epoll sleep, that link).
// Before it sleeps it sets the word, issues a full fence, and looks at its
// rings once more; a sender publishes a record, issues a full fence, and
// reads `state`. One of the two always sees the other (the Dekker pattern),
// so a wake-up is never lost, and a sender pays for a wake-up (a system
// call) only when the receiver really sleeps.
//
// Two ways to sleep, because a rank may have sockets to watch as well:
//   * futex: FUTEX_WAIT on `seq`, for a rank whose every pending peer is on
//     shared memory. Waits are sliced (a timeout) so that the caller can poll
//     the peers' pidfds for deaths between slices.
//   * epoll: the receiver binds one abstract Unix datagram socket (RankBell;
//     its name is in the doorbell), adds it to its epoll set beside its
//     sockets and its peers' pidfds, and a sender sends it one byte. One
//     socket per rank, whatever the number of links: a wake-up says "look at
//     your rings", and the engine looks at all of them. A producer that
//     attaches (a new link) always rings it, so that the receiver finds the
//     link even if it never spins. Abstract names vanish with the process;
//     anyone who sends garbage there only causes a spurious wake.
//     (An eventfd reached with pidfd_getfd would need ptrace rights over the
//     receiver; a datagram socket needs none.)
#include <atomic>
#include <chrono>
#include <cstdint>

#include "segment.hpp"

namespace rmpi::detail::shm {

/// The sending side of wake-ups (stateless: the one unbound datagram
/// socket they go through is the process's, opened at the first).
class Waker {
 public:
  /// Wakes the consumer of `ring` (whose segment's doorbell is `bell`) if
  /// it sleeps. Call after publishing, or after freeing space for a producer.
  void notify(Doorbell& bell, RingControl& ring) {
    std::atomic_thread_fence(std::memory_order_seq_cst);
    if (bell.state.load(std::memory_order_relaxed) != Doorbell::awake) wake_futex(bell);
    if (ring.reader_sleeps.load(std::memory_order_relaxed)) wake_socket(bell);
  }
  /// Wakes the owner of `bell` whether it sleeps or not: a new link.
  void announce(Doorbell& bell) {
    std::atomic_thread_fence(std::memory_order_seq_cst);
    if (bell.state.load(std::memory_order_relaxed) != Doorbell::awake) wake_futex(bell);
    wake_socket(bell);
  }

 private:
  static void wake_futex(Doorbell& bell);
  static void wake_socket(Doorbell& bell);
};

/// The receiving side: arms the doorbell of this process's own segment.
class Sleeper {
 public:
  explicit Sleeper(Doorbell& bell) : bell_(&bell) {}
  Sleeper(const Sleeper&) = delete;
  Sleeper& operator=(const Sleeper&) = delete;
  ~Sleeper();

  /// Announces a futex sleep; returns the token for futex_wait. The caller
  /// must look at its rings again after this and disarm() if anything is
  /// there.
  std::uint32_t arm() {
    const std::uint32_t token = bell_->seq.load(std::memory_order_acquire);
    bell_->state.store(Doorbell::futex, std::memory_order_relaxed);
    std::atomic_thread_fence(std::memory_order_seq_cst);
    return token;
  }
  void disarm() { bell_->state.store(Doorbell::awake, std::memory_order_relaxed); }

  /// Sleeps until a sender bumps `seq` past `token`, or `timeout`.
  void futex_wait(std::uint32_t token, std::chrono::microseconds timeout);

  /// One sleep of at most `slice`: arms, asks `ready()` once more (a record
  /// published before the arm is seen there, one after it bumps `seq`), and
  /// sleeps unless it said yes. Returns whether it slept.
  template <class Ready>
  bool sleep(std::chrono::microseconds slice, Ready ready) {
    const std::uint32_t token = arm();
    const bool slept = !ready();
    if (slept) futex_wait(token, slice);
    disarm();
    return slept;
  }

 private:
  Doorbell* bell_;
};

/// Announces an epoll sleep on one ring (its producer then rings the bell);
/// the caller looks at the ring again afterwards.
inline void arm_ring(RingControl& ring) {
  ring.reader_sleeps.store(1, std::memory_order_relaxed);
  std::atomic_thread_fence(std::memory_order_seq_cst);
}
inline void disarm_ring(RingControl& ring) { ring.reader_sleeps.store(0, std::memory_order_relaxed); }

/// The epoll side of a rank: one datagram socket bound to a fresh abstract
/// name, written into its doorbell's `bell_name`.
class RankBell {
 public:
  /// Throws rmpi::Error if the socket cannot be made.
  explicit RankBell(Doorbell& bell);
  RankBell(const RankBell&) = delete;
  RankBell& operator=(const RankBell&) = delete;
  ~RankBell();
  int fd() const { return sock_; }
  /// Reads the pending wake-up bytes.
  void drain();

 private:
  int sock_ = -1;
};

}  // namespace rmpi::detail::shm

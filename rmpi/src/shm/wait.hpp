#pragma once
// How a rank waits for its shared-memory peers: spin (polling the rings),
// then yield the core (so that 8 ranks on 2 cores let the one holding the
// data run), then sleep on the futex of its doorbell in slices, polling its
// peers' pidfds between slices (a dead peer is seen within one slice).
// A rank that also has sockets to watch sleeps in epoll instead
// (Doorbell::epoll, see doorbell.hpp); this loop is for the shm-only case.
#include <sched.h>

#include <chrono>

#include "doorbell.hpp"

namespace rmpi::detail::shm {

struct WaitPolicy {
  std::chrono::microseconds spin{50};      // busy polling
  std::chrono::microseconds yield{2000};   // polling with sched_yield between
  std::chrono::microseconds slice{20000};  // one futex sleep; deaths are checked between
};

inline void cpu_relax() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#elif defined(__aarch64__)
  asm volatile("yield");
#endif
}

/// Waits until step() (progress everything, then: is the wait over?)
/// returns true. `pending()` says whether anything arrived (the re-check
/// after arming the doorbell); `check_peers()` polls for dead peers (it may
/// throw, or make the next step() throw).
template <class Step, class Pending, class CheckPeers>
void wait_until(Sleeper& sleeper, const WaitPolicy& policy, Step step, Pending pending, CheckPeers check_peers) {
  using Clock = std::chrono::steady_clock;
  if (step()) return;
  const auto start = Clock::now();
  const auto spin_end = start + policy.spin;
  const auto yield_end = spin_end + policy.yield;
  for (unsigned i = 0;; ++i) {
    if (step()) return;
    if ((i & 63) == 0) {
      const auto now = Clock::now();
      if (now >= yield_end) break;
      if (now >= spin_end) {
        check_peers();
        ::sched_yield();
        continue;
      }
    }
    cpu_relax();
  }
  for (;;) {
    check_peers();
    if (step()) return;
    const std::uint32_t token = sleeper.arm();
    if (pending()) {
      sleeper.disarm();
      continue;
    }
    sleeper.futex_wait(token, policy.slice);
    sleeper.disarm();
  }
}

}  // namespace rmpi::detail::shm

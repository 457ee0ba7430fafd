#pragma once
// How one frame travels over a shared-memory link: whole through the ring
// (eager), pulled by the receiver with process_vm_readv straight into its
// destination (CMA: one copy), or pipelined through the ring in chunks (two
// copies: in and out). A pure function, so that the policy is tested alone.
//
// Why "posted" matters: a pull lands where the receiver's engine says the
// payload goes. Into a receive the caller has already posted (its own
// buffer) that is the one and only copy. With nothing posted it lands in a
// freshly allocated buffer, copied again once a receive matches; a window of
// such pulls (bibw: 64 MiB ahead of the receives) faults in new pages by the
// thousand, which on the VMs measured cost 29x in throughput. The pipelined
// copy keeps the sender in step with the reader instead.
#include <cstddef>
#include <cstdint>

namespace rmpi::detail::shm {

/// RMPI_SHM_CMA: unset (automatic), 0 (never pull), 1 (pull when the kernel allows).
enum class CmaMode : std::uint8_t { automatic, never, always };

/// What the receiver found when it tried process_vm_readv on the sender.
enum class CmaVerdict : std::uint8_t { unknown, allowed, refused };

enum class LargePath : std::uint8_t {
  eager,         // the whole frame in one record
  pull,          // single copy by the receiver (CMA)
  pipelined,     // chunks through the ring
  wait_verdict,  // the peer has not attached yet: ask again later
};

struct PathInputs {
  std::size_t size = 0;           // payload bytes
  std::size_t eager_limit = 0;    // at most this much goes eager
  std::size_t pull_threshold = 0; // automatic: pull from this size on
  CmaVerdict verdict = CmaVerdict::unknown;
  CmaMode mode = CmaMode::automatic;
  bool receive_posted = false;    // the receiver says it has a receive posted that this may match
};

/// Automatic mode pulls posted messages from this size on. Measured on the
/// 2-core VMs of CI (benchmarks/results/2026-12-02-cma.md): process_vm_readv
/// moves ~2.5 GB/s there (it pins the sender's pages one by one) while the
/// pipelined copy, its two memcpy overlapping on two cores through a ring
/// that stays in cache, moves ~8 GB/s at 1 MiB; single copy won only from
/// 32 MiB on (ping-pong), once the pipelined copy no longer fits the cache.
inline constexpr std::size_t kDefaultPullThreshold = std::size_t{32} << 20;

constexpr LargePath choose_path(const PathInputs& in) {
  if (in.size <= in.eager_limit) return LargePath::eager;
  switch (in.verdict) {
    case CmaVerdict::unknown:
      return LargePath::wait_verdict;
    case CmaVerdict::refused:
      return LargePath::pipelined;
    case CmaVerdict::allowed:
      break;
  }
  switch (in.mode) {
    case CmaMode::never:
      return LargePath::pipelined;
    case CmaMode::always:
      return LargePath::pull;
    case CmaMode::automatic:
      break;
  }
  return in.size >= in.pull_threshold && in.receive_posted ? LargePath::pull : LargePath::pipelined;
}

}  // namespace rmpi::detail::shm

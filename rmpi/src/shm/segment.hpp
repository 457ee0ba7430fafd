#pragma once
// The shared-memory segment of one rank: its doorbell and its inbound rings,
// one ring per local peer (slot = the sender's index among the node's ranks).
// Each rank creates its own segment; a peer that links to it (at their first
// message) maps, read-write, only the header page and the one slot it writes
// (Segment::attach), and sets its bit in `producers` so that the owner finds
// the new link. The file is sparse and a slot's control words start zeroed
// (the initial state): pages are used only by the slots that are written.
//
// Why a memfd reached through /proc/<pid>/fd/<n>:
//   * nothing is named: the memory belongs to the open file descriptions and
//     mappings only, so the kernel reclaims it when the last process holding
//     one ends, whatever the way it ends (kill -9 included). Nothing is ever
//     left in /dev/shm to clean up.
//   * a peer needs no descriptor passing: it opens the magic link
//     /proc/<pid>/fd/<n> of the creator (allowed to the same user, the
//     PTRACE_MODE_READ check) and maps it, with (pid, fd, size) learnt
//     through the rendezvous like the socket addresses.
//   * one segment per rank (not one per node) needs no node-wide coordinator
//     and keeps every ring written by exactly one process (SPSC).
// Fallback, when memfd_create is missing (old kernel, seccomp): shm_open of a
// job-unique name "/rmpi-<job>-<pid>", unlinked by the engine as soon as every
// local peer has mapped it (unlink_name()), else when the segment goes at the
// rank's end (links are made on demand: some peers never map it); a crash before that leaves a name,
// which sweep_stale_names() removes at the next start (names of dead pids).
// If a peer cannot map a segment at all (/proc hidden, hidepid), that pair
// falls back to a socket transport: attach() throws, the engine catches.
#include <sys/types.h>

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace rmpi::detail::shm {

inline constexpr std::size_t kCacheLine = 64;
inline constexpr std::uint64_t kSegmentMagic = 0x4d48535f49504d52ull;  // "RMPI_SHM"
inline constexpr std::uint32_t kSegmentVersion = 2;  // 2: rings publish by stamp

/// The receiver's doorbell for all its rings: `state` says whether its
/// owner sleeps on the futex (a sender that published data checks it, after a
/// full fence, before paying a wake-up). Sleeping in epoll is announced per
/// ring (RingControl::reader_sleeps); the wake-up then goes to the rank's one
/// abstract datagram socket, `bell_name` (see doorbell.hpp).
struct Doorbell {
  enum State : std::uint32_t { awake = 0, futex = 1 };
  alignas(kCacheLine) std::atomic<std::uint32_t> seq{0};  // the futex word
  std::atomic<std::uint32_t> state{awake};
  char bell_name[44] = {};
};

/// Shared control words of one ring, each written by one side only. (What
/// the producer has written is in the records' stamps: ring.hpp.)
struct RingControl {
  alignas(kCacheLine) std::atomic<std::uint64_t> head{0};  // consumer: bytes ever released
  std::atomic<std::uint64_t> pulled{0};                    // consumer: single-copy pulls done
  /// Consumer: whether it can pull from the producer with process_vm_readv.
  enum Cma : std::uint32_t { unknown = 0, allowed = 1, refused = 2 };
  std::atomic<std::uint32_t> cma{unknown};
  std::atomic<std::uint32_t> attached{0};  // consumer: 1 once it has mapped the producer
  std::atomic<std::uint32_t> consumer_gone{0};  // consumer: it reads no more (closed or broken)
  std::atomic<std::uint32_t> producer_attached{0};  // producer: 1 once it has mapped this segment
  /// Consumer: receives it has posted that the producer's next frame may
  /// match (a hint: a large frame is then pulled straight into place).
  std::atomic<std::uint32_t> receives_posted{0};
  /// Consumer: 1 while it sleeps in epoll; a producer then sends one byte to
  /// the doorbell's socket (Doorbell::bell_name).
  alignas(kCacheLine) std::atomic<std::uint32_t> reader_sleeps{0};
};

struct SegmentHeader {
  std::uint64_t magic = kSegmentMagic;
  std::uint32_t version = kSegmentVersion;
  std::uint32_t slots = 0;
  std::uint64_t ring_bytes = 0;  // data bytes of each ring (a power of two)
  std::uint64_t pid = 0;
  /// The creator's virtual address of this header: a peer reads `magic`
  /// there with process_vm_readv to learn whether single copy works.
  std::uint64_t self_address = 0;
  Doorbell bell;
  /// Producers: bit `slot` set once the rank of that slot has attached and
  /// may write its ring (the owner then links back to it). Sized for
  /// kMaxSlots; the header takes one page.
  static constexpr std::uint32_t kMaxSlots = 16384;
  alignas(kCacheLine) std::atomic<std::uint64_t> producers[kMaxSlots / 64];
};

/// What a peer needs to map a segment (published through the rendezvous).
struct SegmentInfo {
  std::int64_t pid = 0;
  int fd = -1;              // memfd number in the creator (-1 if posix)
  std::uint64_t size = 0;
  std::string posix_name;   // shm_open name (fallback), empty for memfd
  template <class A>
  void serialize(A& ar) {
    ar(pid, fd, size, posix_name);
  }
};

enum class SegmentKind { memfd, posix };

/// A mapping of a segment, owned (created here) or attached (a peer's).
class Segment {
 public:
  /// Creates this process's segment with `slots` inbound rings of
  /// `ring_bytes` (rounded up to a power of two, at least 4 KiB) each.
  /// `job_id` names the posix fallback. Throws rmpi::Error.
  static Segment create(std::uint32_t slots, std::size_t ring_bytes, std::string_view job_id,
                        SegmentKind kind = SegmentKind::memfd);
  /// Maps the header and ring `slot` (the one this process writes) of a
  /// peer's segment; throws rmpi::Error naming the pid when it cannot (gone,
  /// not ours, not a segment, wrong version, no such slot).
  static Segment attach(const SegmentInfo& info, std::uint32_t slot);

  Segment() = default;
  Segment(Segment&& o) noexcept;
  Segment& operator=(Segment&& o) noexcept;
  Segment(const Segment&) = delete;
  Segment& operator=(const Segment&) = delete;
  ~Segment();

  const SegmentInfo& info() const { return info_; }
  SegmentHeader& header() const { return *static_cast<SegmentHeader*>(base_); }
  Doorbell& bell() const { return header().bell; }
  /// Of an attached segment, only the slot given to attach() is mapped.
  RingControl& control(std::uint32_t slot) const;
  std::byte* ring_data(std::uint32_t slot) const;
  std::uint32_t slots() const { return header().slots; }
  std::uint64_t ring_bytes() const { return header().ring_bytes; }
  bool mapped() const { return base_ != nullptr; }

  /// Removes the posix name (no-op for memfd); call once every peer mapped it.
  void unlink_name();

 private:
  std::byte* slot_start(std::uint32_t slot) const;
  void* base_ = nullptr;   // the header (owner: the whole segment)
  std::size_t size_ = 0;   // bytes mapped at base_
  void* slot_map_ = nullptr;  // attached: the one slot mapped
  std::uint32_t slot_ = 0;
  int fd_ = -1;  // kept open by the creator: peers reach it through /proc
  bool owner_ = false;
  SegmentInfo info_;
};

/// Bytes a segment of `slots` rings of `ring_bytes` takes.
std::size_t segment_size(std::uint32_t slots, std::size_t ring_bytes);

/// Unlinks /dev/shm/rmpi-* names whose creator pid is dead; returns how many.
int sweep_stale_names();

}  // namespace rmpi::detail::shm

#pragma once
// The shared-memory side of one rank: its segment (created at init, before
// the rendezvous, so that its descriptor can be published), its bell, the
// options read from the environment, and the links to the other ranks of its
// node, made on demand like connections: at the first message to a peer
// (link()), or when a peer announces that it writes to us (take_new(): its
// bit in our segment's `producers`, and a ring of our bell).
//
// | variable          | meaning                                                  |
// |-------------------|----------------------------------------------------------|
// | RMPI_TRANSPORT    | auto (default), shm: shared memory inside a node; tcp: none |
// | RMPI_SHM_EAGER    | bytes sent through the ring; larger: single copy (default 16384) |
// | RMPI_SHM_RING     | bytes of each ring (default by ranks on the node: 256 KiB up to 8) |
// | RMPI_SHM_CMA      | unset: CMA for messages of 32 MiB or more into posted receives (shm/large_path.hpp); 1: always CMA (process_vm_readv); 0: pipelined copy |
// | RMPI_SHM_SEGMENT  | posix: use shm_open instead of memfd (testing)           |
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "../link.hpp"
#include "link.hpp"
#include "segment.hpp"

namespace rmpi::detail::shm {

inline constexpr const char* kEagerEnv = "RMPI_SHM_EAGER";
inline constexpr const char* kRingEnv = "RMPI_SHM_RING";
inline constexpr const char* kCmaEnv = "RMPI_SHM_CMA";
inline constexpr const char* kSegmentEnv = "RMPI_SHM_SEGMENT";

/// A rank of this node as the rendezvous table describes it.
struct LocalRank {
  int rank = -1;
  std::string descriptor;  // Context::descriptor() of that rank; empty = no shm
};

class Context {
 public:
  /// Creates the segment of `rank` with one inbound ring per rank that may
  /// share its node (`slots`). Returns null, with a logged line, when shared
  /// memory is not available here (the job then uses sockets). Throws
  /// rmpi::ConfigError for a malformed RMPI_SHM_* variable.
  static std::unique_ptr<Context> create(int rank, int slots, std::string_view job_id);
  ~Context();

  /// What the rendezvous publishes for this rank (Endpoint::shm).
  std::string descriptor() const;

  /// The ranks of this node (this rank included; their order by rank gives
  /// each its ring slot). Call once, before link() and take_new().
  void set_node(const std::vector<LocalRank>& node, const std::string& host);
  /// Whether `peer` is reached over shared memory (on this node, with a segment).
  bool reaches(int peer) const { return slot_of(peer) >= 0; }
  /// The link to `peer` (reaches(peer)), made now; null, with a logged line,
  /// if its segment cannot be mapped (that pair then uses a socket).
  std::unique_ptr<detail::Link> link(int peer, detail::FrameSink& sink);
  /// Links to the peers that began writing to this rank since the last call.
  std::vector<std::pair<int, std::unique_ptr<detail::Link>>> take_new(detail::FrameSink& sink);
  /// Whether a peer began writing to this rank since take_new() last looked
  /// (cheap: the re-check before a futex sleep).
  bool has_new() const;
  /// The descriptor that is readable when a peer rang this rank's bell.
  int bell_fd() const { return bell_.fd(); }
  /// This rank's doorbell: the futex a rank sleeps on when only shared
  /// memory can bring news (a new link rings it too: Waker::announce).
  Doorbell& doorbell() const { return segment_.bell(); }

  /// Unlinks a posix segment once every peer of the node has mapped it
  /// (cheap check); else the name goes when the segment does.
  void maybe_unlink();

  const LinkOptions& options() const { return options_; }

 private:
  Context(int rank, Segment segment, LinkOptions options);
  int slot_of(int rank) const {
    return rank >= 0 && static_cast<std::size_t>(rank) < slot_of_rank_.size() && rank != rank_
               ? slot_of_rank_[static_cast<std::size_t>(rank)]
               : -1;
  }

  int rank_;
  Segment segment_;
  RankBell bell_;
  LinkOptions options_;
  std::string where_;                   // "shared memory on <host>"
  std::vector<int> slot_of_rank_;       // -1: not on this node or no segment
  std::vector<LocalRank> node_;
  std::uint32_t my_slot_ = 0;
  // A bit per slot: a link was made (or failed), as `producers` of the header.
  std::vector<std::uint64_t> tried_;
  bool was_tried(std::uint32_t slot) const { return (tried_[slot / 64] >> (slot % 64)) & 1; }
  void mark_tried(std::uint32_t slot) { tried_[slot / 64] |= std::uint64_t{1} << (slot % 64); }
  bool unlinked_ = false;
};

}  // namespace rmpi::detail::shm

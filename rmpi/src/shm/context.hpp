#pragma once
// The shared-memory side of one rank: its segment (created at init, before
// the rendezvous, so that its descriptor can be published), the options read
// from the environment, and the links to the other ranks of its node, all
// opened when the engine starts (a first message over shared memory cannot
// announce itself the way a connection does: the reader must already poll
// the ring).
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

  /// Links to every other rank of `node` (this rank included in the list,
  /// ordered by rank; the order gives each rank its ring slot). A peer whose
  /// segment cannot be mapped is skipped with a logged line: that pair uses
  /// sockets.
  std::vector<std::pair<int, std::unique_ptr<detail::Link>>> open_all(const std::vector<LocalRank>& node,
                                                                       const std::string& host, detail::FrameSink& sink);

  /// Unlinks a posix segment once every peer has mapped it (cheap check).
  void maybe_unlink();

  const LinkOptions& options() const { return options_; }

 private:
  Context(int rank, Segment segment, LinkOptions options);
  int rank_;
  Segment segment_;
  LinkOptions options_;
  std::vector<std::uint32_t> peer_slots_;  // slots that peers write
  bool unlinked_ = false;
};

}  // namespace rmpi::detail::shm

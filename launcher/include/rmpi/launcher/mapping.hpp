#pragma once
/// Rank mapping: which host entry each rank runs on.
#include <string_view>
#include <vector>

#include <rmpi/launcher/host_entry.hpp>

namespace rmpi::launcher {

/// How ranks are laid out over the hosts.
enum class MapBy {
  slot,  ///< fill each host's slots in host order before moving on (ranks on a host contiguous)
  node,  ///< round-robin, one rank per host at a time
  // Over hosts as slot; on each host (binding.hpp):
  core,    ///< one core after another
  numa,    ///< round-robin over the NUMA nodes
  socket,  ///< round-robin over the packages
  ppr,     ///< N ranks per resource (BindingPolicy::ppr)
};

/// "slot", "node", "core", "numa", "socket", "ppr".
std::string_view to_string(MapBy map_by);

/// Where one rank runs.
struct RankPlacement {
  /// The rank (0..np-1).
  int rank = 0;
  /// Index of its host in the host list given to map_ranks.
  int host_index = 0;
  /// Its index among the ranks on the same host entry, in rank order.
  int local_rank = 0;
  /// How many ranks run on the same host entry.
  int local_size = 0;
  /// Index of its host among the hosts that run at least one rank (one node per such host).
  int node_id = 0;

  friend bool operator==(const RankPlacement&, const RankPlacement&) = default;
};

/// Maps `np` ranks onto `hosts`; result[i].rank == i. More ranks than slots is a ConfigError
/// listing every host and its slots unless `oversubscribe`; with it, extra ranks are spread
/// (slot: in proportion to slots; node: round-robin) but never beyond a host's max_slots.
/// Cost: O(np * hosts).
std::vector<RankPlacement> map_ranks(const std::vector<HostEntry>& hosts, int np, MapBy map_by,
                                     bool oversubscribe);

}  // namespace rmpi::launcher

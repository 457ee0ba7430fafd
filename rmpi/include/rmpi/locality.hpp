#pragma once
/// Rank-to-host facts: where a rank runs relative to the others, and what that host is.
#include <cstdint>
#include <string>
#include <vector>

#include <rmpi/comm.hpp>

namespace rmpi {

/// This rank's index among the ranks of `comm` on the same host (node), in comm rank order:
/// MPI's rank in MPI_Comm_split_type(comm, MPI_COMM_TYPE_SHARED). Local, not collective.
int local_rank(const Comm& comm);

/// How many ranks of `comm` run on this rank's host (node). Local, not collective.
int local_size(const Comm& comm);

/// One level of cache of a host.
struct CacheLevel {
  std::string name;             ///< "L3", "L2", "L1d", ...
  int count = 0;                ///< how many there are
  std::uint64_t size_bytes = 0;  ///< the size of the first of them
};

/// A host's hardware, as hwloc sees it (only the CPUs this process may use).
struct HostTopology {
  int packages = 0;
  int numa_nodes = 0;
  int cores = 0;
  int pus = 0;  ///< hardware threads
  std::vector<CacheLevel> caches;  ///< outermost first; only the levels the host has
  /// "1 packages, 1 NUMA nodes, 2 cores, 2 PUs, L3 1x32MB, L2 2x512KB, L1d 2x32KB".
  std::string summary() const;
};

/// This host's topology; read once (hwloc), then cached. Throws rmpi::Error if hwloc fails.
const HostTopology& host_topology();

}  // namespace rmpi

#pragma once
/// Algorithms forced for benchmarking by environment variables, one per
/// collective (like Open MPI's `coll_tuned_*_algorithm` MCA parameters):
///
///   RMPI_COLL_ALLREDUCE = hypercube | recursive_doubling | rabenseifner | ring
///   RMPI_COLL_BROADCAST = hypercube | scatter_allgather
///   RMPI_COLL_BARRIER   = hypercube | dissemination
///   RMPI_COLL_ALLGATHER = hypercube | bruck | ring
///
/// Unset or empty: the selection of <rmpi/collectives/selection.hpp>. A
/// forced algorithm that does not apply to a call's data (a chunked one on
/// opaque values, the ring with an op that is not order-free) gives way to
/// the nearest one that does. Every rank must see the same values.
#include <optional>

#include <rmpi/collectives/selection.hpp>

namespace rmpi {

/// The algorithms forced per collective (nothing: chosen per call).
struct CollectiveOverrides {
  std::optional<collectives::AllreduceAlgorithm> allreduce;
  std::optional<collectives::BroadcastAlgorithm> broadcast;
  std::optional<collectives::BarrierAlgorithm> barrier;
  std::optional<collectives::AllgatherAlgorithm> allgather;
};

/// Parses the `RMPI_COLL_*` variables through `lookup(name)` (a getenv:
/// nullptr when unset). Throws rmpi::ConfigError naming the variable, its
/// value (cut short and escaped) and the valid values.
CollectiveOverrides parse_collective_overrides(const char* (*lookup)(const char* name));

/// The overrides of this process's environment, read at the first call;
/// rmpi::ConfigError (at every call) when one is bad.
const CollectiveOverrides& collective_overrides();

}  // namespace rmpi

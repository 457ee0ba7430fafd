#pragma once
/// HostTopology from an hwloc topology (shared by rmpi::host_topology and the launcher, which
/// describes the topologies its nodes report).
#include <hwloc.h>

#include <rmpi/locality.hpp>

namespace rmpi::detail {

HostTopology describe_topology(hwloc_topology_t topology);

}  // namespace rmpi::detail

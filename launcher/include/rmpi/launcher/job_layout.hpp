#pragma once
/// From a LaunchSpec to the hosts used and every rank's placement.
#include <vector>

#include <rmpi/launcher/host_entry.hpp>
#include <rmpi/launcher/launch_spec.hpp>
#include <rmpi/launcher/mapping.hpp>

namespace rmpi::launcher {

/// The hosts of a job and where each rank runs (ranks[i].host_index indexes hosts).
struct JobLayout {
  std::vector<HostEntry> hosts;
  std::vector<RankPlacement> ranks;
};

/// The job's hosts: the hostfile's entries, or the -H entries, or (neither given) the local host
/// "localhost" with its core count as slots (SlotSource::topology). Giving both a hostfile and
/// -H is a ConfigError. Reads the hostfile.
std::vector<HostEntry> resolve_hosts(const LaunchSpec& spec);

/// map_ranks over `hosts` (their slots filled in: host_slots.hpp), with -ppn applied and np
/// defaulting to the total slot count. With --map-by ppr, an -n above what it places is a
/// ConfigError naming every host and its count.
JobLayout plan_job(const LaunchSpec& spec, std::vector<HostEntry> hosts);

}  // namespace rmpi::launcher

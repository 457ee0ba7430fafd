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
/// "localhost" with `local_slots` slots. Giving both a hostfile and -H is a ConfigError.
/// Reads the hostfile.
std::vector<HostEntry> resolve_hosts(const LaunchSpec& spec, int local_slots);

/// resolve_hosts + map_ranks, with np defaulting to the total slot count.
JobLayout plan_job(const LaunchSpec& spec, int local_slots);

}  // namespace rmpi::launcher

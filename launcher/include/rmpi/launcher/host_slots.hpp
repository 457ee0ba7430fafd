#pragma once
/// The slot counts that come from the hosts' own topologies (hwloc, as each host's node reports
/// it): hostfile lines without slots=, the local host when no hosts are given, and every host
/// with --map-by ppr:N:RESOURCE. Filled in before the ranks are mapped.
#include <string>
#include <vector>

#include <rmpi/launcher/host_entry.hpp>
#include <rmpi/launcher/launch_spec.hpp>
#include <rmpi/launcher/rank_binding.hpp>
#include <rmpi/launcher/topology.hpp>

namespace rmpi::launcher {

/// Indexes of the hosts whose slots come from their topology: none with -ppn; every host with
/// --map-by ppr; else those with SlotSource::topology.
std::vector<int> hosts_needing_topology(const LaunchSpec& spec, const std::vector<HostEntry>& hosts);

/// A host's slots from its topology: N times its RESOURCEs with --map-by ppr:N:RESOURCE, else
/// its cores (hwthreads with --use-hwthread-cpus; PUs when hwloc shows no cores), at least 1.
int topology_slots(const Topology& topology, const LaunchSpec& spec);

/// Sets the slots of each host of hosts_needing_topology from the topology facts(host index)
/// holds (never above its max_slots; with ppr, max_slots becomes the slots: ppr is a hard
/// limit). A host whose node sent no readable topology gets 1 slot and one warning line, which
/// is returned; with ppr that is a ConfigError naming the host.
std::vector<std::string> fill_topology_slots(const LaunchSpec& spec, std::vector<HostEntry>& hosts,
                                             const HostFactsLookup& facts);

}  // namespace rmpi::launcher

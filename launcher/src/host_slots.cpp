#include <rmpi/launcher/host_slots.hpp>

#include <algorithm>

#include <rmpi/error.hpp>

namespace rmpi::launcher {

std::vector<int> hosts_needing_topology(const LaunchSpec& spec, const std::vector<HostEntry>& hosts) {
  std::vector<int> result;
  if (spec.ranks_per_host) return result;  // -ppn N sets every host's slots
  for (std::size_t i = 0; i < hosts.size(); ++i)
    if (spec.map_by == MapBy::ppr || hosts[i].slot_source == SlotSource::topology)
      result.push_back(static_cast<int>(i));
  return result;
}

int topology_slots(const Topology& topology, const LaunchSpec& spec) {
  if (spec.map_by == MapBy::ppr) return spec.ppr.count * std::max(1, topology.count(spec.ppr.resource));
  const int cores = topology.count(Resource::core);
  const int hwthreads = topology.count(Resource::hwthread);
  return std::max(1, spec.use_hwthread_cpus || cores == 0 ? hwthreads : cores);
}

std::vector<std::string> fill_topology_slots(const LaunchSpec& spec, std::vector<HostEntry>& hosts,
                                             const HostFactsLookup& facts) {
  std::vector<std::string> warnings;
  for (const int index : hosts_needing_topology(spec, hosts)) {
    HostEntry& host = hosts[static_cast<std::size_t>(index)];
    int slots = 1;
    try {
      slots = topology_slots(Topology::from_xml(facts(index), host.name), spec);
    } catch (const ConfigError&) {
      if (spec.map_by == MapBy::ppr) throw;  // N per RESOURCE means nothing without them
      warnings.push_back("rmpirun: warning: " + host.name + " (" + host.origin +
                         "): its node reported no topology, so it gets 1 slot; give its "
                         "slots=N in the hostfile");
    }
    host.slots = host.max_slots ? std::min(slots, *host.max_slots) : slots;
    if (spec.map_by == MapBy::ppr) host.max_slots = host.slots;
  }
  return warnings;
}

}  // namespace rmpi::launcher

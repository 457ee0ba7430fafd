#include <rmpi/launcher/rank_binding.hpp>

#include <algorithm>
#include <map>
#include <optional>

#include <rmpi/error.hpp>

namespace rmpi::launcher {
namespace {

CpuList allowed_cpus(const Topology& topology) {
  CpuList cpus;
  unsigned cpu = 0;
  hwloc_bitmap_foreach_begin(cpu, hwloc_topology_get_allowed_cpuset(topology.get())) {
    cpus.push_back(cpu);
  }
  hwloc_bitmap_foreach_end();
  return cpus;
}

}  // namespace

BindingPolicy binding_policy(const LaunchSpec& spec) {
  BindingPolicy policy;
  policy.map_by = spec.map_by;
  policy.ppr = spec.ppr;
  policy.bind_to = spec.bind_to.value_or(BindTo::none);
  policy.cpus_per_rank = spec.cpus_per_rank;
  policy.oversubscribe = spec.oversubscribe;
  return policy;
}

std::vector<RankCpus> bind_job(const LaunchSpec& spec, const JobLayout& layout,
                               const HostFactsLookup& facts) {
  std::vector<RankCpus> result(layout.ranks.size());
  const bool needs_topology = spec.bind_to != BindTo::none || spec.report_bindings ||
                              spec.display_map || spec.cpus_per_rank > 1 ||
                              (spec.map_by != MapBy::slot && spec.map_by != MapBy::node);
  if (!needs_topology) return result;
  std::map<int, std::vector<int>> ranks_of_host;  // in rank order: index = local rank
  for (const auto& p : layout.ranks) ranks_of_host[p.host_index].push_back(p.rank);
  for (const auto& [host_index, ranks] : ranks_of_host) {
    const std::string& name = layout.hosts[static_cast<std::size_t>(host_index)].name;
    const int local_ranks = static_cast<int>(ranks.size());
    BindingPolicy policy = binding_policy(spec);
    std::optional<Topology> reported;
    try {
      reported.emplace(Topology::from_xml(facts(host_index), name));
    } catch (const ConfigError&) {
      if (spec.bind_to || spec.report_bindings || spec.display_map) throw;
      continue;  // the default binding is a habit, not a request: this host's ranks run unbound
    }
    const Topology& topology = *reported;
    const int cores = std::max(1, topology.count(Resource::core));
    const int per_rank = std::max(1, spec.cpus_per_rank);
    const bool oversubscribed = host_oversubscribed(local_ranks, per_rank, cores);
    if (!spec.bind_to) {
      policy.bind_to = default_bind_to(local_ranks, per_rank, cores);
      if (policy.bind_to == BindTo::socket && topology.count(Resource::socket) == 0) policy.bind_to = BindTo::none;
    }
    std::vector<CpuList> cpus;
    try {
      cpus = bind_local_ranks(topology, policy, local_ranks, name);
    } catch (const ConfigError&) {
      if (spec.bind_to || policy.bind_to == BindTo::none) throw;
      // The default cannot apply to this mapping (ppr:2:core, say): unbound, as before.
      policy.bind_to = BindTo::none;
      cpus = bind_local_ranks(topology, policy, local_ranks, name);
    }
    const CpuList all = allowed_cpus(topology);
    for (std::size_t local = 0; local < ranks.size(); ++local) {
      RankCpus& r = result[static_cast<std::size_t>(ranks[local])];
      r.bound = !cpus[local].empty();
      r.oversubscribed = oversubscribed;
      r.cpus = r.bound ? cpus[local] : all;
    }
  }
  return result;
}

std::string map_table(const JobLayout& layout, const std::vector<RankCpus>& cpus) {
  std::string text = "rmpirun: job map: " + std::to_string(layout.ranks.size()) + " ranks\n";
  for (const auto& p : layout.ranks) {
    const RankCpus& c = cpus[static_cast<std::size_t>(p.rank)];
    text += "  rank " + std::to_string(p.rank) + "  host " +
            layout.hosts[static_cast<std::size_t>(p.host_index)].name + "  cpus " +
            (c.bound ? cpu_list_text(c.cpus) + " (" + cpu_bitmap_text(c.cpus) + ")"
                     : "not bound") +
            "\n";
  }
  return text;
}

std::string binding_report(int rank, const std::string& host, const RankCpus& cpus) {
  const std::string list = cpu_list_text(cpus.cpus), bitmap = cpu_bitmap_text(cpus.cpus);
  return "rmpirun: rank " + std::to_string(rank) + " on " + host +
         (cpus.bound ? " bound to " + list + " (" + bitmap + ")"
                     : " not bound (" + list + ", " + bitmap + ")") +
         "\n";
}

}  // namespace rmpi::launcher

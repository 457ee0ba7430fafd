#include <rmpi/launcher/job_layout.hpp>

#include <algorithm>
#include <numeric>

#include <rmpi/error.hpp>
#include <rmpi/launcher/hostfile.hpp>
#include <rmpi/launcher/rank_limit.hpp>

namespace rmpi::launcher {

std::vector<HostEntry> resolve_hosts(const LaunchSpec& spec, int local_slots) {
  if (spec.hostfile && !spec.host_list.empty()) {
    throw ConfigError("rmpirun: use either --hostfile or --host, not both");
  }
  if (spec.hostfile) return parse_hostfile(*spec.hostfile);
  if (!spec.host_list.empty()) return spec.host_list;
  HostEntry local;
  local.name = "localhost";
  local.host = "localhost";
  local.slots = std::max(1, local_slots);
  local.origin = "local";
  return {local};
}

JobLayout plan_job(const LaunchSpec& spec, int local_slots) {
  JobLayout layout;
  layout.hosts = resolve_hosts(spec, local_slots);
  // MPICH -ppn N: N ranks per host, whatever the hosts' slots say.
  if (spec.ranks_per_host)
    for (auto& host : layout.hosts) host.slots = *spec.ranks_per_host;
  const int np = spec.np.value_or(
      std::accumulate(layout.hosts.begin(), layout.hosts.end(), 0,
                      [](int sum, const HostEntry& host) { return sum + host.slots; }));
  const int max = spec.max_ranks_per_host.value_or(default_max_ranks_per_host());
  // Fail before mapping a huge -n: some host would get more than `max`.
  if (static_cast<long long>(np) > static_cast<long long>(max) * static_cast<long long>(layout.hosts.size()))
    throw ConfigError("rmpirun: -n " + std::to_string(np) + " puts more than " +
                      std::to_string(max) + " ranks on " +
                      (layout.hosts.size() == 1 ? layout.hosts[0].name : "some host") +
                      ": exceeds --max-ranks-per-host " + std::to_string(max) +
                      (spec.max_ranks_per_host ? "" : " (the default: the lower of 1024 and this host's process limit)") +
                      "; lower -n or raise --max-ranks-per-host");
  layout.ranks = map_ranks(layout.hosts, np, spec.map_by, spec.oversubscribe);
  check_ranks_per_host(layout, max, spec.max_ranks_per_host.has_value());
  return layout;
}

}  // namespace rmpi::launcher

#include <rmpi/launcher/job_layout.hpp>

#include <algorithm>
#include <numeric>

#include <rmpi/error.hpp>
#include <rmpi/launcher/hostfile.hpp>

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
  const int np = spec.np.value_or(
      std::accumulate(layout.hosts.begin(), layout.hosts.end(), 0,
                      [](int sum, const HostEntry& host) { return sum + host.slots; }));
  layout.ranks = map_ranks(layout.hosts, np, spec.map_by, spec.oversubscribe);
  return layout;
}

}  // namespace rmpi::launcher

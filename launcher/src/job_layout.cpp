#include <rmpi/launcher/job_layout.hpp>

#include <algorithm>
#include <numeric>

#include <rmpi/error.hpp>
#include <rmpi/launcher/hostfile.hpp>
#include <rmpi/launcher/rank_limit.hpp>

namespace rmpi::launcher {

std::vector<HostEntry> resolve_hosts(const LaunchSpec& spec) {
  if (spec.hostfile && !spec.host_list.empty()) {
    throw ConfigError("use either --hostfile or --host, not both");
  }
  if (spec.hostfile) return parse_hostfile(*spec.hostfile);
  if (!spec.host_list.empty()) return spec.host_list;
  HostEntry local;
  local.name = "localhost";
  local.host = "localhost";
  local.slot_source = SlotSource::topology;  // Open MPI's default: one slot per core
  local.origin = "local";
  return {local};
}

namespace {

int total_slots(const std::vector<HostEntry>& hosts) {
  return std::accumulate(hosts.begin(), hosts.end(), 0,
                         [](int sum, const HostEntry& host) { return sum + host.slots; });
}

/// "-n 9 is more than --map-by ppr:2:core places: 8 (host1: 2 per core x 2 = 4, ...)".
[[noreturn]] void too_many_for_ppr(const LaunchSpec& spec, const std::vector<HostEntry>& hosts,
                                   int np, int total) {
  const std::string per = std::to_string(spec.ppr.count);
  const std::string resource(to_string(spec.ppr.resource));
  std::string list;
  for (const auto& host : hosts)
    list += (list.empty() ? "" : ", ") + host.name + ": " + per + " per " + resource + " x " +
            std::to_string(host.slots / spec.ppr.count) + " = " + std::to_string(host.slots);
  throw ConfigError("-n " + std::to_string(np) + " is more than --map-by ppr:" + per +
                    ":" + resource + " places: " + std::to_string(total) + " (" + list +
                    "); use fewer ranks or more per " + resource);
}

}  // namespace

JobLayout plan_job(const LaunchSpec& spec, std::vector<HostEntry> hosts) {
  JobLayout layout;
  layout.hosts = std::move(hosts);
  // MPICH -ppn N: N ranks per host, whatever the hosts' slots say.
  if (spec.ranks_per_host)
    for (auto& host : layout.hosts) host.slots = *spec.ranks_per_host;
  const int total = total_slots(layout.hosts);
  const int np = spec.np.value_or(total);
  if (spec.map_by == MapBy::ppr && !spec.ranks_per_host && np > total)
    too_many_for_ppr(spec, layout.hosts, np, total);
  const int max = spec.max_ranks_per_host.value_or(default_max_ranks_per_host());
  // Fail before mapping a huge -n: some host would get more than `max`.
  if (static_cast<long long>(np) > static_cast<long long>(max) * static_cast<long long>(layout.hosts.size()))
    throw ConfigError("-n " + std::to_string(np) + " puts more than " +
                      std::to_string(max) + " ranks on " +
                      (layout.hosts.size() == 1 ? layout.hosts[0].name : "some host") +
                      ": exceeds --max-ranks-per-host " + std::to_string(max) +
                      (spec.max_ranks_per_host ? "" : " (the default: the lower of 1024 and this host's process limit)") +
                      "; lower -n or raise --max-ranks-per-host");
  // With no hostfile and no --host, the local host takes more ranks than its cores, as
  // MPICH's mpiexec does (Open MPI refuses, and so does --nooversubscribe); --bind-to
  // still refuses to share a core.
  const bool local_default = !spec.hostfile && spec.host_list.empty() && !spec.no_oversubscribe;
  layout.ranks = map_ranks(layout.hosts, np, spec.map_by, spec.oversubscribe || local_default);
  check_ranks_per_host(layout, max, spec.max_ranks_per_host.has_value());
  return layout;
}

}  // namespace rmpi::launcher

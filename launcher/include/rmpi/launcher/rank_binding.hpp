#pragma once
/// The CPUs of every rank of a job, from the topology each host's node reported, and the
/// --display-map / --report-bindings text about them.
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include <rmpi/launcher/binding.hpp>
#include <rmpi/launcher/job_layout.hpp>
#include <rmpi/launcher/launch_spec.hpp>

namespace rmpi::launcher {

/// Where one rank runs on its host.
struct RankCpus {
  /// The CPUs it is bound to; when not bound, every CPU its node may use.
  CpuList cpus;
  bool bound = false;
  /// Whether its host runs more ranks than it has cores for them (unset: no topology read).
  std::optional<bool> oversubscribed;
};

/// The topology (hwloc XML) the node on layout.hosts[host_index] reported.
using HostFactsLookup = std::function<std::string(int host_index)>;

/// spec's BindingPolicy (map_by, ppr, bind_to, cpus_per_rank, oversubscribe).
BindingPolicy binding_policy(const LaunchSpec& spec);

/// Every rank's CPUs, by rank: bind_local_ranks on each host for the ranks it runs. Reads no
/// topology when nothing is bound, mapped within hosts, or shown (then every list is empty).
/// ConfigError as bind_local_ranks, naming the host.
std::vector<RankCpus> bind_job(const LaunchSpec& spec, const JobLayout& layout,
                               const HostFactsLookup& facts);

/// --display-map: a header line, then "  rank R  host H  cpus L (bitmap)" per rank.
std::string map_table(const JobLayout& layout, const std::vector<RankCpus>& cpus);

/// --report-bindings: "rmpirun: rank R on H bound to L (bitmap)" or "... not bound (L, bitmap)".
std::string binding_report(int rank, const std::string& host, const RankCpus& cpus);

}  // namespace rmpi::launcher

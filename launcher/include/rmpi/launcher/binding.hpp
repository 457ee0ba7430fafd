#pragma once
/// Binding ranks to CPUs: from a host's topology, the mapping and binding policy and the number
/// of ranks on that host, the CPUs each of them runs on. Pure: no process is bound here.
#include <string>
#include <string_view>
#include <vector>

#include <rmpi/launcher/mapping.hpp>
#include <rmpi/launcher/topology.hpp>

namespace rmpi::launcher {

/// --bind-to: the kind of object each rank is bound to.
enum class BindTo { none, hwthread, core, l3cache, numa, socket };

/// --map-by ppr:N:RESOURCE: N ranks on each RESOURCE of a host.
struct RanksPerResource {
  int count = 1;
  Resource resource = Resource::core;
  friend bool operator==(const RanksPerResource&, const RanksPerResource&) = default;
};

/// How ranks are laid out over a host's CPUs and what they are bound to.
struct BindingPolicy {
  MapBy map_by = MapBy::slot;
  RanksPerResource ppr;  // with MapBy::ppr
  BindTo bind_to = BindTo::none;
  int cpus_per_rank = 1;  // cores (hwthreads with --bind-to hwthread) each rank gets
  bool oversubscribe = false;
};

/// "none", "hwthread", ...
std::string_view to_string(BindTo bind_to);
/// Parses a --bind-to word; ConfigError listing the valid ones.
BindTo parse_bind_to(std::string_view word);
/// Parses a --map-by word into policy.map_by (and policy.ppr); ConfigError listing the valid
/// words, or giving the expected form of a malformed ppr:N:RESOURCE.
void parse_map_by(std::string_view word, BindingPolicy& policy);

/// The OS indexes of a rank's CPUs, ascending; empty = not bound.
using CpuList = std::vector<unsigned>;

/// The CPUs of each of `local_ranks` ranks (in local rank order) on `host`. Ranks take
/// cpus_per_rank cores (hwthreads for --bind-to hwthread) each, in topology order: one after
/// another over the host (--map-by slot, node, core), round-robin over its packages or NUMA
/// nodes (socket, numa), or N per RESOURCE (ppr). Each rank is then bound to those cores, or to
/// every l3cache / NUMA node / package they touch. ConfigError naming the host and both counts
/// when the ranks need more cores than there are (unless policy.oversubscribe: then they
/// wrap around), when cpus_per_rank is more than the host has, or the host lacks the kind of
/// object to bind to.
std::vector<CpuList> bind_local_ranks(const Topology& topology, const BindingPolicy& policy,
                                      int local_ranks, std::string_view host);

/// Whether a host's ranks need more cores than it has.
constexpr bool host_oversubscribed(int local_ranks, int cpus_per_rank, int cores) {
  return local_ranks * cpus_per_rank > cores;
}
/// What ranks are bound to without --bind-to, Open MPI's default: a core each when a host runs
/// at most 2 of them, their package when it runs more, nothing when they need more cores than
/// it has (oversubscribed). Bound, two busy-polling ranks are never put on one CPU by the
/// scheduler (unbound, on the 2-core VMs measured, it at times did so for a whole run: a
/// 2-rank ping-pong at 5-12 us instead of 0.6-1.2).
constexpr BindTo default_bind_to(int local_ranks, int cpus_per_rank, int cores) {
  if (host_oversubscribed(local_ranks, cpus_per_rank, cores)) return BindTo::none;
  return local_ranks <= 2 ? BindTo::core : BindTo::socket;
}

/// "0-3,8" (hwloc's list syntax); "" for an empty list.
std::string cpu_list_text(const CpuList& cpus);
/// hwloc's bitmap string: "0x0000010f".
std::string cpu_bitmap_text(const CpuList& cpus);

}  // namespace rmpi::launcher

#include <rmpi/launcher/binding.hpp>

#include <algorithm>
#include <charconv>
#include <memory>

#include <rmpi/error.hpp>
#include <rmpi/quoted_input.hpp>

namespace rmpi::launcher {
namespace {

constexpr std::string_view kBindWords = "none, hwthread, core, l3cache, numa, socket";
constexpr std::string_view kMapWords = "slot, node, core, numa, socket, ppr:N:RESOURCE";
constexpr std::string_view kPprForm =
    "expected ppr:N:RESOURCE with N >= 1 and RESOURCE one of hwthread, core, l3cache, numa, "
    "socket, node (e.g. ppr:2:socket)";

struct BitmapFree {
  void operator()(hwloc_bitmap_s* b) const { hwloc_bitmap_free(b); }
};
using Bitmap = std::unique_ptr<hwloc_bitmap_s, BitmapFree>;

Bitmap bitmap_of(const CpuList& cpus) {
  Bitmap b(hwloc_bitmap_alloc());
  for (const unsigned cpu : cpus) hwloc_bitmap_set(b.get(), cpu);
  return b;
}

CpuList list_of(hwloc_const_bitmap_t b) {
  CpuList cpus;
  unsigned cpu = 0;
  hwloc_bitmap_foreach_begin(cpu, b) { cpus.push_back(cpu); }
  hwloc_bitmap_foreach_end();
  return cpus;
}

/// Where one rank goes: a domain (the host, a package, a NUMA node, a ppr resource) and the
/// index of its first unit inside that domain.
struct Slot {
  std::size_t domain = 0;
  std::size_t first_unit = 0;
};

std::string plural(int n, std::string_view one, std::string_view many) {
  return std::to_string(n) + " " + std::string(n == 1 ? one : many);
}

std::string domain_name(Resource resource, std::size_t index) {
  switch (resource) {
    case Resource::node: return "the host";
    case Resource::socket: return "package " + std::to_string(index);
    case Resource::numa: return "NUMA node " + std::to_string(index);
    default: return std::string(to_string(resource)) + " " + std::to_string(index);
  }
}

}  // namespace

std::string_view to_string(BindTo bind_to) {
  switch (bind_to) {
    case BindTo::none: return "none";
    case BindTo::hwthread: return "hwthread";
    case BindTo::core: return "core";
    case BindTo::l3cache: return "l3cache";
    case BindTo::numa: return "numa";
    case BindTo::socket: return "socket";
  }
  return "?";
}

BindTo parse_bind_to(std::string_view word) {
  for (const auto b : {BindTo::none, BindTo::hwthread, BindTo::core, BindTo::l3cache, BindTo::numa,
                       BindTo::socket})
    if (word == to_string(b)) return b;
  throw ConfigError("bad value " + quoted_input(word) + " for --bind-to: expected one of " +
                    std::string(kBindWords));
}

void parse_map_by(std::string_view word, BindingPolicy& policy) {
  for (const auto m : {MapBy::slot, MapBy::node, MapBy::core, MapBy::numa, MapBy::socket}) {
    if (word == to_string(m)) {
      policy.map_by = m;
      return;
    }
  }
  if (!word.starts_with("ppr:") && !word.starts_with("ppr"))
    throw ConfigError("bad value " + quoted_input(word) + " for --map-by: expected one of " +
                      std::string(kMapWords));
  const auto bad = [&] {
    throw ConfigError("bad value " + quoted_input(word) + " for --map-by: " +
                      std::string(kPprForm));
  };
  if (!word.starts_with("ppr:")) bad();
  const std::string_view rest = word.substr(4);
  const auto colon = rest.find(':');
  if (colon == std::string_view::npos) bad();
  int count = 0;
  const auto [end, ec] = std::from_chars(rest.data(), rest.data() + colon, count);
  if (colon == 0 || ec != std::errc{} || end != rest.data() + colon || count < 1) bad();
  const std::string_view resource = rest.substr(colon + 1);
  for (const auto r : {Resource::hwthread, Resource::core, Resource::l3cache, Resource::numa,
                       Resource::socket, Resource::node}) {
    if (resource == to_string(r)) {
      policy.map_by = MapBy::ppr;
      policy.ppr = {count, r};
      return;
    }
  }
  bad();
}

std::vector<CpuList> bind_local_ranks(const Topology& topology, const BindingPolicy& policy,
                                      int local_ranks, std::string_view host) {
  const std::string where(host);
  const Resource unit_kind =
      policy.bind_to == BindTo::hwthread || topology.count(Resource::core) == 0 ? Resource::hwthread
                                                                                : Resource::core;
  const std::string unit_word = unit_kind == Resource::core ? "core" : "hwthread";
  const auto units = topology.objects(unit_kind);
  const int per_rank = std::max(1, policy.cpus_per_rank);
  if (per_rank > static_cast<int>(units.size()))
    throw ConfigError("--cpus-per-rank " + std::to_string(per_rank) + " is more than the " +
                      plural(static_cast<int>(units.size()), unit_word, unit_word + "s") +
                      " of host " + where);

  // The domains ranks are spread over, each with its units in topology order.
  Resource domain_kind = Resource::node;
  if (policy.map_by == MapBy::socket) domain_kind = Resource::socket;
  if (policy.map_by == MapBy::numa) domain_kind = Resource::numa;
  if (policy.map_by == MapBy::ppr) domain_kind = policy.ppr.resource;
  const auto domain_objects = topology.objects(domain_kind);
  if (domain_objects.empty())
    throw ConfigError("--map-by " + std::string(to_string(domain_kind)) + ": host " + where +
                      " has no " + std::string(to_string(domain_kind)));
  std::vector<std::vector<hwloc_obj_t>> domains(domain_objects.size());
  for (std::size_t d = 0; d < domain_objects.size(); ++d)
    for (const auto unit : units)
      if (hwloc_bitmap_isincluded(unit->cpuset, domain_objects[d]->cpuset)) domains[d].push_back(unit);

  // Each rank's domain and position in it.
  const std::size_t n_domains = domains.size();
  std::vector<Slot> slots(static_cast<std::size_t>(local_ranks));
  if (policy.map_by == MapBy::ppr) {
    const auto per_domain = static_cast<std::size_t>(policy.ppr.count);
    const std::size_t capacity = per_domain * n_domains;
    if (static_cast<std::size_t>(local_ranks) > capacity && !policy.oversubscribe)
      throw ConfigError("--map-by ppr:" + std::to_string(per_domain) + ":" +
                        std::string(to_string(domain_kind)) + " places at most " +
                        std::to_string(capacity) + " ranks on host " + where + " (" +
                        plural(static_cast<int>(n_domains), to_string(domain_kind),
                               std::string(to_string(domain_kind)) + "s") +
                        "), not " + std::to_string(local_ranks) + "; use --oversubscribe or fewer ranks");
    for (std::size_t i = 0; i < slots.size(); ++i) {
      const std::size_t round = i / capacity, in_round = i % capacity;
      slots[i] = {in_round / per_domain, (round * per_domain + in_round % per_domain) * per_rank};
    }
  } else {
    for (std::size_t i = 0; i < slots.size(); ++i)
      slots[i] = {i % n_domains, (i / n_domains) * static_cast<std::size_t>(per_rank)};
  }
  if (policy.bind_to == BindTo::none) return std::vector<CpuList>(slots.size());

  // Ranks needing more units than their domain has share them only with --oversubscribe.
  std::vector<int> ranks_in(n_domains, 0);
  for (const auto& s : slots) ++ranks_in[s.domain];
  for (std::size_t d = 0; d < n_domains; ++d) {
    const int needed = ranks_in[d] * per_rank;
    const int have = static_cast<int>(domains[d].size());
    if (needed == 0 || (have > 0 && (needed <= have || policy.oversubscribe))) continue;
    if (have == 0)
      throw ConfigError("host " + where + ": " + domain_name(domain_kind, d) + " has no " +
                        unit_word + " to bind " + plural(ranks_in[d], "rank", "ranks") + " to");
    throw ConfigError("--bind-to " + std::string(to_string(policy.bind_to)) + ": host " +
                      where + " has " + plural(have, unit_word, unit_word + "s") +
                      (domain_kind == Resource::node ? "" : " in " + domain_name(domain_kind, d)) +
                      " but " + plural(ranks_in[d], "rank needs", "ranks need") + " " +
                      plural(needed, unit_word, unit_word + "s") +
                      "; use --oversubscribe, fewer ranks or --bind-to none");
  }

  std::vector<hwloc_obj_t> binders;  // what ranks bind to, beyond their own units
  if (policy.bind_to == BindTo::l3cache) binders = topology.objects(Resource::l3cache);
  if (policy.bind_to == BindTo::numa) binders = topology.objects(Resource::numa);
  if (policy.bind_to == BindTo::socket) binders = topology.objects(Resource::socket);
  const bool bind_wider =
      policy.bind_to != BindTo::hwthread && policy.bind_to != BindTo::core;
  if (bind_wider && binders.empty())
    throw ConfigError("--bind-to " + std::string(to_string(policy.bind_to)) + ": host " +
                      where + " has no " + std::string(to_string(policy.bind_to)));

  std::vector<CpuList> result;
  result.reserve(slots.size());
  for (const auto& s : slots) {
    const auto& domain = domains[s.domain];
    Bitmap own(hwloc_bitmap_alloc());
    for (int k = 0; k < per_rank; ++k)
      hwloc_bitmap_or(own.get(), own.get(), domain[(s.first_unit + static_cast<std::size_t>(k)) % domain.size()]->cpuset);
    if (bind_wider) {
      Bitmap wide(hwloc_bitmap_alloc());
      for (const auto b : binders)
        if (hwloc_bitmap_intersects(b->cpuset, own.get())) hwloc_bitmap_or(wide.get(), wide.get(), b->cpuset);
      own = std::move(wide);
    }
    result.push_back(list_of(own.get()));
  }
  return result;
}

std::string cpu_list_text(const CpuList& cpus) {
  if (cpus.empty()) return "";
  char text[4096];
  hwloc_bitmap_list_snprintf(text, sizeof text, bitmap_of(cpus).get());
  return text;
}

std::string cpu_bitmap_text(const CpuList& cpus) {
  char text[4096];
  hwloc_bitmap_snprintf(text, sizeof text, bitmap_of(cpus).get());
  return text;
}

}  // namespace rmpi::launcher

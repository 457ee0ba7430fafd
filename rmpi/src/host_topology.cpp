#include <rmpi/detail/hwloc_topology.hpp>
#include <rmpi/error.hpp>

namespace rmpi {
namespace {

std::string size_text(std::uint64_t bytes) {
  if (bytes >= (1u << 20) && bytes % (1u << 20) == 0) return std::to_string(bytes >> 20) + "MB";
  return std::to_string(bytes >> 10) + "KB";
}

}  // namespace

std::string HostTopology::summary() const {
  std::string text = std::to_string(packages) + " packages, " + std::to_string(numa_nodes) +
                     " NUMA nodes, " + std::to_string(cores) + " cores, " + std::to_string(pus) +
                     " PUs";
  for (const auto& c : caches)
    text += ", " + c.name + " " + std::to_string(c.count) + "x" + size_text(c.size_bytes);
  return text;
}

HostTopology detail::describe_topology(hwloc_topology_t t) {
  HostTopology h;
  h.packages = hwloc_get_nbobjs_by_type(t, HWLOC_OBJ_PACKAGE);
  h.numa_nodes = hwloc_get_nbobjs_by_type(t, HWLOC_OBJ_NUMANODE);
  h.cores = hwloc_get_nbobjs_by_type(t, HWLOC_OBJ_CORE);
  h.pus = hwloc_get_nbobjs_by_type(t, HWLOC_OBJ_PU);
  for (const auto type : {HWLOC_OBJ_L3CACHE, HWLOC_OBJ_L2CACHE, HWLOC_OBJ_L1CACHE}) {
    const int n = hwloc_get_nbobjs_by_type(t, type);
    if (n <= 0) continue;
    const hwloc_obj_t first = hwloc_get_obj_by_type(t, type, 0);
    char name[16];
    hwloc_obj_type_snprintf(name, sizeof name, first, 0);
    h.caches.push_back({name, n, first->attr->cache.size});
  }
  return h;
}

const HostTopology& host_topology() {
  static const HostTopology topology = [] {
    hwloc_topology_t t = nullptr;
    if (hwloc_topology_init(&t) != 0 || hwloc_topology_load(t) != 0) {
      if (t) hwloc_topology_destroy(t);
      throw Error("rmpi: hwloc cannot read this host's topology");
    }
    HostTopology h = detail::describe_topology(t);
    hwloc_topology_destroy(t);
    return h;
  }();
  return topology;
}

}  // namespace rmpi

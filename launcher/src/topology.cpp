#include <rmpi/launcher/topology.hpp>

#include <rmpi/detail/hwloc_topology.hpp>
#include <rmpi/error.hpp>
#include <rmpi/quoted_input.hpp>

namespace rmpi::launcher {
namespace {

hwloc_topology_t new_topology() {
  hwloc_topology_t t = nullptr;
  if (hwloc_topology_init(&t) != 0) throw ConfigError("hwloc_topology_init failed");
  return t;
}

hwloc_obj_type_t type_of(Resource resource) {
  switch (resource) {
    case Resource::hwthread: return HWLOC_OBJ_PU;
    case Resource::core: return HWLOC_OBJ_CORE;
    case Resource::l3cache: return HWLOC_OBJ_L3CACHE;
    case Resource::numa: return HWLOC_OBJ_NUMANODE;
    case Resource::socket: return HWLOC_OBJ_PACKAGE;
    case Resource::node: return HWLOC_OBJ_MACHINE;
  }
  return HWLOC_OBJ_MACHINE;
}

}  // namespace

std::string_view to_string(Resource resource) {
  switch (resource) {
    case Resource::hwthread: return "hwthread";
    case Resource::core: return "core";
    case Resource::l3cache: return "l3cache";
    case Resource::numa: return "numa";
    case Resource::socket: return "socket";
    case Resource::node: return "node";
  }
  return "?";
}

Topology Topology::of_this_host() {
  std::unique_ptr<hwloc_topology, Destroy> t(new_topology());
  hwloc_topology_set_flags(t.get(), HWLOC_TOPOLOGY_FLAG_IS_THISSYSTEM);
  if (hwloc_topology_load(t.get()) != 0)
    throw ConfigError("hwloc cannot read this host's topology");
  return Topology(std::move(t));
}

Topology Topology::from_synthetic(std::string_view description) {
  std::unique_ptr<hwloc_topology, Destroy> t(new_topology());
  const std::string text(description);
  if (hwloc_topology_set_synthetic(t.get(), text.c_str()) != 0 || hwloc_topology_load(t.get()) != 0)
    throw ConfigError("bad hwloc synthetic topology " + quoted_input(description));
  return Topology(std::move(t));
}

Topology Topology::from_xml(std::string_view xml, std::string_view host) {
  std::unique_ptr<hwloc_topology, Destroy> t(new_topology());
  const std::string text(xml);
  // The XML describes another host: hwloc must not bind or query this one through it.
  if (text.empty() ||
      hwloc_topology_set_xmlbuffer(t.get(), text.c_str(), static_cast<int>(text.size() + 1)) != 0 ||
      hwloc_topology_load(t.get()) != 0)
    throw ConfigError("the node on " + std::string(host) +
                      " sent no readable hwloc topology (" + std::to_string(text.size()) +
                      " bytes)");
  return Topology(std::move(t));
}

std::string Topology::to_xml() const {
  char* buffer = nullptr;
  int length = 0;
  if (hwloc_topology_export_xmlbuffer(topology_.get(), &buffer, &length, 0) != 0)
    throw ConfigError("hwloc cannot export the topology as XML");
  std::string xml(buffer, length > 0 ? static_cast<std::size_t>(length - 1) : 0);
  hwloc_free_xmlbuffer(topology_.get(), buffer);
  return xml;
}

int Topology::count(Resource resource) const {
  if (resource == Resource::node) return 1;
  return hwloc_get_nbobjs_by_type(topology_.get(), type_of(resource));
}

std::vector<hwloc_obj_t> Topology::objects(Resource resource) const {
  std::vector<hwloc_obj_t> result;
  if (resource == Resource::node) return {hwloc_get_root_obj(topology_.get())};
  const auto type = type_of(resource);
  for (hwloc_obj_t o = hwloc_get_next_obj_by_type(topology_.get(), type, nullptr); o != nullptr;
       o = hwloc_get_next_obj_by_type(topology_.get(), type, o))
    result.push_back(o);
  return result;
}

std::string Topology::summary() const {
  return detail::describe_topology(topology_.get()).summary();
}

}  // namespace rmpi::launcher

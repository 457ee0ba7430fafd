#pragma once
/// A host's hardware topology (hwloc): loaded on the host itself by its node, sent to the
/// launcher as XML, or built from an hwloc synthetic description for tests.
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <hwloc.h>

namespace rmpi::launcher {

/// The kinds of topology objects that ranks are mapped onto or bound to.
enum class Resource { hwthread, core, l3cache, numa, socket, node };

/// "hwthread", "core", "l3cache", "numa", "socket", "node".
std::string_view to_string(Resource resource);

class Topology {
 public:
  /// This host's topology, as hwloc detects it (only the CPUs this process may use).
  static Topology of_this_host();
  /// An hwloc synthetic topology ("pack:2 numa:2 core:8 pu:2"); ConfigError if malformed.
  static Topology from_synthetic(std::string_view description);
  /// A topology exported by to_xml() on `host`; ConfigError naming the host if malformed.
  static Topology from_xml(std::string_view xml, std::string_view host);

  /// The whole topology as hwloc XML (what a node reports to its launcher).
  std::string to_xml() const;
  /// How many objects of `resource` the host has (node: 1).
  int count(Resource resource) const;
  /// The objects of `resource` in logical order (node: the machine).
  std::vector<hwloc_obj_t> objects(Resource resource) const;
  /// rmpi::HostTopology::summary() of it: "2 packages, 2 NUMA nodes, 4 cores, 8 PUs, L3 2x16MB, ...".
  std::string summary() const;
  hwloc_topology_t get() const { return topology_.get(); }

 private:
  struct Destroy {
    void operator()(hwloc_topology* t) const { hwloc_topology_destroy(t); }
  };
  explicit Topology(std::unique_ptr<hwloc_topology, Destroy> t) : topology_(std::move(t)) {}
  std::unique_ptr<hwloc_topology, Destroy> topology_;
};

}  // namespace rmpi::launcher

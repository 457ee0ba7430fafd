#include <rmpi/launcher/topology_report.hpp>

#include <rmpi/launcher/job_layout.hpp>
#include <rmpi/launcher/node_options.hpp>
#include <rmpi/launcher/topology.hpp>
#include <rmpi/process_host.hpp>

namespace rmpi::launcher {

std::string topology_report(const LaunchSpec& spec) {
  std::vector<std::string> hosts;
  if (!spec.apps.empty()) {
    hosts.push_back(spec.apps[0].program);
    hosts.insert(hosts.end(), spec.apps[0].args.begin(), spec.apps[0].args.end());
  } else {
    for (const auto& entry : resolve_hosts(spec)) hosts.push_back(entry.name);
  }
  const auto options = node_options(spec);
  std::string text;
  for (const auto& host : hosts) {
    const places::ProcessHost node(host, options, {});
    text += host + ": " + Topology::from_xml(node.host_facts(), host).summary() + "\n";
  }
  return text;
}

}  // namespace rmpi::launcher

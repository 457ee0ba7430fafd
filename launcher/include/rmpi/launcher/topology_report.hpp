#pragma once
/// rmpirun --topology: each host's topology, as its node reports it.
#include <string>

#include <rmpi/launcher/launch_spec.hpp>

namespace rmpi::launcher {

/// Starts a node on each host given after the options (or else each of the hostfile's or -H's
/// hosts, or else this host), and returns "HOST: <Topology::summary()>" lines, one per host.
/// Throws what starting a node throws, naming the host.
std::string topology_report(const LaunchSpec& spec);

}  // namespace rmpi::launcher

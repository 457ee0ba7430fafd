#pragma once
/// How rmpirun starts and reaches the node on each host, from its command line.
#include <rmpi/launcher/launch_spec.hpp>
#include <rmpi/process_host.hpp>

namespace rmpi::launcher {

/// --node-path, --ssh, --ssh-args, --prefix, --port, --kill-grace and --iface as node options.
places::ProcessHostOptions node_options(const LaunchSpec& spec);

}  // namespace rmpi::launcher

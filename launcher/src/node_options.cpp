#include <rmpi/launcher/node_options.hpp>

namespace rmpi::launcher {

places::ProcessHostOptions node_options(const LaunchSpec& spec) {
  places::ProcessHostOptions opt;
  opt.node_path = spec.node_path;
  if (spec.ssh != "ssh") opt.ssh_path = spec.ssh;
  opt.ssh_args = spec.ssh_args;
  if (spec.prefix) opt.prefix = spec.prefix->string();
  if (spec.ports.first != 0)
    opt.port_range = std::to_string(spec.ports.first) + "-" + std::to_string(spec.ports.last);
  opt.kill_grace = spec.kill_grace;
  opt.check_iface = spec.iface;
  return opt;
}

}  // namespace rmpi::launcher

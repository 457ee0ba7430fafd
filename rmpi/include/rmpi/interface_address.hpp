#pragma once
/// Which address of this host a rank advertises, from an `--iface` value:
/// an interface name ("eth0", "lo"), a subnet in CIDR form ("10.1.0.0/16")
/// or an IPv4 address of this host. Resolved on each host, since interface
/// names and addresses differ from host to host (like Open MPI's
/// btl_tcp_if_include).
#include <string>
#include <string_view>

namespace rmpi {

/// What resolving an `--iface` value gave: the address, or the error (naming
/// the value, this host and the interfaces it has), without a tool's name.
struct InterfaceLookup {
  std::string address;
  std::string error;  // empty when found
};
InterfaceLookup lookup_interface_address(std::string_view iface);

/// The IPv4 address of this host matching `iface`; throws rmpi::ConfigError
/// naming the value, this host and the interfaces it has when none matches.
std::string resolve_interface_address(std::string_view iface);

}  // namespace rmpi

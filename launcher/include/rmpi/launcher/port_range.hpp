#pragma once
/// The port range the router and rank listeners bind in (`--port`, RMPI_PORT_RANGE).
#include <string_view>

namespace rmpi::launcher {

/// An inclusive range of TCP ports; {0, 0} means "any free port".
struct PortRange {
  int first = 0;
  int last = 0;

  /// True for {0, 0}: let the OS pick a free port.
  bool any() const { return first == 0 && last == 0; }

  friend bool operator==(const PortRange&, const PortRange&) = default;
};

/// Parses "PORT" or "FIRST-LAST" (1..65535, FIRST <= LAST); "0" and "0-0" mean any free port.
/// Throws rmpi::ConfigError "bad port range '<text>': <why>".
PortRange parse_port_range(std::string_view text);

}  // namespace rmpi::launcher

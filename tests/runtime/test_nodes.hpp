#pragma once
// The options of the nodes that the runtime's multi-process tests spawn: the
// rmpi-node built with them (RMPI_NODE_EXE), a free port, a bounded connect.
#include <chrono>

#include <rmpi/node.hpp>

namespace rmpi::testing {

inline rmpi::places::NodeOptions node_options() {
  rmpi::places::NodeOptions o;
  o.listen_port = 0;
  o.node_path = RMPI_NODE_EXE;
  o.connect_timeout = std::chrono::seconds(20);
  return o;
}

}  // namespace rmpi::testing

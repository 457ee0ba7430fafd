#pragma once
// Helpers of the tests that spawn rmpi-node processes (RMPI_NODE_EXE):
// node options for loopback tests and a bounded wait for a place's end
// (process_gone, for any process, is in tests/support/process_exit.hpp).

#include <chrono>
#include <future>
#include <string>

#include <doctest/doctest.h>

#include <rmpi/remote_node.hpp>

#include "process_exit.hpp"

namespace rmpi::testing {

/// A node on a free port, started from the build tree, with a 20 s start bound.
inline places::NodeOptions node_options() {
  places::NodeOptions o;
  o.listen_port = 0;
  o.node_path = RMPI_NODE_EXE;
  o.connect_timeout = std::chrono::seconds(20);
  return o;
}

/// The place's exit code; fails the test if it does not end within 20 s.
inline int wait_for_exit(places::RemoteConnection c) {
  auto f = std::async(std::launch::async, [c]() mutable { return c.wait(); });
  REQUIRE(f.wait_for(std::chrono::seconds(20)) == std::future_status::ready);
  return f.get();
}

/// "address:port" as the node's log lines and errors name it (its log prefix without "PLACE ").
inline std::string node_address(const places::RemoteNode& node) {
  const std::string prefix = node.get_log_prefix();
  REQUIRE(prefix.starts_with("PLACE "));
  REQUIRE(prefix.ends_with(":" + std::to_string(node.port())));
  return prefix.substr(6);
}

}  // namespace rmpi::testing

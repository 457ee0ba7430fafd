#pragma once
// Starting rmpi-node on a host: directly when the host is local, through ssh
// otherwise; the job secret goes through the environment (local) or ssh's
// stdin (remote), never argv. The node prints "RMPI-NODE <port> [<address>]"
// once listening; its address is the one the SSH connection reached
// (SSH_CONNECTION), so peers never resolve hostfile aliases.
#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "process.hpp"

namespace rmpi::places::detail {

/// Where the node's own stdout/stderr go once it is up.
enum class NodeOutput {
  prefixed,        // both to our stderr, each line "rmpi-node@<host>: ..." (launchers)
  raw,             // stdout to our stdout, stderr to our stderr, unchanged (place programs)
  raw_stdout_only  // stdout copied raw; stderr inherited (use_current_ports)
};

struct NodeLaunchOptions {
  std::string node_path;  // empty = node_path(); with a remote prefix, "rmpi-node" in its PATH
  std::string ssh_path;
  std::vector<std::string> ssh_args;
  std::string prefix;
  std::uint16_t listen_port = 0;
  std::vector<std::pair<std::string, std::string>> env;  // extra env for a local node
  std::vector<std::string> node_args;                     // extra rmpi-node arguments
  std::chrono::milliseconds start_timeout{30000};
  NodeOutput output = NodeOutput::prefixed;
};

struct LaunchedNode {
  ChildProcess child;     // the node (local) or the ssh client (remote); stdin kept open
  std::uint16_t port = 0;
  std::string address;    // where to connect to the router
  bool remote = false;
};

/// Starts the node and waits for its ready line; after it, the node's output
/// goes where `options.output` says. The child is not reaped here: the
/// caller watches it (watch_child). Throws rmpi::SpawnError naming the host,
/// with the node's or ssh's own stderr.
LaunchedNode launch_node(const std::string& host, const NodeLaunchOptions& options);

/// Waits (at most `timeout`) until the output of every node started by this
/// process has been copied through: what places printed is not lost at exit.
void drain_node_output(std::chrono::milliseconds timeout);

}  // namespace rmpi::places::detail

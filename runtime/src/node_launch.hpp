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

struct NodeLaunchOptions {
  std::string node_path;  // empty = node_path() (local) / "rmpi-node" in the remote PATH
  std::string ssh_path;
  std::vector<std::string> ssh_args;
  std::string prefix;
  std::uint16_t listen_port = 0;
  std::vector<std::pair<std::string, std::string>> env;  // extra env for a local node
  std::vector<std::string> node_args;                     // extra rmpi-node arguments
  std::chrono::milliseconds start_timeout{30000};
};

struct LaunchedNode {
  ChildProcess child;     // the node (local) or the ssh client (remote); stdin kept open
  std::uint16_t port = 0;
  std::string address;    // where to connect to the router
  bool remote = false;
};

/// True for "localhost", "127.0.0.1", "::1" and this machine's own host name.
bool is_local_host(std::string_view host);

/// Starts the node and waits for its ready line. After it, the child's stdout
/// and stderr are forwarded to our stderr as "rmpi-node@<host>: <line>".
/// Throws rmpi::SpawnError naming the host, with the node's or ssh's stderr.
LaunchedNode launch_node(const std::string& host, const NodeLaunchOptions& options);

}  // namespace rmpi::places::detail

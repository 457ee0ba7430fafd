#pragma once
/// Nodes: where rmpi-node lives (node_path & co.), the options for starting
/// one (NodeOptions), and Node, a message router embedded in this process.
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <rmpi/event.hpp>
#include <rmpi/node_defaults.hpp>

namespace rmpi::places {

/// port-no?: true for 0..65535.
constexpr bool port_no(long no) { return no >= 0 && no <= 65535; }

/// Path of the rmpi-node executable: $RMPI_NODE_PATH, else next to this
/// executable (the /proc/self/exe directory), else in the bin directory of
/// the rmpi install the program was built against, else "rmpi-node" found on
/// PATH.
std::string node_path();
/// The program that bootstraps a node on a host: rmpi-node itself (node_path()).
std::string distributed_launch_path();
/// The launcher under an install prefix: "<prefix>/bin/rmpi-node".
std::string build_distributed_launch_path(const std::string& prefix);

/// How to start a node (spawn_remote_node & co.).
struct NodeOptions {
  /// Router port of the new node; 0 = a free port it picks and reports (what tests use).
  int listen_port = kDefaultRouterPort;
  /// rmpi-node on the target host (used when launch_path is empty).
  std::string node_path = places::node_path();
  /// ssh binary (empty: ssh_bin_path()).
  std::string ssh_path{};
  /// Extra ssh arguments (e.g. {"-F", "config"}).
  std::vector<std::string> ssh_args{};
  /// Remote command prefix (e.g. "cd /dir &&" or an environment setup), SSH only.
  std::string prefix{};
  /// Program to start instead of node_path (a wrapper taking rmpi-node's arguments).
  std::string launch_path{};
  /// The node writes to this process's stdout/stderr directly instead of
  /// pipes copied line by line (local nodes).
  bool use_current_ports = false;
  /// Bound on how long the node may take to report its port.
  std::chrono::seconds connect_timeout{30};
  /// #:restart-on-exit of a node: when its process or SSH session dies (or
  /// its link is lost), it is started again and its supervised places (those
  /// with a restart policy) are spawned on it again; other connections to
  /// it fail. Without it the loss is an event (RemoteNode::set_on_lost).
  bool restart_on_exit = false;
};

/// node%: a message router in this process, listening on `listen_port`,
/// plus an event loop for containers added to it.
class Node : public EventContainer {
 public:
  explicit Node(int listen_port = kDefaultRouterPort);
  ~Node() override;
  /// Adds an event container to the loop sync_events runs.
  void add(EventContainer& c);
  /// Starts listening (if not yet) and returns the bound port.
  std::uint16_t listen();
  /// Runs the router and the event loop forever.
  [[noreturn]] void sync_events();

  struct Impl;

 private:
  std::shared_ptr<Impl> impl_;
};

}  // namespace rmpi::places

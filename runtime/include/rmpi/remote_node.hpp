#pragma once
/// RemoteNode (the reference's remote-node%) and the functions that spawn
/// nodes and places on them: spawn_remote_node, create_place_node,
/// spawn_node_with_place_at, spawn_node_supervise_place_at,
/// supervise_place_at, supervise_thread_at, connect_to_named_place,
/// node_send_exit, node_get_first_place, spawn_node_at, spawn_nodes_join;
/// dynamic_place with a node as its location; current_node, the node a
/// place runs on.
///
/// A node on "localhost", "127.0.0.1", "::1" or this machine's host name is
/// started directly (fork/exec); any other host over SSH. Either way the job
/// secret travels out of band (environment, or ssh's stdin), the node reports
/// the port it listens on, and this process connects and authenticates.
#include <chrono>
#include <cstdint>
#include <functional>
#include <future>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <rmpi/channel.hpp>
#include <rmpi/event.hpp>
#include <rmpi/node.hpp>
#include <rmpi/place.hpp>
#include <rmpi/remote_connection.hpp>
#include <rmpi/restart.hpp>
#include <rmpi/value.hpp>

namespace rmpi::places {

/// How a place is started on a node (the reference's place-exec list):
/// `module` is an executable path on the node's host, `func` a name it
/// registers; thunk = the function creates and returns the place.
struct PlaceExec {
  std::string module{};
  std::string func{};
  bool thunk = false;
};

/// Options of a spawned place.
struct PlaceOptions {
  /// Sent to the place as its first message unless null.
  Value initial_message{};
  /// What to do when the place exits.
  RestartPolicy restart_on_exit{};
  /// Registers the place under this name on its node (for connect_to_named_place).
  std::string named{};
  /// The function creates and returns the place (RMPI_PLACE_THUNK).
  bool thunk = false;
};

/// A handle to a node this program spawned or connected to. Copies share it.
class RemoteNode : public EventContainer {
 public:
  RemoteNode() = default;

  /// The first place launched on this node (throws rmpi::Error if none).
  RemoteConnection get_first_place() const;
  /// The first place's channel.
  PlaceChannel get_first_place_channel() const;
  /// "PLACE host:port".
  std::string get_log_prefix() const;
  /// Starts a place on the node and waits for the node's answer. Throws
  /// rmpi::NameError if the function is not registered in the module, and
  /// rmpi::SpawnError for any other failure, with the node's reason.
  RemoteConnection launch_place(const PlaceExec& exec, const PlaceOptions& options = {});
  /// Connects to the named place `name` on the node; rmpi::NameError if there is none.
  RemoteConnection remote_connect(const std::string& name);
  /// Tells the node to exit now (its places end with it) and waits (bounded) for it.
  void send_exit();
  /// The node died or its link broke (not through send_exit): `fn(reason)`
  /// runs once, like set_on_channel's handlers; the reason names host:port.
  /// At once if that happened already. Connections to its places fail with
  /// the same reason.
  void set_on_lost(std::function<void(const std::string& reason)> fn);
  /// Why the link to the node ended, if it has.
  std::optional<std::string> lost_reason() const;
  /// The host this node was spawned on, as given.
  const std::string& host() const;
  /// The node's router port.
  std::uint16_t port() const;
  /// The address this program reached the node at (e.g. "127.0.0.1").
  const std::string& address() const;
  /// This program's address on its connection to the node (how the node's
  /// host reaches this one); empty for a Unix socket.
  std::string local_address() const;
  bool valid() const { return static_cast<bool>(impl_); }

  /// Runtime internals.
  struct Impl;
  explicit RemoteNode(std::shared_ptr<Impl> impl) : impl_(std::move(impl)) {}
  const std::shared_ptr<Impl>& impl() const { return impl_; }

 private:
  std::shared_ptr<Impl> impl_;
};

/// spawn-remote-racket-node: starts rmpi-node on `host` and connects to it.
/// Throws rmpi::SpawnError (with the node's stderr and the host) if it does
/// not come up, rmpi::ConnectError if it cannot be reached.
RemoteNode spawn_remote_node(const std::string& host, const NodeOptions& options = {});
/// socket-connection% to a node: connects to the node listening at
/// host:port (started by another program of the same job, so sharing its
/// secret), retrying a refused connection per the default policy (30 tries,
/// 1 s apart); the result is used like a spawned node (launch places on it,
/// connect to its named places). Throws rmpi::ConnectError naming host:port.
RemoteNode connect_to_node(const std::string& host, std::uint16_t port,
                           std::chrono::seconds timeout = std::chrono::seconds(30));
/// create-place-node: same as spawn_remote_node.
RemoteNode create_place_node(const std::string& host, const NodeOptions& options = {});
/// spawn-node-with-place-at: a new node with one place (see get_first_place()).
RemoteNode spawn_node_with_place_at(const std::string& host, const std::string& module,
                                    const std::string& func, const NodeOptions& node_options = {},
                                    const PlaceOptions& place_options = {});
/// spawn-node-supervise-place-at: a new node and the connection to its place.
std::pair<RemoteNode, RemoteConnection> spawn_node_supervise_place_at(
    const std::string& host, const std::string& module, const std::string& func,
    const NodeOptions& node_options = {}, const PlaceOptions& place_options = {});
/// supervise-place-at: a place on an existing node.
RemoteConnection supervise_place_at(RemoteNode& node, const std::string& module,
                                    const std::string& func, const PlaceOptions& options = {});
/// supervise-thread-at: runs `func` on a thread of the node's host process
/// for `module` (started once per module; its thread places share its
/// globals, its pid and its fate: a crash of it ends each of them, reported
/// like a dead place, and restart policies apply per place). End one with
/// place_exit(code) rather than std::exit, which ends the whole host.
RemoteConnection supervise_thread_at(RemoteNode& node, const std::string& module,
                                     const std::string& func, const PlaceOptions& options = {});
/// connect-to-named-place.
RemoteConnection connect_to_named_place(RemoteNode& node, const std::string& name);
/// dynamic-place with #:at node: starts `func` of `module` on `node` (as
/// supervise_place_at does) and returns a Place handle: its channel is the
/// place's channel, wait() gives its exit code, pid() its pid on the node's
/// host. kill() closes the connection (the place's channel closes, as for a
/// thread place); the node ends the place with the node. Errors as
/// launch_place's, naming the node host:port.
Place dynamic_place(const RemoteNode& node, const std::string& module, const std::string& func);

/// The node this place runs on (its router, at $RMPI_NODE_ADDR), so code in a
/// place can spawn sibling places there and connect to its named places, as
/// the reference's connect-to-named-place and supervise-place-at do in a
/// place. One connection per process, made at the first call (again after
/// it was lost); places spawned through it end with this place. Throws
/// rmpi::Error outside a place started by a node, rmpi::ConnectError if the
/// node cannot be reached.
RemoteNode current_node();

/// node-send-exit.
void node_send_exit(RemoteNode& node);
/// node-get-first-place.
RemoteConnection node_get_first_place(const RemoteNode& node);

/// spawn-node-at: spawns a node in the background; the future yields it (or the error).
std::future<RemoteNode> spawn_node_at(const std::string& host, const NodeOptions& options = {});
/// One node of spawn_nodes_join.
struct NodeSpec {
  std::string host{};
  NodeOptions options{};
};
/// spawn-nodes/join: starts every node in parallel, waits for all; throws the first error.
std::vector<RemoteNode> spawn_nodes_join(const std::vector<NodeSpec>& specs);

}  // namespace rmpi::places

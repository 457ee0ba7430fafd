#pragma once
// Internals of RemoteNode and RemoteConnection: the spawner's connection to a
// node, its sub-channels (one per spawned place or named-place connection),
// and the node process this program started, if any.
#include <sys/types.h>

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <future>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include <rmpi/remote_node.hpp>

#include "client_endpoints.hpp"
#include "framed_connection.hpp"
#include "process.hpp"

namespace rmpi::places {

/// A node process this program started (directly or through ssh).
struct NodeProcess {
  pid_t pid = -1;
  int stdin_fd = -1;  // kept open: its EOF tells the node its parent is gone
  std::shared_ptr<std::promise<void>> exited;
  std::shared_future<void> exited_future;
};

struct RemoteConnection::Impl : std::enable_shared_from_this<RemoteConnection::Impl> {
  using Clock = std::chrono::steady_clock;
  std::weak_ptr<RemoteNode::Impl> node;
  std::shared_ptr<detail::LinkEndpoint> ep;
  PlaceExec exec;
  PlaceOptions options;
  bool spawned = false;  // a place we spawned (vs a connection to a named place)
  bool thread = false;   // runs on a thread of the node (supervise_thread_at)
  std::string label;

  std::mutex mu;
  std::condition_variable cv;
  std::optional<int> status;  // final exit code (no restart follows)
  bool closed = false;        // the connection ended (final)
  std::optional<std::string> lost;
  int retries = 0;
  Clock::time_point started = Clock::now();

  /// Node → us: the place exited (`status`, `description`): apply the restart policy.
  void on_exited(int code, const std::string& description);
  /// Node → us: the connection is closed (named place gone).
  void on_closed(const std::string& reason);
  /// The node connection is gone.
  void on_lost(const std::string& reason);
  void finish(std::optional<int> code, const std::string& reason);
};

struct RemoteNode::Impl : std::enable_shared_from_this<RemoteNode::Impl> {
  std::string host;     // as given
  std::string address;  // where we connected
  std::uint16_t port = 0;
  std::optional<NodeProcess> process;
  std::shared_ptr<detail::FramedConnection> conn;

  std::mutex mu;
  std::condition_variable cv;
  std::uint32_t next_channel = 1;
  std::map<std::uint32_t, std::shared_ptr<RemoteConnection::Impl>> conns;
  std::map<std::uint32_t, std::function<void(std::optional<std::string>)>> pending;
  std::optional<RemoteConnection> first_place;
  std::optional<protocol::Welcome> welcome;
  std::optional<std::string> lost;
  bool exit_sent = false;

  std::string log_host;  // the node's own name for this connection (Welcome::host)

  /// "PLACE host:port" with the host as the node's log lines name it.
  std::string log_prefix() const {
    return "PLACE " + (log_host.empty() ? address : log_host) + ":" + std::to_string(port);
  }

  /// Connects to the router at address:port, authenticates, says Hello(role).
  void connect(const std::string& role, std::chrono::seconds timeout);
  void on_frame(detail::Frame&& f);
  void on_close(const std::string& reason);

  /// Sends SpawnPlace for `c` on a fresh channel; `done` gets the node's answer.
  void spawn(const std::shared_ptr<RemoteConnection::Impl>& c,
             std::function<void(std::optional<std::string>)> done);
  /// Gives `c` a fresh sub-channel whose answer goes to `done`; nullopt (and
  /// `done` called with the reason) when the node is already lost.
  std::optional<std::uint32_t> open_channel(const std::shared_ptr<RemoteConnection::Impl>& c,
                                            std::function<void(std::optional<std::string>)>& done);
  /// Sends ConnectNamed for `c` on a fresh channel.
  void connect_named(const std::shared_ptr<RemoteConnection::Impl>& c, const std::string& name,
                     std::function<void(std::optional<std::string>)> done);
  /// Exit{0} and a bounded wait for the node process (if ours) and the connection.
  void exit_node(std::chrono::milliseconds grace);
};

/// Starts rmpi-node on `host` per `options`; fills process, address and port.
void start_node_process(RemoteNode::Impl& node, const NodeOptions& options);
/// Ends every node this program started that is still up (atexit).
void register_spawned_node(const std::shared_ptr<RemoteNode::Impl>& node);

/// Throws NameError for "no place function" / "no place named" reasons, else SpawnError.
[[noreturn]] void throw_node_error(const std::string& what, const std::string& reason);

}  // namespace rmpi::places

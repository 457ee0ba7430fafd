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
#include <vector>

#include <boost/asio/steady_timer.hpp>

#include <rmpi/remote_node.hpp>
#include <rmpi/spawned_process.hpp>

#include "client_endpoints.hpp"
#include "framed_connection.hpp"
#include "heartbeat.hpp"
#include "process.hpp"
#include <rmpi/restart_schedule.hpp>

namespace rmpi::places {

/// A node process this program started (directly or through ssh).
struct NodeProcess {
  pid_t pid = -1;
  int stdin_fd = -1;  // kept open: its EOF tells the node its parent is gone
  std::shared_ptr<std::promise<void>> exited;
  std::shared_future<void> exited_future;
};

/// A node's refusal of a spawn or a connect: its reason and its kind.
struct Refusal {
  std::string reason;
  protocol::Failure failure = protocol::Failure::other;
};
/// Called once with the node's answer: nullopt = done, else why not.
using AnswerHandler = std::function<void(std::optional<Refusal>)>;

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
  int pid = 0;                // of the spawned place on its node's host, as last started
  bool closed = false;        // the connection ended (final)
  bool killed = false;        // the holder killed the place: no restart follows
  std::optional<int> stop_signal;  // while its node sees the place stopped
  std::vector<std::function<void(RemoteConnection&, int)>> on_stop_change;
  std::optional<std::string> lost;
  int restarts = 0;  // restarts made (all of them, for the holder)
  std::function<void(RemoteConnection&, int)> on_restart;
  Clock::time_point started = Clock::now();

  // The restart machinery: touched only on the shared io_context's thread.
  std::optional<detail::RestartSchedule> schedule;  // of a Restarter policy
  std::unique_ptr<boost::asio::steady_timer> restart_timer;

  /// Node → us: the place exited (`status`, `description`): apply the restart policy.
  void on_exited(int code, const std::string& description);
  /// Spawns the place again on its node, on this connection's endpoint.
  void respawn();
  /// The holder closed the connection: no restart, the node forgets the channel.
  void close_by_holder();
  /// The holder killed the place: no restart, its node SIGKILLs it, wait() gives its status.
  void kill_by_holder();
  /// Node → us: the place was stopped by `signal`, or continued (0).
  void on_run_state(int signal);
  /// Node → us: the connection is closed (named place gone).
  void on_closed(const std::string& reason);
  /// The node connection is gone.
  void on_lost(const std::string& reason);
  void finish(std::optional<int> code, const std::string& reason);
};

struct SpawnedProcess::Impl {
  std::shared_ptr<RemoteNode::Impl> node;  // kept up while the process is watched
  std::string label;                       // "process sleep on PLACE host:port"

  mutable std::mutex mu;
  std::condition_variable cv;
  int pid = -1;
  std::optional<std::string> refused;  // could not start
  std::optional<int> status;           // ended
  std::optional<std::string> lost;     // the node went first
  std::function<void(int)> on_exit;

  void on_started(int process_pid);
  void on_refused(const std::string& reason);
  void on_exited(int exit_status);
  void on_lost(const std::string& reason);
};

struct RemoteNode::Impl : std::enable_shared_from_this<RemoteNode::Impl> {
  std::string host;     // as given
  std::string address;  // where we connected
  std::uint16_t port = 0;
  std::optional<NodeProcess> process;
  NodeOptions options;  // how it was started (to start it again)
  std::shared_ptr<detail::FramedConnection> conn;  // under mu once connected: it changes on a restart

  std::mutex mu;
  std::shared_ptr<detail::LinkHeartbeat> heartbeat;  // watches `conn` once connected
  std::condition_variable cv;
  std::uint32_t next_channel = 1;
  std::map<std::uint32_t, std::shared_ptr<RemoteConnection::Impl>> conns;
  std::map<std::uint32_t, AnswerHandler> pending;
  std::map<std::uint32_t, std::shared_ptr<SpawnedProcess::Impl>> processes;  // by process id
  std::vector<std::function<void(const std::string&)>> on_lost_handlers;
  std::optional<RemoteConnection> first_place;
  std::optional<protocol::Welcome> welcome;
  std::optional<std::string> lost;
  bool exit_sent = false;

  std::string log_host;  // the node's own name for this connection (Welcome::host)

  /// "PLACE host:port" with the host as the node's log lines name it.
  std::string log_prefix() const {
    return "PLACE " + (log_host.empty() ? address : log_host) + ":" + std::to_string(port);
  }

  /// The current link to the node.
  std::shared_ptr<detail::FramedConnection> link() {
    std::lock_guard lock(mu);
    return conn;
  }
  /// restart_on_exit: starts the node again, then respawns `supervised` on it.
  void restart(const std::string& why,
               std::vector<std::shared_ptr<RemoteConnection::Impl>> supervised);
  /// Connects to the router at address:port, authenticates, says Hello(role).
  void connect(protocol::Role role, std::chrono::seconds timeout);
  void on_frame(detail::Frame&& f);
  void on_close(const std::string& reason);

  /// Sends SpawnPlace for `c` on a fresh channel; `done` gets the node's answer.
  void spawn(const std::shared_ptr<RemoteConnection::Impl>& c,
             AnswerHandler done);
  /// Gives `c` a fresh sub-channel whose answer goes to `done`; nullopt (and
  /// `done` called with the reason) when the node is already lost.
  std::optional<std::uint32_t> open_channel(const std::shared_ptr<RemoteConnection::Impl>& c,
                                            AnswerHandler& done);
  /// Starts `argv` on the node as process `p` (SpawnProcess); its answer comes to `p`.
  void spawn_process(const std::shared_ptr<SpawnedProcess::Impl>& p,
                     const std::vector<std::string>& argv);
  /// Forgets sub-channel `channel` and tells the node it is closed.
  void close_channel(std::uint32_t channel);
  /// Asks the node to SIGKILL the place spawned on `channel` (KillPlace).
  void kill_place(std::uint32_t channel);
  /// Sends ConnectNamed for `c` on a fresh channel.
  void connect_named(const std::shared_ptr<RemoteConnection::Impl>& c, const std::string& name,
                     AnswerHandler done);
  /// Exit{0} and a bounded wait for the node process (if ours) and the connection.
  void exit_node(std::chrono::milliseconds grace);
};

/// Starts rmpi-node on `host` per `options`; fills process, address and port.
void start_node_process(RemoteNode::Impl& node, const NodeOptions& options);
/// Ends every node this program started that is still up (atexit).
void register_spawned_node(const std::shared_ptr<RemoteNode::Impl>& node);

/// Throws NameError for a missing place function or name, else SpawnError; `what`
/// (naming the place and the node host:port) comes first.
[[noreturn]] void throw_node_error(const std::string& what, const Refusal& refusal);

}  // namespace rmpi::places

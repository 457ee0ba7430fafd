#pragma once
// Router: the reference's node%. Listens on a TCP port, authenticates every
// connection with the job secret, and serves the control protocol
// (protocol.hpp): spawning places (processes running a registered function)
// and bridging their channels to the spawner, named places and connections
// to them, launcher processes with their stdio streamed back as io frames,
// log forwarding toward the root, Terminate / Exit.
// A bad peer costs only its own connection; a crashing place only itself.
//
// All state lives on one strand of the given executor; the public methods are
// thread-safe. The `rmpi-node` daemon runs one; a root program may embed one.
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include <boost/asio/any_io_executor.hpp>

#include <rmpi/listener_guard.hpp>
#include <rmpi/node_defaults.hpp>
#include <rmpi/wire.hpp>

#include "protocol.hpp"

namespace rmpi::places::detail {

/// Settings of a router.
struct RouterOptions {
  /// TCP port to listen on; 0 picks a free one (see Router::port()).
  int listen_port = kDefaultRouterPort;
  /// Address to bind ("0.0.0.0" or "::" accepts on every interface).
  std::string listen_address = "0.0.0.0";
  /// If set, the address sent in Welcome and used in log labels instead of
  /// the local address each peer reached us on.
  std::string advertise;
  /// Sent to spawners in Welcome: what the node says about its host (opaque to the router);
  /// called at each spawner's Hello. Empty = nothing.
  std::function<std::string()> host_facts;
  /// The job secret every connecting peer must prove. Must not be empty.
  std::string secret;
  /// Exit (after terminating every child) when the parent connection drops.
  /// The parent is the first connection whose Hello has role "spawner".
  bool parent_link = false;
  /// With parent_link: exit if no parent has connected within this time (0 = wait forever).
  std::chrono::milliseconds parent_timeout{0};
  /// SIGTERM → SIGKILL grace when children are ended because of Exit, a lost parent or shutdown().
  std::chrono::milliseconds kill_grace{1000};
  /// Handshake timeout of accepted connections.
  std::chrono::milliseconds auth_timeout = listener::kDefaultHandshakeTimeout;
  /// Accepted connections in their handshake at once; past it a new one is
  /// accepted and closed at once.
  std::size_t max_unauthenticated = listener::kDefaultMaxUnauthenticated;
  /// Death detection of peers that send Heartbeats: a peer silent this long
  /// is closed. Negative = heartbeat_bound() (RMPI_HEARTBEAT_MS); 0 = off.
  std::chrono::milliseconds heartbeat{-1};
  /// Payload limit of control connections.
  std::uint64_t max_frame_length = wire::kDefaultControlLimit;
  /// Flow control of process output: stop reading a child's pipes while the
  /// owner connection has more than this queued.
  std::size_t output_high_water = 8u << 20;
  /// Called once, on the router's strand, when the router decides to exit
  /// (Exit message, lost parent, shutdown()). Default: flush stdio, _exit(code).
  std::function<void(int code)> on_exit;
  /// Called for each log line that reaches this router when it has no parent
  /// (it is the root). Default: print "[HH:MM:SS.mmm] origin severity: text" to stderr.
  std::function<void(const protocol::Log&)> on_log;
};

/// Formats a log line as the root prints it: "[HH:MM:SS.mmm] origin severity: text".
std::string format_log_line(const protocol::Log& log);

class Router {
 public:
  /// Binds and listens at once (so port() is known on return), then serves on
  /// `executor`. Throws rmpi::ConnectError "port 6340 is in use on <host>" and
  /// rmpi::ConfigError for an empty secret.
  Router(boost::asio::any_io_executor executor, RouterOptions options);
  /// Stops accepting, closes every connection and SIGKILLs every child.
  /// Waits for that unless called on the router's own executor thread.
  ~Router();
  Router(const Router&) = delete;
  Router& operator=(const Router&) = delete;

  /// The port the router listens on.
  std::uint16_t port() const;
  /// Logs a line from this node: forwarded to the parent, or printed at the root.
  void log(std::string severity, std::string text);
  /// Ends every child (SIGTERM, kill_grace, SIGKILL), then calls on_exit(code).
  void shutdown(int code);
  /// SIGTERM to every process group the router started, SIGKILL after `grace`.
  void terminate_children(std::chrono::milliseconds grace);
  /// Number of places and processes started and not yet reaped (for tests).
  std::size_t live_children() const;
  /// Accepted connections still in their handshake (for tests).
  std::size_t unauthenticated() const;

  struct Impl;

 private:
  std::shared_ptr<Impl> impl_;
};

}  // namespace rmpi::places::detail

#pragma once
// The router's peers: the TCP listener (capped, rate-limited reports of bad
// peers), the job-secret handshake of each connection, Hello / Welcome, the
// parent link, and the first step of every frame a peer sends (control
// messages to Router::Impl::dispatch, data to the places, io to the processes).
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>

#include <rmpi/listener_guard.hpp>

#include "framed_connection.hpp"
#include "heartbeat.hpp"
#include "protocol.hpp"
#include "router.hpp"

namespace rmpi::places::detail {

/// One authenticated (or authenticating) connection to the router.
struct RouterPeer {
  std::uint64_t id = 0;
  std::shared_ptr<FramedConnection> conn;
  protocol::Role role = protocol::Role::client;
  std::string reached_host;  // our address as this peer reached it
  bool holds_slot = false;   // counted by the unauthenticated cap until it authenticates
  std::shared_ptr<LinkHeartbeat> heartbeat;  // once authenticated
};

class RouterPeers {
 public:
  explicit RouterPeers(Router::Impl& router);

  /// Binds and listens (throws ConnectError / ConfigError); sets the router's port and labels.
  void listen();
  /// Starts accepting and the parent timeout (on the strand).
  void start();
  /// Stops accepting new connections.
  void stop_accepting();
  /// Closes every connection (router stopped).
  void close_all(const std::string& reason);
  /// Writes the held-back count of the bad-peer log at once.
  void flush_bad_peer_log();

  std::shared_ptr<RouterPeer> find(std::uint64_t id) const;
  /// Sends to peer `id` if it is still connected.
  void send(std::uint64_t id, const protocol::ControlMessage& message);
  /// The parent (first spawner), if connected.
  std::optional<std::uint64_t> parent() const { return parent_; }
  /// Hello → Welcome; the first spawner becomes the parent.
  void on_hello(RouterPeer& peer, const protocol::Hello& hello);
  /// Connections in their handshake (for tests).
  std::size_t unauthenticated() const { return unauthenticated_.in_use(); }

 private:
  void accept();
  void add_peer(boost::asio::ip::tcp::socket tcp);
  void report_bad_peer(const std::string& peer, const std::string& what);
  void arm_bad_log_timer();
  void on_authenticated(std::uint64_t id);
  void on_frame(std::uint64_t id, Frame&& frame);
  void on_closed(std::uint64_t id, const CloseReason& reason);

  Router::Impl& router_;
  boost::asio::ip::tcp::acceptor acceptor_;
  boost::asio::steady_timer accept_pause_;
  boost::asio::steady_timer parent_timer_;
  boost::asio::steady_timer bad_log_timer_;
  bool bad_log_armed_ = false;
  listener::UnauthenticatedCap unauthenticated_;
  listener::BadPeerLog bad_peers_;
  std::map<std::uint64_t, std::shared_ptr<RouterPeer>> peers_;
  std::optional<std::uint64_t> parent_;
};

}  // namespace rmpi::places::detail

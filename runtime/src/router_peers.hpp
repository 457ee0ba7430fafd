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

#include <rmpi/transport/asio_accept_loop.hpp>

#include "framed_connection.hpp"
#include "heartbeat.hpp"
#include "protocol.hpp"
#include "router.hpp"

namespace rmpi::places::detail {

/// One authenticated connection to the router.
struct RouterPeer {
  std::uint64_t id = 0;
  std::shared_ptr<FramedConnection> conn;
  protocol::Role role = protocol::Role::client;
  std::string reached_host;  // our address as this peer reached it
  std::shared_ptr<LinkHeartbeat> heartbeat;
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

  std::shared_ptr<RouterPeer> find(std::uint64_t id) const;
  /// Sends to peer `id` if it is still connected.
  void send(std::uint64_t id, const protocol::ControlMessage& message);
  /// The parent (first spawner), if connected.
  std::optional<std::uint64_t> parent() const { return parent_; }
  /// Hello → Welcome; the first spawner becomes the parent.
  void on_hello(RouterPeer& peer, const protocol::Hello& hello);
  /// Connections in their handshake (for tests).
  std::size_t unauthenticated() const { return accepting_ ? accepting_->unauthenticated() : 0; }

 private:
  void add_peer(boost::asio::ip::tcp::socket tcp, transport::AcceptedPeer accepted);
  void on_frame(std::uint64_t id, Frame&& frame);
  void on_closed(std::uint64_t id, const CloseReason& reason);

  Router::Impl& router_;
  boost::asio::ip::tcp::acceptor acceptor_;  // bound by listen(), then owned by accepting_
  std::shared_ptr<transport::AsioAcceptLoop> accepting_;  // the handshake of every peer
  boost::asio::steady_timer parent_timer_;
  std::map<std::uint64_t, std::shared_ptr<RouterPeer>> peers_;
  std::optional<std::uint64_t> parent_;
};

}  // namespace rmpi::places::detail

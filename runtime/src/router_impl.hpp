#pragma once
// Router::Impl: the state every part of a router shares (one strand, the
// options, the node's address) and the parts themselves, each with one job:
// peers (accept, handshake, control dispatch), places (spawned places and
// their channel routes), names (named places), processes (launched
// processes and their stdio), logs (toward the root) and supervision (the
// children's lifetime: terminate, shutdown, stop). Every member is touched
// only on `strand`.
#include <atomic>
#include <cstdint>
#include <memory>
#include <string>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/strand.hpp>

#include "router.hpp"
#include "router_logs.hpp"
#include "router_names.hpp"
#include "router_peers.hpp"
#include "router_places.hpp"
#include "router_processes.hpp"
#include "router_supervision.hpp"

namespace rmpi::places::detail {

struct Router::Impl : std::enable_shared_from_this<Router::Impl> {
  Impl(boost::asio::any_io_executor executor, RouterOptions options);

  /// "host:port" of this node in messages and log origins.
  std::string label() const { return label_host + ":" + std::to_string(port.load()); }
  /// A fresh id for a peer or a place.
  std::uint64_t new_id() { return next_id++; }
  /// Handles one control message from an authenticated peer (router_dispatch.cpp).
  void dispatch(RouterPeer& peer, protocol::ControlMessage&& message);

  boost::asio::strand<boost::asio::any_io_executor> strand;
  RouterOptions options;
  std::atomic<std::uint16_t> port{0};
  std::string own_address;  // host:port at which a process of this host reaches the router
  std::string label_host;
  std::uint64_t next_id = 1;

  RouterLogs logs;
  RouterSupervision supervision;
  RouterNames names;
  RouterPlaces places;
  RouterProcesses processes;
  RouterPeers peers;  // last: its bad-peer log writes through `logs`
};

}  // namespace rmpi::places::detail

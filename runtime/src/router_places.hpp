#pragma once
// The router's places: spawning a place (a process running a registered
// function, or a thread of the module's host: router_threads.hpp; either is
// linked to the node by a socketpair), the routes between peers'
// sub-channels and places' channels, the place's own control messages
// (PlaceReady, Log, CloseChannel, a thread place's PlaceExited), and the
// report of its end to its spawner and to its named connections once its
// status is known (reaped, or a thread's PlaceExited) and everything it
// wrote was read.
#include <sys/types.h>

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <boost/asio/steady_timer.hpp>

#include "framed_connection.hpp"
#include "process.hpp"
#include "protocol.hpp"
#include "router.hpp"
#include "router_threads.hpp"

namespace rmpi::places::detail {

struct RouterPeer;

class RouterPlaces {
 public:
  explicit RouterPlaces(Router::Impl& router) : router_(router), hosts_(router) {}

  /// SpawnPlace from `peer`: PlaceStarted once the place is ready, else ChannelFailed.
  void spawn(RouterPeer& peer, const protocol::SpawnPlace& request);
  /// True if the peer's sub-channel is routed to a place already.
  bool channel_in_use(std::uint64_t peer, std::uint32_t channel) const;
  /// Routes the peer's sub-channel to a new channel of place `place` (NewConnection to it).
  void open_channel(std::uint64_t place, const RouterPeer& peer, std::uint32_t channel);
  /// A data frame from a peer: to the place its channel is routed to.
  void data_from_peer(std::uint64_t peer, Frame&& frame);
  /// CloseChannel from a peer: the place's side of it is closed.
  void close_from_peer(std::uint64_t peer, std::uint32_t channel);
  /// KillPlace from `peer`: SIGKILL to the place it spawned on `channel`
  /// (a thread place's link is closed); its PlaceExited follows its reaping.
  void kill(std::uint64_t peer, std::uint32_t channel);
  /// The peer is gone: its connections to places close; the live places it
  /// spawned are returned, to be ended.
  std::vector<pid_t> peer_gone(std::uint64_t peer);
  /// Pids of places not yet reaped.
  void append_live_pids(std::vector<pid_t>& pids) const;
  /// Whether `pid` is a place not yet reaped.
  bool alive(pid_t pid) const;
  /// Closes every place socket (router stopped).
  void close_all(const std::string& reason);
  /// The module host `pid` ended: its thread places still running end with `status`.
  void host_ended(pid_t pid, ExitStatus status);
  RouterModuleHosts& hosts() { return hosts_; }

 private:
  using Route = std::pair<std::uint64_t, std::uint32_t>;  // (peer or place id, channel)
  struct Place {
    std::uint64_t id = 0;
    pid_t pid = -1;       // a thread place's is its module host's
    bool thread = false;  // a thread of a module host
    bool closed_by_router = false;
    std::shared_ptr<FramedConnection> conn;
    std::string module, function, name;
    std::uint64_t spawner = 0;
    std::uint32_t spawner_channel = 0;
    bool ready = false;
    bool failed_reported = false;
    bool reaped = false;
    bool socket_closed = false;
    ExitStatus status;
    std::uint32_t next_channel = 1;
    std::map<std::uint32_t, Route> channels;  // place channel → (peer, peer channel)
    std::unique_ptr<boost::asio::steady_timer> linger;
  };

  void on_frame(std::uint64_t id, Frame&& frame);
  void on_control(Place& place, protocol::ControlMessage&& message);
  void on_socket_closed(std::uint64_t id, const CloseReason& reason);
  /// The place's status is known: it was reaped, or its thread reported it.
  void on_reaped(std::uint64_t id, ExitStatus status);
  /// The place's process was stopped or continued: PlaceRunStateChanged to its spawner.
  void on_run_state(std::uint64_t id, RunState state, int signal);
  /// Starts the process, or the thread, that runs the place; its pid. Throws with the reason.
  pid_t start(const RouterPeer& peer, const protocol::SpawnPlace& request, int place_fd,
              std::uint64_t id);
  void maybe_finish(std::uint64_t id);
  std::string describe(const Place& place) const;

  Router::Impl& router_;
  std::map<std::uint64_t, std::shared_ptr<Place>> places_;
  std::map<Route, Route> routes_;  // (peer, peer channel) → (place, place channel)
  RouterModuleHosts hosts_;
};

}  // namespace rmpi::places::detail

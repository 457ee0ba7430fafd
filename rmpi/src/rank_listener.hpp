#pragma once
// A rank's listener, alive for the whole job: the transport core's accept
// loop (rmpi/transport/epoll_accept_loop.hpp: one thread, one epoll loop, no
// thread per connection) accepts on the TCP and the local socket, runs each
// connection's job-secret handshake and reads its hello (which rank it is);
// this class settles the pair. Hostile peers are bounded:
// - at most `max_unauthenticated` connections in their handshake; one more
//   is accepted and closed at once;
// - a handshake that is not done by `handshake_timeout` is dropped;
// - bad peers are logged with their address, one line per second at most,
//   plus a count of the ones held back.
// Authenticated connections are handed to the engine (take / wait_for).
//
// Simultaneous connects of a pair are settled here, deterministically: the
// connection started by the lower rank wins. Each side keeps a state per
// peer (none / connecting / linked) under one mutex shared with the engine.
// A hello from a later incarnation of a peer (a restarted rank) is accepted
// where the pair was linked: it replaces the pair's link (World::add_link
// drops the old one).
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include <rmpi/listener_guard.hpp>
#include <rmpi/transport/epoll_accept_loop.hpp>

#include "net.hpp"

namespace rmpi::detail {

/// The limits every listener shares (node, rendezvous, ranks).
using listener::ListenerLimits;

class RankListener {
 public:
  /// An authenticated connection of rank `peer`.
  struct Accepted {
    int peer = -1;
    Fd fd;
    bool local = false;
  };
  /// What the engine should do to get a link to a peer.
  enum class Claim { connect, linked };

  RankListener(int rank, int size, std::string secret, Fd tcp, Fd local, ListenerLimits limits);
  ~RankListener();
  RankListener(const RankListener&) = delete;
  RankListener& operator=(const RankListener&) = delete;

  /// Readable while accepted connections wait to be taken (an eventfd).
  int ready_fd() const { return ready_.get(); }
  /// Every accepted connection not taken yet.
  std::vector<Accepted> take();
  /// Waits for `peer`'s accepted connection; nullopt at the deadline.
  std::optional<Accepted> wait_for(int peer, Clock::time_point deadline);

  /// The engine wants a link to `peer`: `connect` (this side connects; state
  /// becomes connecting) or `linked` (its connection was accepted: take it).
  Claim claim(int peer);
  /// The engine's own connect to `peer` ended; `won`: it is the pair's link.
  void connected(int peer, bool won);

  /// The latest incarnation of `peer` that said hello (0 until a restarted
  /// process of it connects).
  std::uint32_t incarnation_of(int peer) const;

  /// Stops the thread and closes the listeners (idempotent); writes the
  /// held-back count of bad peers.
  void stop();

  std::size_t bad_peers() const;

 private:
  enum class Pair { none, connecting, linked };
  void on_authenticated(Fd fd, bool local, transport::AcceptedPeer peer);

  int rank_;
  int size_;
  Fd ready_;

  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::vector<Pair> pairs_;
  std::vector<std::uint32_t> incarnations_;  // by peer: the latest that said hello
  std::vector<Accepted> accepted_;

  transport::EpollAcceptLoop loop_;  // last: its thread uses the members above
};

}  // namespace rmpi::detail

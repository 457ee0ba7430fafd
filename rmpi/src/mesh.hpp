#pragma once
// The rank mesh of a job: the endpoint of every rank (from the rendezvous),
// this rank's listener, and links made on demand. A pair links at its
// first message (a send, or a receive that names the peer): over shared
// memory inside a node (shm::Context: each side makes its half, the peer
// finds it through its bell), else over a Unix socket inside a node or TCP
// otherwise (RMPI_TRANSPORT=tcp: TCP always), with the job-secret handshake;
// the listener settles simultaneous connects (the lower rank's wins).
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <rmpi/detail/endpoint.hpp>

#include "link.hpp"
#include "rank_listener.hpp"

namespace rmpi::detail {
namespace shm {
class Context;
struct Doorbell;
}

/// RMPI_TRANSPORT: auto (default: shared memory or a local socket inside a
/// node, TCP between nodes) or tcp (TCP for every pair).
/// auto shares memory between ranks of a node (rmpi/src/shm) and falls back
/// to a local socket for a peer whose segment cannot be mapped; shm is a
/// synonym of auto.
enum class Transport { automatic, tcp, shm };
inline constexpr const char* kTransportEnv = "RMPI_TRANSPORT";
/// Reads RMPI_TRANSPORT; throws rmpi::ConfigError naming a bad value.
Transport transport_from_environment();

class Mesh {
 public:
  Mesh(int rank, std::string secret, std::string node_id, Transport transport, std::vector<Endpoint> table,
       std::unique_ptr<RankListener> listener, std::chrono::seconds connect_timeout);
  ~Mesh();

  /// The descriptor the engine polls for new links: accepted connections,
  /// and the shared-memory bell (a peer linked, or data while we slept).
  int ready_fd() const { return ready_.get(); }
  /// Links of the connections accepted, and of the shared-memory peers that
  /// linked to us, since the last call.
  std::vector<std::pair<int, std::unique_ptr<Link>>> take_accepted(FrameSink& sink);
  /// The link to `peer`, connecting now (blocking, bounded by the connect
  /// timeout). Throws rmpi::ConnectError naming the rank and where it is.
  std::unique_ptr<Link> connect(int peer, FrameSink& sink);
  /// "127.0.0.1:4242" or "local socket on 127.0.0.1".
  std::string where(int peer) const;
  /// Stops the listener (at finish).
  void stop() { listener_->stop(); }
  /// Shared memory for the ranks of this node (set before the engine starts).
  void use_shm(std::unique_ptr<shm::Context> context);
  /// Whether `peer` is reached over shared memory (it then links through it,
  /// ringing this rank's doorbell, never through the listener).
  bool shm_reaches(int peer) const;
  /// This rank's shared-memory doorbell (its futex), or null without one.
  shm::Doorbell* shm_doorbell() const;
  /// Whether a shared-memory peer began a link that take_accepted() has not taken.
  bool shm_has_new() const;
  /// The latest incarnation of `peer` that connected to this rank.
  std::uint32_t incarnation_of(int peer) const { return listener_->incarnation_of(peer); }
  /// Whether `peer` runs on this rank's node (the same node id).
  bool on_this_node(int peer) const {
    return table_[static_cast<std::size_t>(peer)].node_id == node_id_;
  }

 private:
  void watch(int fd);  // adds fd to ready_
  bool local_path(int peer) const;
  std::unique_ptr<Link> make_link(int peer, Fd fd, FrameSink& sink) const;

  int rank_;
  std::string secret_;
  std::string node_id_;
  Transport transport_;
  std::vector<Endpoint> table_;
  std::unique_ptr<RankListener> listener_;
  std::chrono::seconds connect_timeout_;
  std::unique_ptr<shm::Context> shm_;
  Fd ready_;  // an epoll fd: the listener's ready fd and the shm bell
};

}  // namespace rmpi::detail

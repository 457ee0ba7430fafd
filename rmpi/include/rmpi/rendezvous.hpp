#pragma once
/// The rendezvous (PMI-style exchange) through which the ranks of a job learn
/// each other's addresses at `init`: every participant `id` of `count` sends
/// one blob; once all have arrived, each gets the table of all blobs indexed
/// by id. Every connection first proves the job secret (rmpi/auth.hpp); a
/// client that fails it, or sends anything malformed, is dropped while the
/// others are served, and logged (rate-limited, rmpi/listener_guard.hpp).
/// One thread serves every connection (an async accept loop); connections
/// still in their handshake are capped and time out (ListenerLimits).
///
/// Wire protocol (frames of rmpi/wire.hpp): the auth handshake (client =
/// connector), then client → server one `control` frame with source = id,
/// channel = count and the blob as payload; server → client one `control`
/// frame whose payload is the table, a Cereal-encoded
/// `std::vector<std::string>` (rmpi::places::encode), type tag set.
///
/// The server stays up for the job: once the exchange is complete, a
/// participant that arrives again (a restarted rank, rmpirun --restart-every)
/// replaces its blob and gets the table at once; before, its new arrival
/// replaces the old one (whose connection is closed).
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <rmpi/listener_guard.hpp>

namespace rmpi {

/// Largest blob a participant may send (bytes).
inline constexpr std::size_t kMaxRendezvousBlob = 1 << 20;

/// A rendezvous server for one exchange: listens on TCP, serves on its own
/// thread, stops in the destructor. Hosted by rmpirun, rmpi::launch or tests.
class RendezvousServer {
 public:
  /// Listens on `host`:`port` (port 0 = a free port; host "" = all
  /// interfaces) for `count` participants that know `secret`. Throws
  /// rmpi::ConnectError when the port cannot be bound.
  RendezvousServer(const std::string& host, std::uint16_t port, std::string secret,
                   std::uint32_t count,
                   listener::ListenerLimits limits = listener::limits_from_environment());
  /// The same on every address of `hosts`, all on one port (the first free
  /// one at or after `port` on the first address).
  RendezvousServer(const std::vector<std::string>& hosts, std::uint16_t port, std::string secret,
                   std::uint32_t count,
                   listener::ListenerLimits limits = listener::limits_from_environment());
  ~RendezvousServer();
  RendezvousServer(const RendezvousServer&) = delete;
  RendezvousServer& operator=(const RendezvousServer&) = delete;

  /// The port it listens on.
  std::uint16_t port() const;
  /// Waits until every participant has been sent the table, or `timeout`;
  /// returns the ids that never showed up (empty = the exchange completed).
  std::vector<std::uint32_t> wait(std::chrono::milliseconds timeout);
  /// Connections dropped so far (refused past the cap, failed handshake,
  /// malformed or duplicate).
  std::size_t rejected() const;
  /// Connections in their handshake now.
  std::size_t unauthenticated() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
  std::uint16_t port_ = 0;
};

/// The client side: proves `secret` to the server at host:port, sends
/// `blob` as participant `id` of `count`, and returns every participant's
/// blob indexed by id. Connection attempts are retried until `timeout`;
/// throws rmpi::ConnectError naming the server on failure or timeout.
std::vector<std::string> rendezvous_exchange(const std::string& host, std::uint16_t port,
                                             std::string_view secret, std::uint32_t id,
                                             std::uint32_t count, std::string_view blob,
                                             std::chrono::milliseconds timeout);

}  // namespace rmpi

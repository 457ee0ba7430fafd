#pragma once
// Raw-socket clients that misbehave on purpose: garbage bytes, a handshake
// with the wrong job secret. Tests point them at routers, rank listeners and
// the rendezvous, and check the peer drops them while the job goes on.
#include <chrono>
#include <cstddef>
#include <cstdint>

#include <rmpi/wire.hpp>

namespace rmpi::testing {

/// A TCP connection to 127.0.0.1:port, or -1. With `retry_for`, refused
/// attempts are retried every 10 ms for that long (a listener still starting).
int connect_loopback(std::uint16_t port,
                     std::chrono::milliseconds retry_for = std::chrono::milliseconds(0));

/// A loopback TCP port that was free a moment ago (bound, then released).
std::uint16_t free_port();

/// Writes one frame (header + payload) as-is.
void write_frame(int fd, wire::FrameKind kind, const void* payload, std::size_t length);

/// Plays the connector side of the job-secret handshake with a wrong secret.
/// False if the acceptor's challenge never came (it dropped us at once).
bool wrong_secret_handshake(int fd);

/// True when the peer closes the connection within `limit` (what it sent first is read and
/// discarded).
bool closed_by_peer(int fd, std::chrono::milliseconds limit = std::chrono::seconds(15));

}  // namespace rmpi::testing

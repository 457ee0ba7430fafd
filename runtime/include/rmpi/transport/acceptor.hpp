#pragma once
/// The accept policy of every listener of the project (node router,
/// rendezvous, rank mesh), without I/O: admission against the cap of
/// unauthenticated connections, one job-secret handshake per connection
/// with a deadline, optionally the connection's first frame (a hello), and
/// one rate-limited log line per dropped peer naming its address
/// (rmpi/listener_guard.hpp). An event loop (epoll: epoll_accept_loop.hpp,
/// Asio: asio_accept_loop.hpp) accepts sockets, reads exactly want() bytes
/// of each, feeds them, writes the replies, and closes what is dropped;
/// the listener's owner only sees authenticated connections.
/// Not thread-safe: one event loop drives it (the counters are atomic).
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <rmpi/listener_guard.hpp>
#include <rmpi/transport/frame.hpp>
#include <rmpi/transport/handshake.hpp>

namespace rmpi::transport {

struct AcceptorOptions {
  std::string secret;
  listener::ListenerLimits limits;
  /// When set, the frame that follows the handshake is read (within the same
  /// deadline) and handed over with the connection; a bad one drops it.
  std::optional<FrameLimits> first_frame;
};

/// An authenticated connection, as its listener's owner gets it.
struct AcceptedPeer {
  std::string address;              // "127.0.0.1:4242", for messages
  std::optional<Frame> first_frame;  // when AcceptorOptions::first_frame
};

class Acceptor {
 public:
  using Id = std::uint64_t;
  enum class Outcome : std::uint8_t {
    pending,  // read want() more bytes
    ready,    // authenticated (and its first frame read): take() it
    dropped,  // logged and forgotten: close the socket
  };
  struct Progress {
    Outcome outcome = Outcome::pending;
    std::vector<std::byte> reply;  // write to the peer first (the handshake's reply)
  };
  /// Writes each line for a bad peer (rate-limited by BadPeerLog).
  using LogSink = listener::BadPeerLog::Sink;

  Acceptor(AcceptorOptions options, LogSink log);

  /// A connection was just accepted from `address`: its id, or nullopt when
  /// the cap is full (logged; close the socket at once).
  std::optional<Id> admit(std::string address, Clock::time_point now = Clock::now());
  /// Bytes `id` needs next (read at most this many, so that no byte past the
  /// handshake or first frame is taken from the socket).
  std::size_t want(Id id) const;
  /// Bytes read from `id` (at most want()).
  Progress feed(Id id, std::span<const std::byte> bytes);
  /// The connection, once ready; forgets it.
  AcceptedPeer take(Id id);
  /// The peer closed (or a read failed, with `why`): logged, forgotten.
  void closed(Id id, std::string_view why = {});
  /// The loop could not go on with `id` (a write failed): logged, forgotten.
  void drop(Id id, std::string_view why);
  /// A listener failure without a peer (out of descriptors): logged.
  void report(std::string_view address, std::string_view what);
  /// Drops (and logs) every connection past its deadline; close their sockets.
  std::vector<Id> expire(Clock::time_point now = Clock::now());
  /// When expire() or flush_log() has work next (arm a timer for it).
  std::optional<Clock::time_point> next_due() const;
  /// Writes the held-back count of bad peers once its interval is over.
  void flush_log(Clock::time_point now = Clock::now()) { log_.flush(now); }

  /// Peers refused or dropped so far.
  std::size_t rejected() const { return rejected_.load(); }
  /// Connections in their handshake now.
  std::size_t unauthenticated() const { return cap_.in_use(); }
  /// Connections admitted and not yet taken or dropped.
  std::size_t pending() const { return conns_.size(); }
  const listener::ListenerLimits& limits() const { return options_.limits; }

 private:
  struct Conn {
    Conn(const AcceptorOptions& o, std::string addr, Clock::time_point now);
    std::string address;
    Clock::time_point deadline;
    Handshake handshake;
    bool holds_slot = true;  // counted by the cap until authenticated
    std::optional<FrameDecoder> first;  // after the handshake, when a first frame is read
    Frame frame;
    bool ready = false;
  };
  Conn& at(Id id);
  const Conn& at(Id id) const;
  void forget(Id id, std::string_view why);

  AcceptorOptions options_;
  listener::UnauthenticatedCap cap_;
  listener::BadPeerLog log_;
  std::map<Id, Conn> conns_;
  Id next_id_ = 1;
  std::atomic<std::size_t> rejected_{0};
};

}  // namespace rmpi::transport

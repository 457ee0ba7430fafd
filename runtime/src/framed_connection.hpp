#pragma once
// FramedConnection: one stream socket (TCP or Unix) carrying rmpi wire
// frames. It runs the job-secret handshake (rmpi/auth.hpp) first, then an
// async read loop that validates each header before reading its payload and
// hands whole frames to a handler. send() is thread-safe and never blocks:
// frames are queued and written with gather-writes (header + payload, no
// copy). Any failure (peer closed, bad frame, failed or late authentication,
// a handler that throws) closes the connection and calls the close handler
// exactly once with a typed reason (close_reason.hpp) naming the peer.
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <future>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/generic/stream_protocol.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>

#include <rmpi/auth.hpp>
#include <rmpi/transport/frame.hpp>
#include <rmpi/transport/handshake.hpp>
#include <rmpi/wire.hpp>

#include "close_reason.hpp"
#include "protocol.hpp"

namespace rmpi::places::detail {

/// A received frame: its validated header and its payload.
using transport::Frame;

/// Which side of the handshake this end plays.
enum class AuthRole {
  connector,  // sends the first nonce
  acceptor,   // answers it
  trusted,    // no handshake (a private socketpair to our own child)
};

/// Callbacks of a connection, run on the connection's executor (strand).
struct ConnectionHandlers {
  /// After authentication succeeded (at once for trusted connections).
  std::function<void()> on_ready;
  /// Each frame after authentication, in order. A throw closes the connection
  /// with the exception's message as the reason.
  std::function<void(Frame&&)> on_frame;
  /// Exactly once, with the reason, when the connection ends for any cause.
  std::function<void(const CloseReason& reason)> on_close;
};

/// Limits and timeouts of a connection.
struct ConnectionOptions {
  /// Frames whose payload exceeds this are rejected before being read.
  std::uint64_t max_length = wire::kDefaultControlLimit;
  /// A peer that has not completed the handshake by then is dropped.
  std::chrono::milliseconds auth_timeout{10000};
};

/// The socket type: TCP and Unix stream sockets alike.
using StreamSocket = boost::asio::generic::stream_protocol::socket;

class FramedConnection : public std::enable_shared_from_this<FramedConnection> {
 public:
  /// Wraps a connected socket. `peer` names the other end in reasons
  /// ("127.0.0.1:4000", "place hello on fd 7"). Handlers run on `socket`'s
  /// executor through a strand; pass a strand to share it with other objects.
  static std::shared_ptr<FramedConnection> create(StreamSocket socket, std::string peer,
                                                  ConnectionOptions options = {});
  ~FramedConnection();
  FramedConnection(const FramedConnection&) = delete;
  FramedConnection& operator=(const FramedConnection&) = delete;

  /// Starts the handshake (unless trusted) and then the read loop. Call once.
  /// `secret` is the job secret (ignored when trusted).
  void start(AuthRole role, std::string secret, ConnectionHandlers handlers);

  /// Queues one frame (header.length is set from the payload). Thread-safe,
  /// never blocks; frames sent before authentication completes wait for it.
  /// Silently dropped once the connection is closed.
  void send(wire::FrameHeader header, std::vector<std::byte> payload);
  /// Sends a control message (Cereal-encoded ControlMessage in a control frame).
  void send_control(const protocol::ControlMessage& message);
  /// Sends a data frame: `channel` and the encoded message's tag and bytes.
  void send_data(std::uint32_t channel, std::uint64_t type_tag, std::vector<std::byte> payload,
                 std::uint32_t source = 0);

  /// Closes the connection (thread-safe, idempotent); the close handler gets
  /// `reason` of kind `kind` (closed_here: on purpose, no failure).
  void close(std::string reason, CloseKind kind = CloseKind::closed_here);
  /// Closes (closed_here) once every frame queued so far has been written.
  void close_after_flush(std::string reason);

  /// Payload + header bytes queued and not yet written.
  std::size_t queued_bytes() const { return queued_bytes_.load(); }
  /// Runs `fn` (on the connection's executor) once queued_bytes() <= `limit`,
  /// or at close. Used for flow control of producers faster than the socket.
  void when_queue_below(std::size_t limit, std::function<void()> fn);

  bool is_open() const { return !closed_.load(); }
  bool authenticated() const { return authenticated_.load(); }
  const std::string& peer() const { return peer_; }
  /// Local address and port of the socket ("127.0.0.1", 6340), empty for Unix sockets.
  std::pair<std::string, std::uint16_t> local_endpoint() const;
  /// The connection's strand: post here to touch state owned by its handlers.
  const boost::asio::strand<boost::asio::any_io_executor>& strand() const { return strand_; }

 private:
  FramedConnection(StreamSocket socket, std::string peer, ConnectionOptions options);
  struct Outgoing {
    wire::HeaderBytes header;
    std::vector<std::byte> payload;
  };
  void read_next();
  void on_read_failed(const boost::system::error_code& ec);
  void on_frame_read(Frame&& f);
  void handle_auth_frame(Frame&& f);
  void auth_complete();
  void fail(CloseKind kind, std::string reason);
  void start_write();
  void check_waiters();
  void enqueue(wire::FrameHeader header, std::vector<std::byte> payload, bool before_auth);
  void send_handshake_output();

  boost::asio::strand<boost::asio::any_io_executor> strand_;
  StreamSocket socket_;
  std::string peer_;
  ConnectionOptions options_;
  boost::asio::steady_timer auth_timer_;
  ConnectionHandlers handlers_;
  AuthRole role_ = AuthRole::trusted;
  std::string secret_;
  std::optional<transport::Handshake> handshake_;  // strand only, until authenticated

  transport::FrameAssembler in_;  // strand only

  std::mutex mu_;
  std::deque<Outgoing> out_;            // guarded by mu_
  std::deque<Outgoing> held_;           // frames sent before authentication, guarded by mu_
  std::size_t writing_count_ = 0;       // frames of out_ in the current write (strand only)
  std::size_t writing_bytes_ = 0;       // their bytes (strand only)
  bool writing_ = false;                // guarded by mu_
  std::vector<std::pair<std::size_t, std::function<void()>>> waiters_;  // strand only
  std::optional<CloseReason> flush_close_reason_;                        // strand only
  std::atomic<std::size_t> queued_bytes_{0};
  std::atomic<bool> closed_{false};
  std::atomic<bool> authenticated_{false};
};

/// How connect_tcp retries (the reference's socket-connection%: 30 tries, 1 s apart).
struct ConnectOptions {
  int tries = 30;
  std::chrono::milliseconds retry_interval{1000};
  ConnectionOptions connection;
  /// Timeout of the whole handshake once connected.
  std::chrono::milliseconds auth_timeout{10000};
};

/// Connects a TCP socket to host:port (numeric or resolvable), retrying
/// refused/unreachable attempts per `options`. The socket uses `executor`.
/// Throws rmpi::ConnectError naming host:port and the last error.
StreamSocket connect_tcp_socket(const boost::asio::any_io_executor& executor,
                                const std::string& host, std::uint16_t port,
                                const ConnectOptions& options = {});

/// Connects (with retries), authenticates as connector with `secret`, and
/// returns the running connection; blocks until authenticated. `handlers.on_ready`
/// runs before this returns. Frames arriving after authentication go to
/// `handlers.on_frame`. Throws rmpi::ConnectError (refused after all tries,
/// failed authentication: "router 127.0.0.1:6340 failed job-secret
/// authentication"). Must not be called on the connection's executor thread.
std::shared_ptr<FramedConnection> connect_and_authenticate(
    const boost::asio::any_io_executor& executor, const std::string& host, std::uint16_t port,
    const std::string& secret, ConnectionHandlers handlers, const ConnectOptions& options = {});

/// The reference's background connect: connect_and_authenticate on a
/// separate thread; the future holds the connection or the ConnectError.
std::future<std::shared_ptr<FramedConnection>> connect_in_background(
    boost::asio::any_io_executor executor, std::string host, std::uint16_t port,
    std::string secret, ConnectionHandlers handlers, ConnectOptions options = {});

/// Encodes a control message into the payload of a control frame.
std::vector<std::byte> encode_control(const protocol::ControlMessage& message);
/// Decodes a control frame's payload; throws rmpi::ProtocolError naming the problem.
protocol::ControlMessage decode_control(const std::vector<std::byte>& payload);

/// "127.0.0.1:4000" for a connected socket's remote end ("unix socket" for AF_UNIX).
std::string describe_remote(const StreamSocket& socket);

}  // namespace rmpi::places::detail

#pragma once
/// The job-secret handshake (rmpi/auth.hpp) as one state machine, shared by
/// every listener and connector of the project (Asio connections, the
/// rendezvous, rmpi's blocking and epoll sockets). It does no I/O: the caller
/// feeds it the bytes (or whole frames) it read and writes what take_output()
/// returns. It never consumes a byte past the end of the handshake, so the
/// frames that follow stay with the caller.
///   connector → acceptor : auth frame, payload = connector nonce (32 bytes)
///   acceptor → connector : auth frame, payload = acceptor nonce + acceptor proof
///   connector → acceptor : auth frame, payload = connector proof
#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <rmpi/auth.hpp>
#include <rmpi/transport/frame.hpp>
#include <rmpi/wire.hpp>

namespace rmpi::transport {

using Clock = std::chrono::steady_clock;

enum class HandshakeRole : std::uint8_t { connector, acceptor };

/// Why a handshake failed.
enum class HandshakeError : std::uint8_t {
  none,
  bad_frame,         // a header that does not decode (garbage, oversize)
  unexpected_frame,  // a valid frame that is not the step's auth frame
  wrong_secret,      // the peer's proof does not match the job secret
  closed,            // the peer closed before the end
  timed_out,         // not done by the deadline
};

/// Auth payloads are at most nonce + proof.
inline constexpr std::uint64_t kMaxHandshakePayload = sizeof(auth::Nonce) + sizeof(auth::Proof);

class Handshake {
 public:
  enum class State : std::uint8_t { in_progress, done, failed };

  /// A connector has its challenge in take_output() at once. `nonce` is this
  /// side's nonce (fresh by default; tests pass a fixed one).
  Handshake(HandshakeRole role, std::string_view secret, Clock::time_point deadline,
            const auth::Nonce& nonce = auth::make_nonce());

  /// Feeds received bytes; returns how many it consumed (at most want()).
  std::size_t feed(std::span<const std::byte> bytes);
  /// Feeds one frame its caller already read and validated (Asio read loops).
  void on_frame(const wire::FrameHeader& header, std::span<const std::byte> payload);
  /// The peer closed the connection.
  void on_closed();
  /// Fails the handshake if `now` is past its deadline.
  void on_time(Clock::time_point now);

  /// Bytes to write to the peer, in order (whole frames); empties the queue.
  /// A connector that finds a wrong acceptor proof still has its own proof
  /// here, so that the acceptor logs a failed proof rather than a bare
  /// disconnect (it reveals nothing): flush it, then close.
  std::vector<std::byte> take_output();
  bool has_output() const { return !output_.empty(); }

  /// Bytes feed() needs before it can make progress (0 once finished).
  std::size_t want() const { return state_ == State::in_progress ? static_cast<std::size_t>(in_.want()) : 0; }
  State state() const { return state_; }
  bool done() const { return state_ == State::done; }
  bool failed() const { return state_ == State::failed; }
  HandshakeError error() const { return error_; }
  /// What went wrong, without the peer's name (the caller adds it).
  const std::string& reason() const { return reason_; }
  Clock::time_point deadline() const { return deadline_; }
  HandshakeRole role() const { return role_; }

 private:
  enum class Step : std::uint8_t { challenge, reply, answer };
  void fail(HandshakeError error, std::string reason, bool keep_output = false);
  void emit(std::span<const std::byte> payload);

  HandshakeRole role_;
  std::string secret_;
  Clock::time_point deadline_;
  auth::Nonce mine_;
  auth::Nonce theirs_{};
  Step step_;
  State state_ = State::in_progress;
  HandshakeError error_ = HandshakeError::none;
  std::string reason_;
  std::vector<std::byte> output_;
  // The frames read by feed(), and the payload of the current one.
  FrameDecoder in_{FrameLimits(kMaxHandshakePayload, wire::FrameKind::auth)};
  std::array<std::byte, kMaxHandshakePayload> payload_{};
};

}  // namespace rmpi::transport

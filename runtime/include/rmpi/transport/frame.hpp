#pragma once
/// The frame codec (rmpi/wire.hpp frames) of every connection of the
/// project: Asio connections (FramedConnection, the rendezvous), rmpi's
/// blocking sockets and its epoll socket links. It does no I/O:
/// - check_header validates one header and says what is wrong as a type;
/// - FrameDecoder is fed the bytes of a stream and yields headers, payload
///   pieces and frame ends (or a typed error); the caller may also read a
///   payload straight into its own memory and tell the decoder
///   (payload_placed), so large payloads are never copied twice;
/// - FrameAssembler builds whole frames (header + payload vector) on top of
///   it for readers that want them, growing the payload as its bytes arrive;
/// - frame_header encodes a header for a gather write (header + payload, no copy).
#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include <rmpi/wire.hpp>

namespace rmpi::transport {

/// What is wrong with a stream of frames.
enum class FrameError : std::uint8_t {
  none,
  bad_magic,        // not an rmpi peer (garbage)
  bad_version,      // another version of the wire format
  bad_kind,         // a kind this build does not know
  oversize,         // a length over the connection's limit
  unexpected_kind,  // a valid kind the connection does not take now (data before auth)
  truncated,        // the stream ended inside a frame
};

/// What a connection accepts in a header.
struct FrameLimits {
  constexpr explicit FrameLimits(std::uint64_t max = wire::kDefaultControlLimit,
                       std::optional<wire::FrameKind> only = std::nullopt)
      : max_length(max), only_kind(only) {}
  std::uint64_t max_length;
  /// When set, a frame of another kind is FrameError::unexpected_kind.
  std::optional<wire::FrameKind> only_kind;
};

/// A header that was checked: the header, or the error and its reason.
struct CheckedHeader {
  wire::FrameHeader header;
  FrameError error = FrameError::none;
  std::string reason;  // names the problem ("unknown frame kind 42"), without the peer
  explicit operator bool() const { return error == FrameError::none; }
};

/// "auth", "control", "data", "io": for messages.
const char* frame_kind_name(wire::FrameKind kind);

/// Validates a header: magic, version, kind, then the limits.
CheckedHeader check_header(std::span<const std::byte, wire::kHeaderSize> bytes, const FrameLimits& limits);

/// A whole frame: its validated header and its payload.
struct Frame {
  wire::FrameHeader header;
  std::vector<std::byte> payload;
};

/// The header bytes of a frame whose payload is `payload_size` bytes (the
/// header's length is set from it): the first buffer of a gather write.
wire::HeaderBytes frame_header(wire::FrameHeader header, std::size_t payload_size);

/// The incremental decoder. A stream is headers, each followed by its
/// payload; the decoder keeps the bytes of a partial header itself and hands
/// payload bytes on as they come.
class FrameDecoder {
 public:
  enum class Event : std::uint8_t {
    need_bytes,  // every byte given is used; feed more
    header,      // header() is complete and valid; its payload follows
    payload,     // Step::bytes are the payload's bytes at Step::offset
    frame_end,   // the frame begun by the last header is complete
    error,       // error() and reason(); the decoder stays failed
  };
  struct Step {
    Event event = Event::need_bytes;
    std::span<const std::byte> bytes;  // Event::payload only
    std::uint64_t offset = 0;          // of `bytes` in the payload
  };

  explicit FrameDecoder(FrameLimits limits = FrameLimits()) : limits_(limits) {}
  /// Limits for the headers that follow (a connection that authenticated).
  void set_limits(const FrameLimits& limits) { limits_ = limits; }

  /// Takes bytes from the front of `input` up to the next event.
  Step next(std::span<const std::byte>& input);
  /// The caller wrote `n` bytes of the current payload itself (at
  /// payload_done()); next() then says frame_end once it is complete.
  void payload_placed(std::size_t n);
  /// The stream ended: FrameError::truncated (with how far the frame got)
  /// unless it ended between frames.
  FrameError end_of_stream();

  /// Bytes the decoder needs before its next event (the rest of the header
  /// or of the payload; 0 when an event is due without input or it failed).
  std::uint64_t want() const;
  bool in_payload() const { return stage_ == Stage::payload; }
  bool between_frames() const { return stage_ == Stage::header && got_ == 0; }
  std::uint64_t payload_done() const { return done_; }
  std::uint64_t payload_left() const { return in_payload() ? header_.length - done_ : 0; }
  /// The current header; after an unexpected_kind or oversize error, the one refused.
  const wire::FrameHeader& header() const { return header_; }
  bool failed() const { return stage_ == Stage::failed; }
  FrameError error() const { return error_; }
  const std::string& reason() const { return reason_; }

 private:
  enum class Stage : std::uint8_t { header, payload, failed };
  Step fail(FrameError error, std::string reason);

  FrameLimits limits_;
  Stage stage_ = Stage::header;
  wire::HeaderBytes partial_{};
  std::size_t got_ = 0;  // bytes of partial_
  wire::FrameHeader header_{};
  std::uint64_t done_ = 0;  // payload bytes of the current frame
  FrameError error_ = FrameError::none;
  std::string reason_;
};

/// Whole frames from a stream, for readers that read into a buffer they are
/// given (Asio async_read, blocking reads): read into room(), then filled().
/// The payload grows as its bytes arrive (doubling from 1 MiB), so a header
/// that claims a large length costs nothing until the bytes are there.
class FrameAssembler {
 public:
  enum class Status : std::uint8_t { more, frame, error };

  explicit FrameAssembler(FrameLimits limits = FrameLimits()) : decoder_(limits) {}
  void set_limits(const FrameLimits& limits) { decoder_.set_limits(limits); }

  /// Where the next bytes of the stream go (never empty unless failed or a frame waits in take()).
  std::span<std::byte> room();
  /// `n` bytes were written at room(): `frame` once a whole frame is there
  /// (take it before reading on), `error` for a bad header.
  Status filled(std::size_t n);
  /// The complete frame (after Status::frame).
  Frame take();
  /// The stream ended; see FrameDecoder::end_of_stream.
  FrameError end_of_stream() { return decoder_.end_of_stream(); }

  const FrameDecoder& decoder() const { return decoder_; }
  FrameError error() const { return decoder_.error(); }
  const std::string& reason() const { return decoder_.reason(); }

 private:
  FrameDecoder decoder_;
  wire::HeaderBytes header_in_{};
  Frame frame_;
  bool complete_ = false;
};

}  // namespace rmpi::transport

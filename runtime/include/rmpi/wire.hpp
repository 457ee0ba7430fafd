#pragma once
/// The wire frame: a fixed 32-byte little-endian header, then `length`
/// payload bytes. Every frame is validated (magic, version, kind, length
/// limit) before any byte of it is acted on; a bad frame closes that one
/// connection with a logged reason.
#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>

namespace rmpi::wire {

inline constexpr std::uint32_t kMagic = 0x49504d52;  // "RMPI" read as little-endian bytes
inline constexpr std::uint8_t kVersion = 1;
inline constexpr std::size_t kHeaderSize = 32;
/// Default payload limit of control-plane connections (routers, places).
inline constexpr std::uint64_t kDefaultControlLimit = 1ull << 30;
/// Default payload limit of rank-to-rank connections (rmpi data plane).
inline constexpr std::uint64_t kDefaultDataLimit = 1ull << 40;

/// What a frame carries; unknown values are rejected.
enum class FrameKind : std::uint8_t {
  auth = 1,     // challenge-response handshake (rmpi/auth.hpp)
  control = 2,  // a control message of the router protocol (Cereal)
  data = 3,     // a place/rank message for `channel`; payload is Message bytes
  io = 4,       // forwarded stdout/stderr/stdin bytes of a process
};
inline constexpr std::uint8_t kMaxFrameKind = 4;

struct FrameHeader {
  FrameKind kind = FrameKind::data;
  std::uint16_t flags = 0;
  std::uint32_t source = 0;    // sender's id (rank, or 0)
  std::uint32_t channel = 0;   // destination sub-channel id (or tag)
  std::uint64_t type_tag = 0;  // type tag of a data payload
  std::uint64_t length = 0;    // payload bytes that follow
};

using HeaderBytes = std::array<std::byte, kHeaderSize>;

/// Serializes a header (magic and version included).
HeaderBytes encode_header(const FrameHeader& h);

/// Parses and validates a header; throws rmpi::ProtocolError naming the
/// problem (bad magic, wrong version, unknown kind, length over `max_length`).
FrameHeader decode_header(std::span<const std::byte, kHeaderSize> bytes, std::uint64_t max_length);

}  // namespace rmpi::wire

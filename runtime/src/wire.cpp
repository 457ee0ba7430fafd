#include <rmpi/wire.hpp>

#include <rmpi/error.hpp>
#include <rmpi/transport/frame.hpp>

#include "transport/little_endian.hpp"

namespace rmpi::wire {
// Layout: magic u32 | version u8 | kind u8 | flags u16 | source u32 | channel u32 |
//         type_tag u64 | length u64   (all little-endian, 32 bytes;
//         transport/frame.cpp checks and decodes)
HeaderBytes encode_header(const FrameHeader& h) {
  HeaderBytes b{};
  transport::store_le<std::uint32_t>(&b[0], kMagic);
  b[4] = static_cast<std::byte>(kVersion);
  b[5] = static_cast<std::byte>(h.kind);
  transport::store_le<std::uint16_t>(&b[6], h.flags);
  transport::store_le<std::uint32_t>(&b[8], h.source);
  transport::store_le<std::uint32_t>(&b[12], h.channel);
  transport::store_le<std::uint64_t>(&b[16], h.type_tag);
  transport::store_le<std::uint64_t>(&b[24], h.length);
  return b;
}

FrameHeader decode_header(std::span<const std::byte, kHeaderSize> b, std::uint64_t max_length) {
  transport::CheckedHeader checked = transport::check_header(b, transport::FrameLimits(max_length));
  if (!checked) throw ProtocolError(checked.reason);
  return checked.header;
}

}  // namespace rmpi::wire

#include <rmpi/wire.hpp>

#include <rmpi/error.hpp>
#include <rmpi/transport/frame.hpp>

namespace rmpi::wire {
namespace {
template <class U>
void put_le(std::byte* p, U v) {
  for (std::size_t i = 0; i < sizeof(U); ++i) p[i] = static_cast<std::byte>((v >> (8 * i)) & 0xff);
}
}  // namespace

// Layout: magic u32 | version u8 | kind u8 | flags u16 | source u32 | channel u32 |
//         type_tag u64 | length u64   (all little-endian, 32 bytes;
//         transport/frame.cpp checks and decodes)
HeaderBytes encode_header(const FrameHeader& h) {
  HeaderBytes b{};
  put_le<std::uint32_t>(&b[0], kMagic);
  b[4] = static_cast<std::byte>(kVersion);
  b[5] = static_cast<std::byte>(h.kind);
  put_le<std::uint16_t>(&b[6], h.flags);
  put_le<std::uint32_t>(&b[8], h.source);
  put_le<std::uint32_t>(&b[12], h.channel);
  put_le<std::uint64_t>(&b[16], h.type_tag);
  put_le<std::uint64_t>(&b[24], h.length);
  return b;
}

FrameHeader decode_header(std::span<const std::byte, kHeaderSize> b, std::uint64_t max_length) {
  transport::CheckedHeader checked = transport::check_header(b, transport::FrameLimits(max_length));
  if (!checked) throw ProtocolError(checked.reason);
  return checked.header;
}

}  // namespace rmpi::wire

#include <rmpi/wire.hpp>

#include <rmpi/error.hpp>

namespace rmpi::wire {
namespace {
template <class U>
void put_le(std::byte* p, U v) {
  for (std::size_t i = 0; i < sizeof(U); ++i) p[i] = static_cast<std::byte>((v >> (8 * i)) & 0xff);
}
template <class U>
U get_le(const std::byte* p) {
  U v = 0;
  for (std::size_t i = 0; i < sizeof(U); ++i) v |= static_cast<U>(std::to_integer<U>(p[i])) << (8 * i);
  return v;
}
}  // namespace

// Layout: magic u32 | version u8 | kind u8 | flags u16 | source u32 | channel u32 |
//         type_tag u64 | length u64   (all little-endian, 32 bytes)
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
  if (const auto magic = get_le<std::uint32_t>(&b[0]); magic != kMagic)
    throw ProtocolError("bad frame magic (not an rmpi peer)");
  if (const auto version = std::to_integer<unsigned>(b[4]); version != kVersion)
    throw ProtocolError("wrong frame version " + std::to_string(version) + " (this build speaks " +
                        std::to_string(kVersion) + ")");
  const auto kind = std::to_integer<std::uint8_t>(b[5]);
  if (kind == 0 || kind > kMaxFrameKind)
    throw ProtocolError("unknown frame kind " + std::to_string(kind));
  FrameHeader h;
  h.kind = static_cast<FrameKind>(kind);
  h.flags = get_le<std::uint16_t>(&b[6]);
  h.source = get_le<std::uint32_t>(&b[8]);
  h.channel = get_le<std::uint32_t>(&b[12]);
  h.type_tag = get_le<std::uint64_t>(&b[16]);
  h.length = get_le<std::uint64_t>(&b[24]);
  if (h.length > max_length)
    throw ProtocolError("frame length " + std::to_string(h.length) + " over the limit of " +
                        std::to_string(max_length) + " bytes");
  return h;
}

}  // namespace rmpi::wire

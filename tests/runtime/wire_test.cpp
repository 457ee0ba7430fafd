#include <rmpi/wire.hpp>

#include <doctest/doctest.h>

#include <rmpi/error.hpp>

using namespace rmpi::wire;

namespace {
FrameHeader sample() {
  FrameHeader h;
  h.kind = FrameKind::data;
  h.flags = 0x1234;
  h.source = 7;
  h.channel = 0xdeadbeef;
  h.type_tag = 0x0123456789abcdefull;
  h.length = 5ull << 32;  // 64-bit lengths
  return h;
}
FrameHeader decode(const HeaderBytes& b, std::uint64_t max = ~0ull) {
  return decode_header(std::span<const std::byte, kHeaderSize>(b), max);
}
}  // namespace

TEST_CASE("header round trip, every field, little-endian") {
  const auto b = encode_header(sample());
  CHECK(b[0] == std::byte{'R'});
  CHECK(b[3] == std::byte{'I'});
  const FrameHeader h = decode(b);
  CHECK(h.kind == FrameKind::data);
  CHECK(h.flags == 0x1234);
  CHECK(h.source == 7);
  CHECK(h.channel == 0xdeadbeef);
  CHECK(h.type_tag == 0x0123456789abcdefull);
  CHECK(h.length == 5ull << 32);
}

TEST_CASE("each bad header is rejected with its reason") {
  auto b = encode_header(sample());
  SUBCASE("bad magic") {
    b[0] = std::byte{'X'};
    CHECK_THROWS_WITH_AS(decode(b), doctest::Contains("magic"), rmpi::ProtocolError);
  }
  SUBCASE("wrong version") {
    b[4] = std::byte{7};
    CHECK_THROWS_WITH_AS(decode(b), doctest::Contains("wrong frame version 7"), rmpi::ProtocolError);
  }
  SUBCASE("unknown kind") {
    b[5] = std::byte{0};
    CHECK_THROWS_WITH_AS(decode(b), doctest::Contains("unknown frame kind 0"), rmpi::ProtocolError);
    b[5] = std::byte{kMaxFrameKind + 1};
    CHECK_THROWS_AS(decode(b), rmpi::ProtocolError);
  }
  SUBCASE("oversized") {
    CHECK_THROWS_WITH_AS(decode(b, 1024), doctest::Contains("over the limit of 1024"),
                         rmpi::ProtocolError);
  }
}

TEST_CASE("the header is 32 bytes") { CHECK(kHeaderSize == encode_header({}).size()); }

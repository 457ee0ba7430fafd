// The frame codec (rmpi/transport/frame.hpp) without I/O: a stream of frames
// split at every byte, zero-length payloads, payloads placed by the caller,
// and every typed error (garbage, oversize, unexpected kind, truncated).
#include <rmpi/transport/frame.hpp>

#include <doctest/doctest.h>

#include <cstring>
#include <algorithm>
#include <vector>

using namespace rmpi;
using namespace rmpi::transport;

namespace {

std::vector<std::byte> frame_bytes(wire::FrameHeader h, std::size_t payload_size, int seed = 1) {
  const auto hb = frame_header(h, payload_size);
  std::vector<std::byte> out(hb.begin(), hb.end());
  for (std::size_t i = 0; i < payload_size; ++i) out.push_back(static_cast<std::byte>((i * 7 + seed) & 0xff));
  return out;
}

// What a decoder handed on, frame by frame.
struct Collected {
  std::vector<Frame> frames;
  std::size_t headers = 0;
  FrameError error = FrameError::none;
  std::string reason;
};

// Feeds `stream` in pieces of at most `piece` bytes, collecting whole frames.
Collected decode(std::span<const std::byte> stream, std::size_t piece, FrameLimits limits = FrameLimits()) {
  FrameDecoder d(limits);
  Collected c;
  Frame cur;
  for (std::size_t at = 0; at < stream.size() && !d.failed(); at += piece) {
    std::span<const std::byte> in = stream.subspan(at, std::min(piece, stream.size() - at));
    for (int guard = 0; guard < 1000000; ++guard) {
      const auto step = d.next(in);
      if (step.event == FrameDecoder::Event::need_bytes) {
        REQUIRE(in.empty());
        break;
      }
      if (step.event == FrameDecoder::Event::error) {
        c.error = d.error();
        c.reason = d.reason();
        break;
      }
      if (step.event == FrameDecoder::Event::header) {
        ++c.headers;
        cur = Frame{d.header(), {}};
      } else if (step.event == FrameDecoder::Event::payload) {
        REQUIRE(step.offset == cur.payload.size());
        cur.payload.insert(cur.payload.end(), step.bytes.begin(), step.bytes.end());
      } else {
        c.frames.push_back(std::move(cur));
      }
    }
  }
  return c;
}

}  // namespace

TEST_CASE("a stream of frames decodes the same split at every byte") {
  std::vector<std::byte> stream;
  std::vector<std::pair<wire::FrameHeader, std::size_t>> sent = {
      {{.kind = wire::FrameKind::data, .source = 3, .channel = 9, .type_tag = 77}, 100},
      {{.kind = wire::FrameKind::control, .flags = 5}, 0},  // zero-length
      {{.kind = wire::FrameKind::io, .channel = 1}, 1},
      {{.kind = wire::FrameKind::auth}, 0},
      {{.kind = wire::FrameKind::data, .type_tag = ~std::uint64_t{0}}, 33},
  };
  for (std::size_t i = 0; i < sent.size(); ++i) {
    const auto f = frame_bytes(sent[i].first, sent[i].second, static_cast<int>(i));
    stream.insert(stream.end(), f.begin(), f.end());
  }
  for (std::size_t piece = 1; piece <= stream.size(); ++piece) {
    CAPTURE(piece);
    const Collected c = decode(stream, piece);
    REQUIRE(c.error == FrameError::none);
    REQUIRE(c.frames.size() == sent.size());
    CHECK(c.headers == sent.size());
    for (std::size_t i = 0; i < sent.size(); ++i) {
      const auto want = frame_bytes(sent[i].first, sent[i].second, static_cast<int>(i));
      CHECK(c.frames[i].header.kind == sent[i].first.kind);
      CHECK(c.frames[i].header.flags == sent[i].first.flags);
      CHECK(c.frames[i].header.source == sent[i].first.source);
      CHECK(c.frames[i].header.channel == sent[i].first.channel);
      CHECK(c.frames[i].header.type_tag == sent[i].first.type_tag);
      CHECK(c.frames[i].header.length == sent[i].second);
      CHECK(std::equal(c.frames[i].payload.begin(), c.frames[i].payload.end(), want.begin() + wire::kHeaderSize,
                       want.end()));
    }
  }
}

TEST_CASE("every split point of one frame: the decoder never takes a byte past the frame") {
  const auto one = frame_bytes({.kind = wire::FrameKind::data}, 5);
  auto two = one;
  two.insert(two.end(), one.begin(), one.end());
  for (std::size_t cut = 0; cut < one.size(); ++cut) {
    CAPTURE(cut);
    FrameDecoder d;
    std::span<const std::byte> first(two.data(), cut);
    std::size_t frames = 0;
    for (;;) {
      const auto step = d.next(first);
      if (step.event == FrameDecoder::Event::need_bytes) break;
      if (step.event == FrameDecoder::Event::frame_end) ++frames;
    }
    CHECK(frames == 0);
    CHECK(d.want() == (cut < wire::kHeaderSize ? wire::kHeaderSize - cut : one.size() - cut));
    // The rest of the frame and one byte of the next: exactly the frame is taken.
    std::span<const std::byte> rest(two.data() + cut, one.size() - cut + 1);
    while (frames == 0) {
      const auto step = d.next(rest);
      REQUIRE(step.event != FrameDecoder::Event::error);
      REQUIRE(step.event != FrameDecoder::Event::need_bytes);
      if (step.event == FrameDecoder::Event::frame_end) ++frames;
    }
    CHECK(rest.size() == 1);
    CHECK(d.between_frames());
  }
}

TEST_CASE("garbage, a wrong version, an unknown kind: typed errors, and the decoder stays failed") {
  SUBCASE("garbage") {
    const std::string junk = "GET / HTTP/1.1\r\nHost: example\r\n\r\n";
    const Collected c = decode(std::as_bytes(std::span(junk)), 1);
    CHECK(c.error == FrameError::bad_magic);
    CHECK(c.reason.find("bad frame magic") != std::string::npos);
    CHECK(c.frames.empty());
  }
  SUBCASE("wrong version") {
    auto f = frame_bytes({}, 0);
    f[4] = std::byte{7};
    const Collected c = decode(f, f.size());
    CHECK(c.error == FrameError::bad_version);
    CHECK(c.reason == "wrong frame version 7 (this build speaks 1)");
  }
  SUBCASE("unknown kind, 0 and past the last") {
    for (const int kind : {0, wire::kMaxFrameKind + 1, 255}) {
      auto f = frame_bytes({}, 0);
      f[5] = static_cast<std::byte>(kind);
      const Collected c = decode(f, 3);
      CHECK(c.error == FrameError::bad_kind);
      CHECK(c.reason == "unknown frame kind " + std::to_string(kind));
    }
  }
  SUBCASE("failed stays failed") {
    auto f = frame_bytes({}, 0);
    f[0] = std::byte{0};
    FrameDecoder d;
    std::span<const std::byte> in(f);
    CHECK(d.next(in).event == FrameDecoder::Event::error);
    const auto good = frame_bytes({}, 0);
    std::span<const std::byte> again(good);
    CHECK(d.next(again).event == FrameDecoder::Event::error);
    CHECK(d.failed());
    CHECK(d.want() == 0);
    CHECK(d.end_of_stream() == FrameError::bad_magic);
  }
}

TEST_CASE("oversize: refused at the header, before any payload byte, at the limit exactly") {
  const auto at_limit = frame_bytes({.kind = wire::FrameKind::data}, 64);
  CHECK(decode(at_limit, 7, FrameLimits(64)).frames.size() == 1);
  const auto over = frame_bytes({.kind = wire::FrameKind::data}, 65);
  FrameDecoder d(FrameLimits(64));
  std::span<const std::byte> in(over);
  CHECK(d.next(in).event == FrameDecoder::Event::error);
  CHECK(d.error() == FrameError::oversize);
  CHECK(d.reason() == "frame length 65 over the limit of 64 bytes");
  CHECK(in.size() == 65);  // no payload byte taken
  CHECK(d.header().length == 65);
  // A claimed length of 2^64-1 under the default limit.
  const auto huge = frame_header({.kind = wire::FrameKind::data}, 0);
  auto bytes = std::vector<std::byte>(huge.begin(), huge.end());
  std::memset(bytes.data() + 24, 0xff, 8);
  CHECK(decode(bytes, 1).error == FrameError::oversize);
}

TEST_CASE("unexpected kind: a connection that takes only auth frames refuses the others by kind") {
  const FrameLimits auth_only(64, wire::FrameKind::auth);
  CHECK(decode(frame_bytes({.kind = wire::FrameKind::auth}, 32), 5, auth_only).frames.size() == 1);
  const Collected c = decode(frame_bytes({.kind = wire::FrameKind::control}, 1000), 5, auth_only);
  CHECK(c.error == FrameError::unexpected_kind);
  CHECK(c.reason == "a control frame where only auth frames are accepted");
  // After authentication the connection's limits change for the next header.
  FrameDecoder d(auth_only);
  const auto ctl = frame_bytes({.kind = wire::FrameKind::control}, 3);
  d.set_limits(FrameLimits(1 << 20));
  std::span<const std::byte> in(ctl);
  CHECK(d.next(in).event == FrameDecoder::Event::header);
}

TEST_CASE("truncated: the end of the stream inside a header or a payload, and a clean end") {
  const auto f = frame_bytes({.kind = wire::FrameKind::data}, 100);
  for (const std::size_t cut : {std::size_t{0}, std::size_t{12}, wire::kHeaderSize, wire::kHeaderSize + 3, f.size()}) {
    CAPTURE(cut);
    FrameDecoder d;
    std::span<const std::byte> in(f.data(), cut);
    while (d.next(in).event != FrameDecoder::Event::need_bytes) {
    }
    const FrameError e = d.end_of_stream();
    if (cut == 0 || cut == f.size()) {
      CHECK(e == FrameError::none);
    } else {
      CHECK(e == FrameError::truncated);
      if (cut == 12) CHECK(d.reason() == "connection closed after 12 of 32 header bytes");
      if (cut == wire::kHeaderSize + 3) CHECK(d.reason() == "connection closed after 3 of 100 payload bytes");
    }
  }
}

TEST_CASE("payload_placed: the caller reads a payload into its own memory") {
  const auto f = frame_bytes({.kind = wire::FrameKind::data}, 1000);
  FrameDecoder d;
  std::span<const std::byte> head(f.data(), wire::kHeaderSize + 10);
  CHECK(d.next(head).event == FrameDecoder::Event::header);
  CHECK(d.next(head).event == FrameDecoder::Event::payload);
  CHECK(d.payload_done() == 10);
  d.payload_placed(500);
  CHECK(d.payload_left() == 490);
  std::span<const std::byte> none;
  CHECK(d.next(none).event == FrameDecoder::Event::need_bytes);
  d.payload_placed(490);
  CHECK(d.next(none).event == FrameDecoder::Event::frame_end);
  CHECK(d.between_frames());
}

TEST_CASE("FrameAssembler: whole frames, reading only into room(), growing a large payload") {
  std::vector<std::byte> stream;
  for (const std::size_t n : {std::size_t{0}, std::size_t{1}, std::size_t{3u << 20}}) {
    const auto f = frame_bytes({.kind = wire::FrameKind::data, .channel = static_cast<std::uint32_t>(n)}, n);
    stream.insert(stream.end(), f.begin(), f.end());
  }
  FrameAssembler a(FrameLimits(4u << 20));
  std::vector<Frame> got;
  std::size_t at = 0;
  std::size_t max_room = 0;
  while (at < stream.size()) {
    const auto room = a.room();
    REQUIRE_FALSE(room.empty());
    max_room = std::max(max_room, room.size());
    const std::size_t n = std::min<std::size_t>({room.size(), stream.size() - at, std::size_t{4096}});
    std::memcpy(room.data(), stream.data() + at, n);
    at += n;
    const auto status = a.filled(n);
    REQUIRE(status != FrameAssembler::Status::error);
    if (status == FrameAssembler::Status::frame) got.push_back(a.take());
  }
  REQUIRE(got.size() == 3);
  CHECK(got[0].payload.empty());
  CHECK(got[1].payload.size() == 1);
  CHECK(got[2].payload.size() == (3u << 20));
  CHECK(got[2].header.channel == (3u << 20));
  CHECK(std::equal(got[2].payload.begin(), got[2].payload.end(), stream.end() - (3 << 20)));
  // The first part of a payload is at most 1 MiB: a claimed length costs nothing up front.
  CHECK(max_room <= (1u << 20));
  CHECK(a.end_of_stream() == FrameError::none);

  FrameAssembler bad(FrameLimits(10));
  const auto big = frame_bytes({.kind = wire::FrameKind::data}, 11);
  const auto room = bad.room();
  REQUIRE(room.size() == wire::kHeaderSize);
  std::memcpy(room.data(), big.data(), room.size());
  CHECK(bad.filled(room.size()) == FrameAssembler::Status::error);
  CHECK(bad.error() == FrameError::oversize);
  CHECK(bad.room().empty());
}

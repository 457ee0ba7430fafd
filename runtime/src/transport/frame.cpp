#include <rmpi/transport/frame.hpp>

#include <algorithm>
#include <cstring>
#include <utility>

#include "little_endian.hpp"

namespace rmpi::transport {
namespace {

constexpr std::size_t kFirstPayloadPart = 1u << 20;

}  // namespace

const char* frame_kind_name(wire::FrameKind k) {
  switch (k) {
    case wire::FrameKind::auth: return "auth";
    case wire::FrameKind::control: return "control";
    case wire::FrameKind::data: return "data";
    case wire::FrameKind::io: return "io";
  }
  return "unknown";
}

// Layout: magic u32 | version u8 | kind u8 | flags u16 | source u32 | channel u32 |
//         type_tag u64 | length u64   (all little-endian, 32 bytes; wire.cpp encodes)
CheckedHeader check_header(std::span<const std::byte, wire::kHeaderSize> b, const FrameLimits& limits) {
  CheckedHeader out;
  const auto fail = [&out](FrameError e, std::string reason) {
    out.error = e;
    out.reason = std::move(reason);
    return out;
  };
  if (load_le<std::uint32_t>(&b[0]) != wire::kMagic)
    return fail(FrameError::bad_magic, "bad frame magic (not an rmpi peer)");
  if (const auto version = std::to_integer<unsigned>(b[4]); version != wire::kVersion)
    return fail(FrameError::bad_version, "wrong frame version " + std::to_string(version) +
                                             " (this build speaks " + std::to_string(wire::kVersion) + ")");
  const auto kind = std::to_integer<std::uint8_t>(b[5]);
  if (kind == 0 || kind > wire::kMaxFrameKind)
    return fail(FrameError::bad_kind, "unknown frame kind " + std::to_string(kind));
  wire::FrameHeader& h = out.header;
  h.kind = static_cast<wire::FrameKind>(kind);
  h.flags = load_le<std::uint16_t>(&b[6]);
  h.source = load_le<std::uint32_t>(&b[8]);
  h.channel = load_le<std::uint32_t>(&b[12]);
  h.type_tag = load_le<std::uint64_t>(&b[16]);
  h.length = load_le<std::uint64_t>(&b[24]);
  if (limits.only_kind && h.kind != *limits.only_kind)
    return fail(FrameError::unexpected_kind, std::string("a ") + frame_kind_name(h.kind) + " frame where only " +
                                                 frame_kind_name(*limits.only_kind) + " frames are accepted");
  if (h.length > limits.max_length)
    return fail(FrameError::oversize, "frame length " + std::to_string(h.length) + " over the limit of " +
                                          std::to_string(limits.max_length) + " bytes");
  return out;
}

wire::HeaderBytes frame_header(wire::FrameHeader header, std::size_t payload_size) {
  header.length = payload_size;
  return wire::encode_header(header);
}

// ------------------------------------------------------------------ decoder

FrameDecoder::Step FrameDecoder::fail(FrameError error, std::string reason) {
  stage_ = Stage::failed;
  error_ = error;
  reason_ = std::move(reason);
  return {Event::error};
}

FrameDecoder::Step FrameDecoder::next(std::span<const std::byte>& input) {
  switch (stage_) {
    case Stage::failed:
      return {Event::error};
    case Stage::header: {
      const std::byte* bytes = nullptr;
      if (got_ == 0 && input.size() >= wire::kHeaderSize) {
        bytes = input.data();  // a whole header in the input: no copy
        input = input.subspan(wire::kHeaderSize);
      } else {
        const std::size_t n = std::min(wire::kHeaderSize - got_, input.size());
        std::memcpy(partial_.data() + got_, input.data(), n);
        got_ += n;
        input = input.subspan(n);
        if (got_ < wire::kHeaderSize) return {Event::need_bytes};
        got_ = 0;
        bytes = partial_.data();
      }
      CheckedHeader checked = check_header(std::span<const std::byte, wire::kHeaderSize>(bytes, wire::kHeaderSize), limits_);
      header_ = checked.header;  // decoded even when over a limit, for the caller's message
      if (!checked) return fail(checked.error, std::move(checked.reason));
      done_ = 0;
      stage_ = Stage::payload;
      return {Event::header};
    }
    case Stage::payload: {
      if (done_ == header_.length) {
        stage_ = Stage::header;
        return {Event::frame_end};
      }
      if (input.empty()) return {Event::need_bytes};
      const auto n = static_cast<std::size_t>(std::min<std::uint64_t>(header_.length - done_, input.size()));
      Step step{Event::payload, input.first(n), done_};
      done_ += n;
      input = input.subspan(n);
      return step;
    }
  }
  return {Event::error};
}

void FrameDecoder::payload_placed(std::size_t n) {
  if (stage_ == Stage::payload) done_ = std::min<std::uint64_t>(header_.length, done_ + n);
}

FrameError FrameDecoder::end_of_stream() {
  switch (stage_) {
    case Stage::failed:
      return error_;
    case Stage::header:
      if (got_ == 0) return FrameError::none;
      fail(FrameError::truncated, "connection closed after " + std::to_string(got_) + " of " +
                                      std::to_string(wire::kHeaderSize) + " header bytes");
      return error_;
    case Stage::payload:
      if (done_ == header_.length) return FrameError::none;
      fail(FrameError::truncated, "connection closed after " + std::to_string(done_) + " of " +
                                      std::to_string(header_.length) + " payload bytes");
      return error_;
  }
  return error_;
}

std::uint64_t FrameDecoder::want() const {
  switch (stage_) {
    case Stage::header: return wire::kHeaderSize - got_;
    case Stage::payload: return header_.length - done_;
    case Stage::failed: return 0;
  }
  return 0;
}

// ---------------------------------------------------------------- assembler

std::span<std::byte> FrameAssembler::room() {
  if (complete_ || decoder_.failed()) return {};
  if (!decoder_.in_payload())
    return std::span<std::byte>(header_in_.data(), static_cast<std::size_t>(decoder_.want()));
  const std::size_t have = frame_.payload.size();
  const auto want = static_cast<std::size_t>(
      std::min<std::uint64_t>(frame_.header.length, std::max(kFirstPayloadPart, 2 * have)));
  const auto at = static_cast<std::size_t>(decoder_.payload_done());
  if (at == have) frame_.payload.resize(want);
  return std::span<std::byte>(frame_.payload).subspan(at);
}

FrameAssembler::Status FrameAssembler::filled(std::size_t n) {
  if (decoder_.in_payload()) {
    decoder_.payload_placed(n);
  } else {
    std::span<const std::byte> input(header_in_.data(), n);
    const auto step = decoder_.next(input);
    if (step.event == FrameDecoder::Event::error) return Status::error;
    if (step.event == FrameDecoder::Event::need_bytes) return Status::more;
    frame_.header = decoder_.header();
    frame_.payload.clear();
  }
  std::span<const std::byte> none;
  if (decoder_.next(none).event != FrameDecoder::Event::frame_end) return Status::more;
  complete_ = true;
  return Status::frame;
}

Frame FrameAssembler::take() {
  complete_ = false;
  Frame out = std::move(frame_);
  frame_ = Frame{};
  return out;
}

}  // namespace rmpi::transport

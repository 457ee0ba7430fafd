#include <rmpi/transport/handshake.hpp>

#include <algorithm>
#include <cstring>
#include <utility>


namespace rmpi::transport {
namespace {
template <std::size_t N>
std::array<std::byte, N> take(std::span<const std::byte> bytes, std::size_t at) {
  std::array<std::byte, N> out{};
  std::copy_n(bytes.begin() + static_cast<std::ptrdiff_t>(at), N, out.begin());
  return out;
}
std::string not_auth(wire::FrameKind kind) {
  return std::string("sent a ") + frame_kind_name(kind) + " frame before authenticating";
}
}  // namespace

Handshake::Handshake(HandshakeRole role, std::string_view secret, Clock::time_point deadline,
                     const auth::Nonce& nonce)
    : role_(role), secret_(secret), deadline_(deadline), mine_(nonce),
      step_(role == HandshakeRole::connector ? Step::reply : Step::challenge) {
  if (role_ == HandshakeRole::connector) emit(mine_);
}

void Handshake::fail(HandshakeError error, std::string reason, bool keep_output) {
  if (state_ != State::in_progress) return;
  state_ = State::failed;
  error_ = error;
  reason_ = std::move(reason);
  if (!keep_output) output_.clear();
}

void Handshake::emit(std::span<const std::byte> payload) {
  const auto h = frame_header({.kind = wire::FrameKind::auth}, payload.size());
  output_.insert(output_.end(), h.begin(), h.end());
  output_.insert(output_.end(), payload.begin(), payload.end());
}

std::vector<std::byte> Handshake::take_output() { return std::exchange(output_, {}); }

// The decoder takes bytes up to the end of the current header or payload
// only, so nothing past the handshake's last frame is consumed.
std::size_t Handshake::feed(std::span<const std::byte> bytes) {
  const std::size_t given = bytes.size();
  while (state_ == State::in_progress) {
    const FrameDecoder::Step step = in_.next(bytes);
    switch (step.event) {
      case FrameDecoder::Event::need_bytes:
        return given - bytes.size();
      case FrameDecoder::Event::header:
        break;
      case FrameDecoder::Event::payload:
        std::memcpy(payload_.data() + step.offset, step.bytes.data(), step.bytes.size());
        break;
      case FrameDecoder::Event::frame_end:
        on_frame(in_.header(), std::span<const std::byte>(payload_.data(), in_.header().length));
        break;
      case FrameDecoder::Event::error:
        if (in_.error() == FrameError::unexpected_kind)
          fail(HandshakeError::unexpected_frame, not_auth(in_.header().kind));
        else
          fail(HandshakeError::bad_frame, in_.reason());
        break;
    }
  }
  return given - bytes.size();
}

void Handshake::on_frame(const wire::FrameHeader& h, std::span<const std::byte> payload) {
  if (state_ != State::in_progress) return;
  const bool is_auth = h.kind == wire::FrameKind::auth;
  switch (step_) {
    case Step::challenge: {  // acceptor: the connector's nonce
      if (!is_auth) return fail(HandshakeError::unexpected_frame, not_auth(h.kind));
      if (payload.size() != sizeof(auth::Nonce))
        return fail(HandshakeError::unexpected_frame, "the first frame is not a job-secret challenge");
      theirs_ = take<sizeof(auth::Nonce)>(payload, 0);
      std::array<std::byte, kMaxHandshakePayload> reply{};
      const auth::Proof proof = auth::acceptor_proof(secret_, theirs_, mine_);
      std::copy(mine_.begin(), mine_.end(), reply.begin());
      std::copy(proof.begin(), proof.end(), reply.begin() + sizeof(auth::Nonce));
      emit(reply);
      step_ = Step::answer;
      return;
    }
    case Step::reply: {  // connector: the acceptor's nonce and proof
      if (!is_auth || payload.size() != kMaxHandshakePayload)
        return fail(HandshakeError::unexpected_frame, "the peer did not answer the job-secret handshake");
      theirs_ = take<sizeof(auth::Nonce)>(payload, 0);
      emit(auth::connector_proof(secret_, mine_, theirs_));
      if (!auth::proofs_equal(take<sizeof(auth::Proof)>(payload, sizeof(auth::Nonce)),
                              auth::acceptor_proof(secret_, mine_, theirs_)))
        return fail(HandshakeError::wrong_secret, "the peer does not know the job secret", true);
      state_ = State::done;
      return;
    }
    case Step::answer: {  // acceptor: the connector's proof
      if (!is_auth || payload.size() != sizeof(auth::Proof))
        return fail(HandshakeError::unexpected_frame, "the handshake's answer is not an auth frame of 32 bytes");
      if (!auth::proofs_equal(take<sizeof(auth::Proof)>(payload, 0), auth::connector_proof(secret_, theirs_, mine_)))
        return fail(HandshakeError::wrong_secret, "the peer does not know the job secret (wrong proof)");
      state_ = State::done;
      return;
    }
  }
}

void Handshake::on_closed() { fail(HandshakeError::closed, "closed the connection during the job-secret handshake"); }

void Handshake::on_time(Clock::time_point now) {
  if (now >= deadline_) fail(HandshakeError::timed_out, "did not finish the job-secret handshake in time");
}

}  // namespace rmpi::transport

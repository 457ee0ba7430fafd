#include <rmpi/transport/acceptor.hpp>

#include <algorithm>
#include <cstring>
#include <utility>

#include <rmpi/error.hpp>

namespace rmpi::transport {

Acceptor::Conn::Conn(const AcceptorOptions& o, std::string addr, Clock::time_point now)
    : address(std::move(addr)),
      deadline(now + o.limits.handshake_timeout),
      handshake(HandshakeRole::acceptor, o.secret, deadline) {}

Acceptor::Acceptor(AcceptorOptions options, LogSink log)
    : options_(std::move(options)), cap_(options_.limits.max_unauthenticated), log_(std::move(log)) {}

Acceptor::Conn& Acceptor::at(Id id) {
  const auto it = conns_.find(id);
  if (it == conns_.end()) throw Error("rmpi: no pending connection " + std::to_string(id));
  return it->second;
}

const Acceptor::Conn& Acceptor::at(Id id) const { return const_cast<Acceptor*>(this)->at(id); }

void Acceptor::report(std::string_view address, std::string_view what) {
  ++rejected_;  // counted before the caller closes, so a peer that sees the close sees the count
  log_.report(address, what);
}

std::optional<Acceptor::Id> Acceptor::admit(std::string address, Clock::time_point now) {
  if (!cap_.try_admit()) {
    report(address, "refused a connection: " + std::to_string(cap_.max()) +
                        " connections are already in their handshake (" + listener::kMaxUnauthenticatedEnv + ")");
    return std::nullopt;
  }
  const Id id = next_id_++;
  conns_.try_emplace(id, options_, std::move(address), now);
  return id;
}

std::size_t Acceptor::want(Id id) const {
  const Conn& c = at(id);
  if (c.ready) return 0;
  if (c.first) return static_cast<std::size_t>(c.first->want());
  return c.handshake.want();
}

void Acceptor::forget(Id id, std::string_view why) {
  const auto it = conns_.find(id);
  if (it == conns_.end()) return;
  if (it->second.holds_slot) cap_.release();
  report(it->second.address, "dropped a connection: " + std::string(why));
  conns_.erase(it);
}

Acceptor::Progress Acceptor::feed(Id id, std::span<const std::byte> bytes) {
  Conn& c = at(id);
  Progress p;
  if (!c.first) {
    const std::size_t used = c.handshake.feed(bytes);
    bytes = bytes.subspan(used);
    if (c.handshake.has_output()) p.reply = c.handshake.take_output();
    if (c.handshake.failed()) {
      forget(id, c.handshake.error() == HandshakeError::wrong_secret
                     ? "failed job-secret authentication: " + c.handshake.reason()
                     : c.handshake.reason());
      p.outcome = Outcome::dropped;
      return p;
    }
    if (!c.handshake.done()) return p;
    c.holds_slot = false;
    cap_.release();
    if (!options_.first_frame) {
      c.ready = true;
      p.outcome = Outcome::ready;
      return p;
    }
    c.first.emplace(*options_.first_frame);
  }
  for (;;) {
    const FrameDecoder::Step step = c.first->next(bytes);
    switch (step.event) {
      case FrameDecoder::Event::need_bytes:
        return p;
      case FrameDecoder::Event::header:
        c.frame.header = c.first->header();
        c.frame.payload.resize(static_cast<std::size_t>(c.frame.header.length));  // within first_frame's limit
        break;
      case FrameDecoder::Event::payload:
        std::memcpy(c.frame.payload.data() + step.offset, step.bytes.data(), step.bytes.size());
        break;
      case FrameDecoder::Event::frame_end:
        c.ready = true;
        p.outcome = Outcome::ready;
        return p;
      case FrameDecoder::Event::error:
        forget(id, "bad first frame after the handshake: " + c.first->reason());
        p.outcome = Outcome::dropped;
        return p;
    }
  }
}

AcceptedPeer Acceptor::take(Id id) {
  Conn& c = at(id);
  AcceptedPeer out{std::move(c.address), std::nullopt};
  if (c.first) out.first_frame = std::move(c.frame);
  conns_.erase(id);
  return out;
}

void Acceptor::closed(Id id, std::string_view why) {
  const auto it = conns_.find(id);
  if (it == conns_.end()) return;
  const char* when = it->second.first ? "before its first frame" : "during the handshake";
  forget(id, why.empty() ? std::string("closed the connection ") + when
                         : std::string(why) + " " + when);
}

void Acceptor::drop(Id id, std::string_view why) { forget(id, why); }

std::vector<Acceptor::Id> Acceptor::expire(Clock::time_point now) {
  std::vector<Id> late;
  for (const auto& [id, c] : conns_)
    if (!c.ready && c.deadline <= now) late.push_back(id);
  const std::string ms = std::to_string(options_.limits.handshake_timeout.count()) + " ms (" +
                         listener::kHandshakeTimeoutEnv + ")";
  for (const Id id : late)
    forget(id, at(id).first ? "authenticated but sent no first frame within " + ms : "no handshake within " + ms);
  return late;
}

std::optional<Clock::time_point> Acceptor::next_due() const {
  std::optional<Clock::time_point> due = log_.flush_due();
  for (const auto& [id, c] : conns_)
    if (!c.ready && (!due || c.deadline < *due)) due = c.deadline;
  return due;
}

}  // namespace rmpi::transport

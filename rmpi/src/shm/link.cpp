#include "link.hpp"

#include <poll.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include <rmpi/error.hpp>

namespace rmpi::detail::shm {
namespace {

constexpr std::size_t kH = wire::kHeaderSize;

int pidfd_open(pid_t pid) { return static_cast<int>(::syscall(SYS_pidfd_open, pid, 0)); }

std::string errno_text(int e) { return std::strerror(e); }

}  // namespace

Link::Link(const Segment& mine, Segment peer, std::uint32_t my_slot, std::uint32_t peer_slot,
           LinkOptions options)
    : peer_(std::move(peer)), mine_(&mine), options_(options), peer_pid_(static_cast<pid_t>(peer_.info().pid)) {
  if (my_slot >= peer_.slots() || peer_slot >= mine.slots())
    throw Error("rmpi: shared memory: slot " + std::to_string(my_slot) + "/" + std::to_string(peer_slot) +
                " out of range (" + std::to_string(peer_.slots()) + "/" + std::to_string(mine.slots()) + " slots)");
  pidfd_ = pidfd_open(peer_pid_);
  if (pidfd_ < 0)
    throw Error("rmpi: shared memory: cannot watch pid " + std::to_string(peer_pid_) + ": " + errno_text(errno));
  out_ctl_ = &peer_.control(my_slot);
  in_ctl_ = &mine.control(peer_slot);
  out_ = RingWriter(out_ctl_, peer_.ring_data(my_slot), peer_.ring_bytes());
  in_ = RingReader(in_ctl_, mine.ring_data(peer_slot), mine.ring_bytes());
  options_.eager_limit = std::min<std::size_t>(options_.eager_limit, out_.max_body() - kH);
  fragment_ = std::max<std::uint64_t>(peer_.ring_bytes() / 4 - kCacheLine, kCacheLine);

  // Can we pull from the peer? Read its segment's magic at its own address.
  RingControl::Cma cma = RingControl::refused;
  if (options_.cma != CmaMode::never) {
    std::uint64_t magic = 0;
    iovec local{&magic, sizeof magic};
    iovec remote{reinterpret_cast<void*>(peer_.header().self_address), sizeof magic};
    if (::process_vm_readv(peer_pid_, &local, 1, &remote, 1, 0) == sizeof magic && magic == kSegmentMagic)
      cma = RingControl::allowed;
  }
  in_ctl_->cma.store(cma, std::memory_order_release);
  in_ctl_->attached.store(1, std::memory_order_release);
  out_ctl_->producer_attached.store(1, std::memory_order_release);
  peer_.header().producers[my_slot / 64].fetch_or(std::uint64_t{1} << (my_slot % 64), std::memory_order_release);
  waker_.announce(peer_.bell());
}

Link::~Link() {
  in_ctl_->consumer_gone.store(1, std::memory_order_release);
  waker_.notify(peer_.bell(), *out_ctl_);
  if (pidfd_ >= 0) ::close(pidfd_);
}

bool Link::arm_sleep() {
  arm_ring(*in_ctl_);
  armed_ = true;
  if (pending() || !failure_.empty() || eof_) {
    disarm_ring(*in_ctl_);
    armed_ = false;
    return false;
  }
  return true;
}

void Link::abandon(std::string why) {
  fail(nullptr, std::move(why));
  in_ctl_->consumer_gone.store(1, std::memory_order_release);
  waker_.notify(peer_.bell(), *out_ctl_);
}

bool Link::peer_attached() const {
  return out_ctl_->cma.load(std::memory_order_acquire) != RingControl::unknown;
}

bool Link::peer_pulls() const { return peer_verdict() == CmaVerdict::allowed; }

CmaVerdict Link::peer_verdict() const {
  switch (out_ctl_->cma.load(std::memory_order_acquire)) {
    case RingControl::allowed:
      return CmaVerdict::allowed;
    case RingControl::refused:
      return CmaVerdict::refused;
    default:
      return CmaVerdict::unknown;
  }
}

Link::Ticket Link::send(wire::FrameHeader h, std::span<const std::byte> payload, std::vector<std::byte>* owned) {
  if (owned) payload = std::span<const std::byte>(*owned);
  h.length = payload.size();
  return send(wire::encode_header(h), payload, owned, {}, false);
}

Link::Ticket Link::send(const wire::HeaderBytes& header, std::span<const std::byte> payload,
                        std::vector<std::byte>* owned, std::shared_ptr<void> keep, bool copy) {
  if (owned) payload = std::span<const std::byte>(*owned);
  Out o;
  o.ticket = next_ticket_++;
  o.header = header;
  o.data = payload.data();
  o.size = payload.size();
  o.keep = std::move(keep);
  // A borrowed payload the caller reuses at return (copy) must be copied:
  // into the ring if a record can hold it, else into a buffer of ours.
  const bool borrowed = !owned && !o.keep;
  o.eager = o.size <= options_.eager_limit || (copy && borrowed && kH + o.size <= out_.max_body());
  if (!o.eager && owned) {
    o.owned = std::move(*owned);
    o.data = o.owned.data();
  } else if (!o.eager && copy && borrowed) {
    o.owned.assign(o.data, o.data + o.size);
    o.data = o.owned.data();
  }
  const bool eager = o.eager;
  if (queue_.empty() && failure_.empty()) {
    const std::uint64_t before = out_.tail();
    const bool whole = push(o);
    if (out_.tail() != before) waker_.notify(peer_.bell(), *out_ctl_);
    if (whole) return o.ticket;
  }
  if ((eager || copy) && o.owned.empty() && !o.keep && o.size) {
    o.owned.assign(o.data, o.data + o.size);
    o.data = o.owned.data();
  }
  queue_.push_back(std::move(o));
  return queue_.back().ticket;
}

Link::Ticket Link::written() const {
  const Ticket oldest = !awaiting_.empty() ? awaiting_.front().ticket
                        : !queue_.empty()  ? queue_.front().ticket
                                           : next_ticket_;
  return oldest - 1;
}

bool Link::done(Ticket t) const { return t <= written(); }

void Link::close() {
  if (closed_) return;
  closed_ = true;
  Out o;
  o.ticket = next_ticket_;  // takes no number: written() is unchanged by it
  o.close = true;
  if (queue_.empty() && failure_.empty() && push(o)) {
    waker_.notify(peer_.bell(), *out_ctl_);
    return;
  }
  queue_.push_back(std::move(o));
}

bool Link::push(Out& o) {
  if (o.close) {
    if (!out_.reserve(RecordKind::close, 0)) return false;
    out_.commit();
    return true;
  }
  if (o.eager) {
    std::byte* b = out_.reserve(RecordKind::frame, kH + o.size);
    if (!b) return false;
    std::memcpy(b, o.header.data(), kH);
    if (o.size) std::memcpy(b + kH, o.data, o.size);
    out_.commit();
    ++stats_.eager;
    return true;
  }
  if (o.path == LargePath::wait_verdict) {
    o.path = choose_path({.size = o.size, .eager_limit = options_.eager_limit,
                          .pull_threshold = options_.pull_threshold, .verdict = peer_verdict(),
                          .mode = options_.cma,
                          .receive_posted = out_ctl_->receives_posted.load(std::memory_order_relaxed) > 0});
  }
  waiting_attach_ = o.path == LargePath::wait_verdict;
  if (waiting_attach_) return false;  // the peer has not attached yet
  if (o.path == LargePath::pull) {
    std::byte* b = out_.reserve(RecordKind::pull, kH + sizeof(PullRequest));
    if (!b) return false;
    const PullRequest pr{reinterpret_cast<std::uint64_t>(o.data), o.size};
    std::memcpy(b, o.header.data(), kH);
    std::memcpy(b + kH, &pr, sizeof pr);
    out_.commit();
    awaiting_.push_back({o.ticket, ++pulls_posted_, std::move(o.owned), std::move(o.keep)});
    ++stats_.pulled;
    return true;
  }
  if (!o.begun) {
    std::byte* b = out_.reserve(RecordKind::frag_begin, kH);
    if (!b) return false;
    std::memcpy(b, o.header.data(), kH);
    out_.commit();
    o.begun = true;
  }
  while (o.sent < o.size) {
    const std::size_t n = std::min<std::size_t>(fragment_, o.size - o.sent);
    std::byte* b = out_.reserve(RecordKind::frag, n);
    if (!b) return false;
    std::memcpy(b, o.data + o.sent, n);
    out_.commit();
    o.sent += n;
  }
  ++stats_.copied;
  return true;
}

void Link::fail(FrameSink* sink, std::string why) {
  if (!failure_.empty()) return;
  failure_ = std::move(why);
  if (in_frame_ && sink) sink->abort_frame();
  in_frame_ = false;
  queue_.clear();
}

bool Link::drain_in(FrameSink& sink) {
  bool any = false;
  while (failure_.empty() && !eof_) {
    const RecordHeader* r = in_.peek();
    if (!r) {
      if (in_.corrupt()) fail(&sink, "a malformed record in the shared-memory ring");
      break;
    }
    const std::byte* body = in_.body();
    ++records_read_;
    any = true;
    if (r->kind == RecordKind::close) {
      in_.release();
      if (in_frame_) fail(&sink, "the peer closed the link in the middle of a message");
      eof_ = true;
      break;
    }
    if (r->kind == RecordKind::frag) {
      if (!in_frame_ || r->body > in_len_ - in_got_) {
        fail(&sink, "an unexpected fragment in the shared-memory ring");
        break;
      }
      std::memcpy(in_dest_ + in_got_, body, r->body);
      in_got_ += r->body;
      in_.release();
      if (in_got_ == in_len_) {
        in_frame_ = false;
        sink.complete_frame();
      }
      continue;
    }
    // frame, pull, frag_begin: a wire header first.
    if (in_frame_ || r->body < kH) {
      fail(&sink, "an unexpected record in the shared-memory ring");
      break;
    }
    wire::FrameHeader h;
    try {
      h = wire::decode_header(std::span<const std::byte, kH>(body, kH), wire::kDefaultDataLimit);
    } catch (const Error& e) {
      fail(&sink, std::string("bad frame: ") + e.what());
      break;
    }
    if (r->kind == RecordKind::frame) {
      if (h.length != r->body - kH) {
        fail(&sink, "a frame whose length disagrees with its record");
        break;
      }
      std::byte* dest = sink.begin_frame(h);
      if (h.length) std::memcpy(dest, body + kH, h.length);
      in_.release();
      sink.complete_frame();
    } else if (r->kind == RecordKind::frag_begin) {
      in_.release();
      in_dest_ = sink.begin_frame(h);
      in_len_ = h.length;
      in_got_ = 0;
      in_frame_ = true;
      if (in_len_ == 0) {
        in_frame_ = false;
        sink.complete_frame();
      }
    } else {  // pull
      PullRequest pr;
      if (r->body != kH + sizeof pr) {
        fail(&sink, "a malformed pull request");
        break;
      }
      std::memcpy(&pr, body + kH, sizeof pr);
      in_.release();
      if (pr.length != h.length) {
        fail(&sink, "a pull request whose length disagrees with its frame");
        break;
      }
      std::byte* dest = sink.begin_frame(h);
      in_frame_ = true;
      std::uint64_t got = 0;
      while (got < pr.length) {
        iovec local{dest + got, pr.length - got};
        iovec remote{reinterpret_cast<void*>(pr.address + got), pr.length - got};
        const ssize_t n = ::process_vm_readv(peer_pid_, &local, 1, &remote, 1, 0);
        if (n > 0) {
          got += static_cast<std::uint64_t>(n);
        } else if (n < 0 && errno == EINTR) {
          continue;
        } else {
          const int e = n < 0 ? errno : EFAULT;
          fail(&sink, e == ESRCH ? std::string("the peer ended in the middle of a message")
                                 : "cannot read the message from the peer's memory: " + errno_text(e));
          break;
        }
      }
      if (!failure_.empty()) break;
      in_frame_ = false;
      in_ctl_->pulled.fetch_add(1, std::memory_order_release);
      sink.complete_frame();
    }
  }
  // Space was freed or pulls completed: a sender waiting for them may sleep.
  if (any) waker_.notify(peer_.bell(), *out_ctl_);
  return any;
}

bool Link::progress(FrameSink& sink) {
  if (armed_) {
    disarm_ring(*in_ctl_);
    armed_ = false;
  }
  if (!failure_.empty()) return false;
  bool moved = false;
  if (!awaiting_.empty()) {
    const std::uint64_t pulled = out_ctl_->pulled.load(std::memory_order_acquire);
    while (!awaiting_.empty() && awaiting_.front().pulled_target <= pulled) {
      awaiting_.pop_front();
      moved = true;
    }
  }
  if (!queue_.empty()) {
    const std::uint64_t before = out_.tail();
    while (!queue_.empty() && push(queue_.front())) queue_.pop_front();
    if (out_.tail() != before) {
      waker_.notify(peer_.bell(), *out_ctl_);
      moved = true;
    }
  }
  if (drain_in(sink)) moved = true;
  if (!idle() && failure_.empty() && out_ctl_->consumer_gone.load(std::memory_order_acquire))
    fail(&sink, "the peer closed the link before it received everything sent to it");
  if (peer_gone_ && failure_.empty()) {
    // Nothing more can arrive: what was there has just been delivered.
    if (in_frame_) fail(&sink, "the peer ended in the middle of a message");
    else if (!idle()) fail(&sink, "the peer ended before it received everything sent to it");
    else if (!eof_) eof_ = true;
  }
  return moved;
}

bool Link::pending() const {
  if (in_.readable()) return true;
  if (!idle() && out_ctl_->consumer_gone.load(std::memory_order_acquire)) return true;
  if (!awaiting_.empty() && out_ctl_->pulled.load(std::memory_order_acquire) >= awaiting_.front().pulled_target)
    return true;
  if (!queue_.empty()) {
    if (out_.space_changed()) return true;
    if (waiting_attach_ && out_ctl_->cma.load(std::memory_order_acquire) != RingControl::unknown) return true;
  }
  return false;
}

std::string Link::state() const {
  std::string s = "queued " + std::to_string(queue_.size()) + " awaiting " + std::to_string(awaiting_.size());
  if (!queue_.empty())
    s += " (front " + std::to_string(queue_.front().size) + " B, " + std::to_string(queue_.front().sent) + " sent)";
  s += ", out tail " + std::to_string(out_.tail()) + " head " + std::to_string(out_ctl_->head.load()) +
       ", in head " + std::to_string(in_ctl_->head.load()) + " (" + std::to_string(records_read_) + " records)" +
       (in_frame_ ? ", in a frame at " + std::to_string(in_got_) + "/" + std::to_string(in_len_) : "");
  return s;
}

bool Link::peer_alive() {
  if (peer_gone_) return false;
  pollfd p{pidfd_, POLLIN, 0};
  if (::poll(&p, 1, 0) > 0) peer_gone_ = true;
  return !peer_gone_;
}

}  // namespace rmpi::detail::shm

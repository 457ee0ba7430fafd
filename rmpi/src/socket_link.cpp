#include "socket_link.hpp"

#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include <rmpi/error.hpp>

namespace rmpi::detail {
namespace {

constexpr std::size_t kInbufSize = 256 * 1024;
constexpr std::size_t kDirectRead = 32 * 1024;  // payload reads this large bypass the staging buffer
constexpr int kMaxIov = 64;

}  // namespace

SocketLink::SocketLink(int peer, Fd fd, std::string where, FrameSink& sink)
    : peer_(peer), fd_(std::move(fd)), where_(std::move(where)), sink_(sink) {
  set_nonblocking(fd_.get());
  inbuf_.resize(kInbufSize);
}

void SocketLink::close(bool clean, const std::string& why) {
  if (closed_) return;
  closed_ = true;
  out_.clear();
  fd_.reset();
  sink_.link_closed(peer_, clean, why);
}

std::uint64_t SocketLink::write(OutFrame f, WriteMode mode) {
  out_.push_back(Pending{std::move(f), 0});
  const std::uint64_t seq = ++queued_;
  if (closed_) return seq;
  write_some();
  if (mode == WriteMode::copy_if_pending && written_ < seq && !closed_) {
    // Keep the unwritten rest in a buffer the frame owns.
    Pending& p = out_.back();
    OutFrame& fr = p.frame;
    if (!fr.keep && (fr.owned.empty() || fr.data != fr.owned.data())) {
      const std::size_t payload_sent = p.sent > wire::kHeaderSize ? p.sent - wire::kHeaderSize : 0;
      fr.owned.assign(fr.data + payload_sent, fr.data + fr.size);
      p.sent -= payload_sent;
      fr.size -= payload_sent;
      fr.data = fr.owned.data();
    }
  }
  return seq;
}

void SocketLink::write_some() {
  while (!out_.empty() && !closed_) {
    iovec iov[kMaxIov];
    int n = 0;
    for (auto it = out_.begin(); it != out_.end() && n + 2 <= kMaxIov; ++it) {
      std::size_t skip = it->sent;
      if (skip < wire::kHeaderSize) {
        iov[n++] = {it->frame.header.data() + skip, wire::kHeaderSize - skip};
        skip = 0;
      } else {
        skip -= wire::kHeaderSize;
      }
      if (it->frame.size > skip) iov[n++] = {const_cast<std::byte*>(it->frame.data) + skip, it->frame.size - skip};
    }
    msghdr msg{};
    msg.msg_iov = iov;
    msg.msg_iovlen = static_cast<std::size_t>(n);
    const ssize_t w = ::sendmsg(fd_.get(), &msg, MSG_NOSIGNAL);
    if (w < 0) {
      if (errno == EAGAIN || errno == EWOULDBLOCK) return;
      if (errno == EINTR) continue;
      close(false, std::string("write failed: ") + std::strerror(errno));
      return;
    }
    auto left = static_cast<std::size_t>(w);
    while (!out_.empty()) {
      Pending& f = out_.front();
      const std::size_t rest = wire::kHeaderSize + f.frame.size - f.sent;
      if (left < rest) {
        f.sent += left;
        break;
      }
      left -= rest;
      out_.pop_front();
      ++written_;
    }
  }
  if (out_.empty() && want_close_write_ && !write_closed_ && !closed_) {
    write_closed_ = true;
    ::shutdown(fd_.get(), SHUT_WR);
  }
}

void SocketLink::close_write() {
  want_close_write_ = true;
  write_some();
}

// The decoder takes every byte of `input` (a partial header it keeps), so
// the staging buffer is free again after each call.
void SocketLink::parse(std::span<const std::byte> input) {
  while (!closed_) {
    const transport::FrameDecoder::Step step = decoder_.next(input);
    switch (step.event) {
      case transport::FrameDecoder::Event::need_bytes:
        return;
      case transport::FrameDecoder::Event::header:
        dest_ = sink_.frame_begin(peer_, decoder_.header());
        break;
      case transport::FrameDecoder::Event::payload:
        std::memcpy(dest_ + step.offset, step.bytes.data(), step.bytes.size());
        break;
      case transport::FrameDecoder::Event::frame_end:
        dest_ = nullptr;
        sink_.frame_end(peer_);
        break;
      case transport::FrameDecoder::Event::error:
        return close(false, "bad frame: " + decoder_.reason());
    }
  }
}

void SocketLink::read_some() {
  // Bounded per call, so that one busy peer never starves the others.
  for (int rounds = 0; rounds < 16 && !closed_; ++rounds) {
    // A large rest of a payload is read straight into where the sink wants it.
    const bool direct = decoder_.payload_left() >= kDirectRead;
    std::byte* into = direct ? dest_ + decoder_.payload_done() : inbuf_.data();
    const std::size_t room = direct ? static_cast<std::size_t>(decoder_.payload_left()) : inbuf_.size();
    const ssize_t n = ::recv(fd_.get(), into, room, 0);
    if (n > 0) {
      if (direct) {
        decoder_.payload_placed(static_cast<std::size_t>(n));
        parse({});
      } else {
        parse(std::span<const std::byte>(inbuf_.data(), static_cast<std::size_t>(n)));
      }
      // A short read into the buffer drained the socket: another recv would
      // only say EAGAIN (epoll is level-triggered: later bytes are reported
      // again). A large payload read in place goes on: its sender is writing
      // the rest meanwhile, so the next recv likely gets more.
      if (!direct && static_cast<std::size_t>(n) < room) return;
    } else if (n == 0) {
      if (decoder_.end_of_stream() != transport::FrameError::none)
        close(false, "the peer closed the connection in the middle of a message");
      else
        close(true, "");
      return;
    } else if (errno == EAGAIN || errno == EWOULDBLOCK) {
      return;
    } else if (errno != EINTR) {
      close(false, std::string("read failed: ") + std::strerror(errno));
      return;
    }
  }
}

void SocketLink::progress(std::uint32_t events) {
  if (closed_) return;
  try {
    if (events & EPOLLOUT) write_some();
    if (events == 0 || (events & (EPOLLIN | EPOLLHUP | EPOLLERR))) read_some();
  } catch (const Error& e) {
    close(false, std::string("bad frame: ") + e.what());
  }
}

}  // namespace rmpi::detail

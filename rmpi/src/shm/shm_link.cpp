#include "shm_link.hpp"

#include <sys/epoll.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include <rmpi/error.hpp>

#include "context.hpp"

namespace rmpi::detail::shm {

ShmLink::ShmLink(int peer, std::unique_ptr<shm::Link> link, std::string where, detail::FrameSink& sink,
                 Context* context)
    : peer_(peer), link_(std::move(link)), where_(std::move(where)), sink_(sink), context_(context) {
  epoll_ = ::epoll_create1(EPOLL_CLOEXEC);
  if (epoll_ < 0) throw Error(std::string("rmpi: shared memory: epoll_create1: ") + std::strerror(errno));
  for (const int fd : {link_->wake_fd(), link_->pidfd()}) {
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.fd = fd;
    if (::epoll_ctl(epoll_, EPOLL_CTL_ADD, fd, &ev) != 0) {
      const std::string why = std::strerror(errno);
      ::close(epoll_);
      throw Error("rmpi: shared memory: cannot watch the link to rank " + std::to_string(peer) + ": " + why);
    }
  }
}

ShmLink::~ShmLink() {
  if (epoll_ >= 0) ::close(epoll_);
}

void ShmLink::progress(std::uint32_t events) {
  if (closed_) return;
  if (events) {
    // Something in our epoll fd fired: wake-up bytes, or the peer's pidfd.
    link_->drain_wakes();
    link_->peer_alive();
  }
  try {
    if (link_->progress(*this)) moved_ = true;
  } catch (const ProtocolError& e) {
    link_->abandon(std::string("bad frame: ") + e.what());
  }
  if (context_) context_->maybe_unlink();
  report();
}

void ShmLink::report() {
  if (closed_) return;
  if (!link_->failure().empty()) {
    closed_ = true;
    ::epoll_ctl(epoll_, EPOLL_CTL_DEL, link_->pidfd(), nullptr);  // readable for ever once dead
    sink_.link_closed(peer_, false, link_->failure());
  } else if (link_->eof() && link_->idle()) {
    closed_ = true;
    ::epoll_ctl(epoll_, EPOLL_CTL_DEL, link_->pidfd(), nullptr);
    sink_.link_closed(peer_, true, "");
  }
}

bool ShmLink::prepare_to_block() {
  if (closed_) return true;
  // The engine calls progress(0) on this link just before, and then blocks
  // without looking at its requests again: if that call delivered a frame
  // (a request may be complete now), it must not block.
  if (moved_) {
    moved_ = false;
    return false;
  }
  return link_->arm_sleep();
}

std::uint64_t ShmLink::write(OutFrame f, WriteMode mode) {
  std::vector<std::byte>* owned = !f.owned.empty() && f.data == f.owned.data() ? &f.owned : nullptr;
  const auto t = link_->send(f.header, std::span<const std::byte>(f.data, f.size), owned, std::move(f.keep),
                             mode == WriteMode::copy_if_pending);
  report();
  return t;
}

void ShmLink::close_write() { link_->close(); }

}  // namespace rmpi::detail::shm

#include "shm_link.hpp"

#include <rmpi/error.hpp>

#include "context.hpp"

namespace rmpi::detail::shm {

ShmLink::ShmLink(int peer, std::unique_ptr<shm::Link> link, std::string where, detail::FrameSink& sink,
                 Context* context)
    : peer_(peer), link_(std::move(link)), where_(std::move(where)), sink_(sink), context_(context) {}

void ShmLink::progress(std::uint32_t events) {
  if (closed_) return;
  if (events) {
    link_->peer_alive();  // the pidfd fired
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
    closed_ = true;  // the engine stops watching the pidfd (readable for ever once dead)
    sink_.link_closed(peer_, false, link_->failure());
  } else if (link_->eof() && link_->idle()) {
    closed_ = true;
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

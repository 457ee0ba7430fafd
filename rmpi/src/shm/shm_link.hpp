#pragma once
// The engine's view of a shared-memory link (rmpi/src/link.hpp): a
// shm::Link behind the same interface as a socket. fd() is the peer's
// pidfd, so the engine's epoll sees "the peer died"; "data for you while you
// slept" rings the rank's one bell (RankBell, watched through the mesh's
// ready fd). spins() is true, so the engine polls the ring on every spin
// iteration without a system call, and prepare_to_block() arms the wake-up.
// When the engine has nothing but shared-memory links it sleeps on
// doorbell() (the futex of this process's segment) instead, with ready() as
// the re-check.
#include <memory>
#include <string>

#include "../link.hpp"
#include "link.hpp"

namespace rmpi::detail::shm {

class Context;

class ShmLink final : public detail::Link, private shm::FrameSink {
 public:
  ShmLink(int peer, std::unique_ptr<shm::Link> link, std::string where, detail::FrameSink& sink, Context* context);

  int fd() const override { return link_->pidfd(); }
  bool wants_write() const override { return false; }  // space in the ring wakes us like data does
  void progress(std::uint32_t events) override;
  bool spins() const override { return true; }
  bool prepare_to_block() override;
  shm::Doorbell* doorbell() override { return &link_->own_bell(); }
  bool ready() const override {
    return !closed_ && (link_->pending() || !link_->failure().empty() || link_->eof());
  }
  std::uint64_t write(OutFrame f, WriteMode mode) override;
  std::uint64_t written() const override { return link_->written(); }
  void close_write() override;
  bool closed() const override { return closed_; }
  std::string where() const override { return where_; }
  void receives_posted(std::uint32_t n) override { link_->advertise_posted(n); }

 private:
  // shm::FrameSink
  std::byte* begin_frame(const wire::FrameHeader& h) override { return sink_.frame_begin(peer_, h); }
  void complete_frame() override { sink_.frame_end(peer_); }
  void abort_frame() override {}  // link_closed(clean = false) follows

  void report();

  int peer_;
  std::unique_ptr<shm::Link> link_;
  std::string where_;
  detail::FrameSink& sink_;
  Context* context_;
  bool closed_ = false;
  bool moved_ = false;  // progress delivered or sent something since prepare_to_block
};

}  // namespace rmpi::detail::shm

#pragma once
// The engine's view of a shared-memory link (rmpi/src/link.hpp): a
// shm::Link behind the same interface as a socket. fd() is an epoll fd that
// holds the link's wake-up socket and the peer's pidfd, so the engine's
// epoll sees both "data for you while you slept" and "the peer died";
// spins() is true, so the engine polls the ring on every spin iteration
// without a system call, and prepare_to_block() arms the wake-up.
#include <memory>
#include <string>

#include "../link.hpp"
#include "link.hpp"

namespace rmpi::detail::shm {

class Context;

class ShmLink final : public detail::Link, private shm::FrameSink {
 public:
  /// Throws rmpi::Error if the epoll fd cannot be made.
  ShmLink(int peer, std::unique_ptr<shm::Link> link, std::string where, detail::FrameSink& sink, Context* context);
  ~ShmLink() override;

  int fd() const override { return epoll_; }
  bool wants_write() const override { return false; }  // space in the ring wakes us like data does
  void progress(std::uint32_t events) override;
  bool spins() const override { return true; }
  bool prepare_to_block() override;
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
  int epoll_ = -1;
  bool closed_ = false;
  bool moved_ = false;  // progress delivered or sent something since prepare_to_block
};

}  // namespace rmpi::detail::shm

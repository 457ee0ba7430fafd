#pragma once
// A link: how the progress engine (world.hpp) reaches one peer rank. A socket
// today (socket_link.hpp); shared memory for ranks of one node (rmpi/src/shm).
//
// Contract (see /work/wt/COORD-p2p.md for the long form):
// - The engine owns its links; one link per peer, single-threaded: every call
//   comes from the thread that is inside an rmpi call.
// - Polling: `fd()` is registered once with the engine's epoll (level
//   triggered), EPOLLIN always, EPOLLOUT while `wants_write()`. When epoll
//   reports it, the engine calls `progress(events)`. A link with `spins()`
//   also gets `progress(0)` on the spin iterations where `ready()` says it has work, so it can poll memory
//   without a system call; before the engine blocks in epoll_wait it calls
//   `prepare_to_block()`, and a link that returns false (data already there)
//   keeps the engine from blocking. A link with no natural fd gives an
//   eventfd its writer signals (or a pidfd); fd() = -1 means "spin only"
//   (the engine then never blocks for longer than 1 ms while it exists).
// - Reading: `progress` delivers every complete frame header to
//   `FrameSink::frame_begin`, which returns where the payload goes (the
//   posted receive's own buffer when one matches, else a buffer of the
//   engine's); the link writes exactly `length` bytes there and calls
//   `frame_end`. Headers and payloads of one link arrive in send order.
// - Writing: `write` takes a frame in send order and returns its sequence
//   number; `written()` is the highest sequence number fully handed over (its
//   borrowed buffer is free again). `WriteMode::copy_if_pending` lets the link
//   copy what it could not write at once, so the sender need not wait.
// - Death: a link that breaks or sees the peer close calls
//   `FrameSink::link_closed(peer, clean, why)` once and makes no further
//   calls; `clean` = an orderly close between frames (the peer finished).
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <rmpi/wire.hpp>

namespace rmpi::detail {
namespace shm {
struct Doorbell;
}

/// One frame to write: its header and a payload that is borrowed (`data`,
/// valid until written() reaches its sequence number) or owned.
struct OutFrame {
  wire::HeaderBytes header{};
  std::vector<std::byte> owned;  // the payload when the frame owns it
  std::shared_ptr<void> keep;    // keeps a moved-in object alive (isend of an rvalue)
  const std::byte* data = nullptr;
  std::size_t size = 0;
};

enum class WriteMode {
  borrow,           // the caller keeps `data` alive until written() >= seq
  copy_if_pending,  // the link copies what it cannot write at once
};

/// What a link delivers into: the engine's matcher.
class FrameSink {
 public:
  /// A frame header from `peer` was read; returns where its `h.length`
  /// payload bytes go (valid until frame_end). May throw ProtocolError for a
  /// frame that is not acceptable (the link then closes with that reason).
  virtual std::byte* frame_begin(int peer, const wire::FrameHeader& h) = 0;
  /// The payload of the frame begun last is complete.
  virtual void frame_end(int peer) = 0;
  /// The link to `peer` is gone; `clean` = orderly close between frames.
  virtual void link_closed(int peer, bool clean, const std::string& why) = 0;

 protected:
  ~FrameSink() = default;
};

class Link {
 public:
  virtual ~Link() = default;

  /// The descriptor epoll watches for this link, or -1 (spin only).
  virtual int fd() const = 0;
  /// True while frames wait to be written (EPOLLOUT is then armed).
  virtual bool wants_write() const = 0;
  /// Reads what arrived (into the sink) and writes what is pending; never
  /// blocks. `events` are epoll's, 0 when called from the spin loop.
  virtual void progress(std::uint32_t events) = 0;
  /// True if progress(0) must be called on each spin iteration.
  virtual bool spins() const { return false; }
  /// Called before the engine blocks; false = something is ready already.
  virtual bool prepare_to_block() { return true; }
  /// A link whose peer can wake this process through a futex word
  /// (shm/doorbell.hpp: this process's own doorbell) returns it: the engine
  /// then sleeps on it instead of in epoll while every open link has one.
  virtual shm::Doorbell* doorbell() { return nullptr; }
  /// Cheap: whether progress(0) would find something now. The spin loop
  /// calls progress(0) on a spinning link only when this is true, and the
  /// re-check after the doorbell is armed asks it too; a link with spins()
  /// must therefore cover everything progress(0) would do (data to read,
  /// ring space or pulls freed for queued sends, a failure or the end).
  virtual bool ready() const { return false; }

  /// Queues `f` after every frame written before; returns its sequence
  /// number (1, 2, ...). Writes at once what the transport takes.
  virtual std::uint64_t write(OutFrame f, WriteMode mode) = 0;
  /// The highest sequence number whose bytes are all handed over.
  virtual std::uint64_t written() const = 0;
  /// Ends the sending side once every queued frame is written; the peer
  /// then sees an orderly close.
  virtual void close_write() = 0;
  /// True once link_closed was reported.
  virtual bool closed() const = 0;

  /// Where the peer is, for messages: "127.0.0.1:4242", "local socket on h".
  virtual std::string where() const = 0;
  /// How many receives posted here may match the peer's next frame: a hint
  /// to the sender (shared memory pulls a large frame straight into place
  /// when one is posted, see shm/large_path.hpp). Sockets ignore it.
  virtual void receives_posted(std::uint32_t) {}
};

}  // namespace rmpi::detail

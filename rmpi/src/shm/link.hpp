#pragma once
// One shared-memory link between this rank and one peer on the same node:
// the ring it writes (a slot in the peer's segment) and the ring it reads (a
// slot in its own). It carries the frames the sockets carry (rmpi/wire.hpp
// header, then the payload), in order:
//   * payloads up to `eager_limit` are copied into the ring (one record);
//   * larger ones are single-copy when large_path.hpp says so (the receiver
//     can pull and has a receive posted): the sender posts (address, length)
//     and the receiver pulls the bytes with process_vm_readv (CMA) straight
//     into the destination, then counts the pull in `pulled`, which
//     completes the send;
//   * otherwise (CMA refused by the kernel: EPERM, ENOSYS; forced off; no
//     receive posted) the payload is pipelined through the ring in chunks.
// Non-blocking throughout: progress() moves what it can and returns; the
// caller waits (doorbell.hpp) and calls it again. A peer that exits is seen
// through its pidfd (pollable, so it fits an epoll set) and reported like a
// closed connection: frames it sent before are still delivered, then eof();
// a transfer cut in the middle fails the link with a reason.
#include <sys/types.h>

#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include <rmpi/wire.hpp>

#include "doorbell.hpp"
#include "large_path.hpp"
#include "ring.hpp"
#include "segment.hpp"

namespace rmpi::detail::shm {

struct LinkOptions {
  /// Payloads of at most this many bytes go through the ring (eager).
  std::size_t eager_limit = 16 * 1024;
  /// Whether large payloads are pulled with CMA (RMPI_SHM_CMA): never also
  /// skips the probe, so the peer never pulls from this side either.
  CmaMode cma = CmaMode::automatic;
  /// Automatic mode: payloads from this size on are pulled (if posted).
  std::size_t pull_threshold = kDefaultPullThreshold;
};

/// Where received frames go. begin_frame returns room for h.length bytes
/// (may be null when h.length is 0); complete_frame follows once they are
/// there, or abort_frame if the link failed in between.
class FrameSink {
 public:
  virtual std::byte* begin_frame(const wire::FrameHeader& h) = 0;
  virtual void complete_frame() = 0;
  virtual void abort_frame() = 0;

 protected:
  ~FrameSink() = default;
};

class Link {
 public:
  using Ticket = std::uint64_t;

  /// `mine` is this process's segment; `peer` the peer's, attached at slot
  /// `my_slot`, which this process writes; it reads slot `peer_slot` of
  /// `mine`. Probes whether it can pull from the peer (CMA) and says so in
  /// its ring's control words, then announces itself in the peer's
  /// `producers` and rings its bell. Throws rmpi::Error if the peer is gone.
  Link(const Segment& mine, Segment peer, std::uint32_t my_slot, std::uint32_t peer_slot,
       LinkOptions options = {});
  ~Link();
  Link(const Link&) = delete;
  Link& operator=(const Link&) = delete;

  /// Queues a frame (h.length is set from the payload). An eager payload is
  /// written or copied before this returns; a larger one is borrowed until
  /// done(ticket), unless `owned` holds it (moved from).
  Ticket send(wire::FrameHeader h, std::span<const std::byte> payload, std::vector<std::byte>* owned = nullptr);
  /// The same with an encoded header (its length must be payload.size());
  /// `keep` is held until done(ticket); `copy` copies a large payload that
  /// cannot be handed over at once instead of borrowing it.
  Ticket send(const wire::HeaderBytes& header, std::span<const std::byte> payload, std::vector<std::byte>* owned,
              std::shared_ptr<void> keep, bool copy);
  /// Whether the payload of `t` is no longer needed (sent, or pulled).
  bool done(Ticket t) const;
  /// The highest ticket t such that done(t) and every ticket before.
  Ticket written() const;
  /// No frame queued or waiting for its pull.
  bool idle() const { return queue_.empty() && awaiting_.empty(); }

  /// Says goodbye: no frame follows; the peer sees eof() after the others.
  void close();

  /// Moves what can move now: queued frames into the ring, completed pulls,
  /// inbound records to `sink`. Returns whether anything moved.
  bool progress(FrameSink& sink);
  /// Cheap: whether progress() would find something (for the sleep re-check).
  bool pending() const;
  /// The doorbell of this process's segment: its peers ring it (futex sleep).
  Doorbell& own_bell() const { return mine_->bell(); }

  /// Before sleeping in epoll (on the rank's RankBell and the peer's pidfd):
  /// tells the peer to ring the bell; false (and nothing armed) if something
  /// is there already.
  bool arm_sleep();
  /// Stops reading: the peer's sends fail (like a closed socket).
  void abandon(std::string why);
  /// Tells the peer how many receives this side has posted that its next
  /// frame may match (large_path.hpp: posted ones are pulled into place).
  void advertise_posted(std::uint32_t n) { in_ctl_->receives_posted.store(n, std::memory_order_relaxed); }

  /// Polls the peer's pidfd; if the peer ended, remembers it (progress()
  /// then delivers what is left and reports eof() or a failure).
  bool peer_alive();
  int pidfd() const { return pidfd_; }
  pid_t peer_pid() const { return peer_pid_; }

  /// The peer said goodbye (or ended) and everything it sent was delivered.
  bool eof() const { return eof_; }
  /// Non-empty once the link broke (peer died mid-transfer, bad record...).
  const std::string& failure() const { return failure_; }
  /// Whether the peer pulls our large payloads (else: pipelined copy).
  /// Unknown (false) until the peer has attached.
  bool peer_pulls() const;
  /// Whether the peer has mapped this side's segment and given its verdict.
  bool peer_attached() const;
  /// How the frames this side sent went (for tests and diagnostics).
  struct Stats {
    std::uint64_t eager = 0;   // copied into the ring whole
    std::uint64_t pulled = 0;  // posted for a single-copy pull
    std::uint64_t copied = 0;  // pipelined through the ring in chunks
  };
  const Stats& stats() const { return stats_; }
  /// Records read from the peer so far (for tests of wrap-around).
  std::uint64_t records_read() const { return records_read_; }
  const Segment& peer_segment() const { return peer_; }
  /// The link's counters in one line (for diagnostics).
  std::string state() const;

 private:
  struct Out {
    Ticket ticket = 0;
    wire::HeaderBytes header{};
    std::vector<std::byte> owned;
    const std::byte* data = nullptr;
    std::size_t size = 0;
    std::size_t sent = 0;  // fallback: payload bytes already in the ring
    bool begun = false;    // fallback: frag_begin written
    bool close = false;    // the goodbye record
    bool eager = false;    // whole into the ring
    LargePath path = LargePath::wait_verdict;  // once chosen, kept (large only)
    std::shared_ptr<void> keep;
  };
  struct Awaiting {
    Ticket ticket;
    std::uint64_t pulled_target;
    std::vector<std::byte> owned;
    std::shared_ptr<void> keep;
  };

  bool push(Out& o);  // true once the whole frame is in the ring
  bool drain_in(FrameSink& sink);
  void fail(FrameSink* sink, std::string why);

  Segment peer_;
  const Segment* mine_;
  LinkOptions options_;
  RingWriter out_;
  RingReader in_;
  RingControl* out_ctl_;  // in the peer's segment
  RingControl* in_ctl_;   // in mine
  Waker waker_;
  bool armed_ = false;
  pid_t peer_pid_;
  int pidfd_ = -1;
  bool peer_gone_ = false;
  bool waiting_attach_ = false;  // a large frame waits for the peer's CMA verdict
  CmaVerdict peer_verdict() const;
  bool eof_ = false;
  bool closed_ = false;
  std::string failure_;

  Ticket next_ticket_ = 1;
  std::deque<Out> queue_;
  std::deque<Awaiting> awaiting_;
  std::uint64_t pulls_posted_ = 0;
  std::uint64_t fragment_;

  // Inbound frame being assembled (pipelined fallback).
  bool in_frame_ = false;
  std::byte* in_dest_ = nullptr;
  std::uint64_t in_got_ = 0;
  std::uint64_t in_len_ = 0;
  std::uint64_t records_read_ = 0;
  Stats stats_;
};

}  // namespace rmpi::detail::shm

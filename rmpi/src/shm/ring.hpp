#pragma once
// A lock-free single-producer single-consumer ring of records in shared
// memory. Positions are byte counters that only grow (no ABA, no modulo on
// the counters); a record is a RecordHeader plus its body, padded to a cache
// line, and never straddles the end: when it would, the producer writes a pad
// record to the end and starts again at offset 0.
//
// Publishing is by stamp, not by a shared tail: a record's header carries
// its position + 1, stored last with release; the consumer polls the header
// at its head with acquire. A small message is then one cache line that
// moves from producer to consumer, with no second line for a tail counter.
// A stale word at the head is never taken for a stamp, because the producer
// zeroes the stamp word of the slot after each record (the next header, once
// the consumer gets there) before it publishes the record: it keeps one
// line free for that. A pad's stamp is stored after the stamp of the record
// that follows it at offset 0, so the consumer that skips a pad finds that
// record published.
//
// Space goes back with a release store of `head`, which the producer reads
// with acquire, only when its private copy says "full".
//
// The ring's pages start as holes in a sparse file: on the first lap each
// side faults them in ahead of use, kPrefaultChunk at a time, with one
// madvise each (a page fault costs ~5 us on the VMs measured, one per 64
// small records per side: it doubled the 8 B latency of short runs).
#include <sys/mman.h>

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <cstring>

#include "segment.hpp"

namespace rmpi::detail::shm {

enum class RecordKind : std::uint32_t {
  pad = 0,         // skip to the end of the ring
  frame = 1,       // wire header + the whole payload (eager)
  pull = 2,        // wire header + PullRequest: the consumer pulls the payload (CMA)
  frag_begin = 3,  // wire header; the payload follows in `frag` records (copy fallback)
  frag = 4,        // a chunk of the payload of the last frag_begin
  close = 5,       // goodbye: nothing follows
};

struct RecordHeader {
  std::uint64_t stamp;  // position + 1 once published (0: not yet)
  std::uint32_t body;   // bytes of body that follow this header
  RecordKind kind;
};
static_assert(sizeof(RecordHeader) == 16);

/// Where a pulled payload lives in the producer's address space.
struct PullRequest {
  std::uint64_t address;
  std::uint64_t length;
};

/// The bytes a record of `body` bytes takes: header and padding included.
inline constexpr std::uint64_t record_bytes(std::uint64_t body) {
  return (sizeof(RecordHeader) + body + kCacheLine - 1) / kCacheLine * kCacheLine;
}

#ifndef MADV_POPULATE_READ
#define MADV_POPULATE_READ 22  // Linux 5.14
#define MADV_POPULATE_WRITE 23
#endif

/// Bytes of a ring faulted in at once on its first lap.
inline constexpr std::uint64_t kPrefaultChunk = 64 * 1024;

/// Faults in the pages of a ring up to `end` (a position; the ring counts
/// from `done`, the bytes already faulted in, which becomes the ring's size
/// once all are). Without MADV_POPULATE_* (an older kernel) it stops
/// trying: the pages then fault in one by one as they are touched.
inline void prefault(const std::byte* data, std::uint64_t cap, std::uint64_t end, int advice,
                     std::uint64_t& done) {
  while (done < std::min(end, cap)) {
    const std::uint64_t n = std::min(kPrefaultChunk, cap - done);
    if (::madvise(const_cast<std::byte*>(data) + done, n, advice) != 0) {
      done = cap;
      return;
    }
    done += n;
  }
}

/// The stamp word of the header slot at `slot` (shared with the other side).
inline std::atomic_ref<std::uint64_t> stamp_at(const std::byte* slot) {
  return std::atomic_ref<std::uint64_t>(
      const_cast<RecordHeader*>(reinterpret_cast<const RecordHeader*>(slot))->stamp);
}

/// The producer's end of a ring (lives in the sender).
class RingWriter {
 public:
  RingWriter() = default;
  RingWriter(RingControl* c, std::byte* data, std::uint64_t capacity)
      : c_(c), data_(data), cap_(capacity), tail_(c->head.load(std::memory_order_acquire)),
        head_cache_(tail_) {}

  /// Largest body a single record may carry.
  std::uint64_t max_body() const { return cap_ / 2 - sizeof(RecordHeader); }

  /// Room for a record of `body` bytes, or nullptr when the ring is full.
  /// The returned pointer is the body; call commit() once it is filled.
  std::byte* reserve(RecordKind kind, std::size_t body) {
    const std::uint64_t need = record_bytes(body);
    const std::uint64_t off = tail_ & (cap_ - 1);
    const std::uint64_t to_end = cap_ - off;
    // The record, the pad before it if any, and the next header slot.
    const std::uint64_t total = (need <= to_end ? need : to_end + need) + kCacheLine;
    if (tail_ + total - head_cache_ > cap_) {
      head_cache_ = c_->head.load(std::memory_order_acquire);
      if (tail_ + total - head_cache_ > cap_) return nullptr;
    }
    if (prefaulted_ < cap_) prefault(data_, cap_, tail_ + total, MADV_POPULATE_WRITE, prefaulted_);
    pad_ = nullptr;
    if (need > to_end) {
      pad_ = data_ + off;
      reinterpret_cast<RecordHeader*>(pad_)->body = static_cast<std::uint32_t>(to_end - sizeof(RecordHeader));
      reinterpret_cast<RecordHeader*>(pad_)->kind = RecordKind::pad;
      pad_stamp_ = tail_ + 1;
      tail_ += to_end;
    }
    auto* h = reinterpret_cast<RecordHeader*>(data_ + (tail_ & (cap_ - 1)));
    h->body = static_cast<std::uint32_t>(body);
    h->kind = kind;
    pending_ = need;
    return reinterpret_cast<std::byte*>(h + 1);
  }

  /// Publishes the reserved record (and a pad before it, if any).
  void commit() {
    std::byte* slot = data_ + (tail_ & (cap_ - 1));
    stamp_at(data_ + ((tail_ + pending_) & (cap_ - 1))).store(0, std::memory_order_relaxed);
    stamp_at(slot).store(tail_ + 1, std::memory_order_release);
    if (pad_) stamp_at(pad_).store(pad_stamp_, std::memory_order_release);
    tail_ += pending_;
    pending_ = 0;
  }

  /// Whether the consumer released space since reserve() last found none.
  bool space_changed() const { return c_->head.load(std::memory_order_acquire) != head_cache_; }
  /// Bytes ever written (this side's count; the consumer reads stamps).
  std::uint64_t tail() const { return tail_; }

  /// True when every record written has been released by the consumer.
  bool drained() const { return c_->head.load(std::memory_order_acquire) == tail_; }

 private:
  RingControl* c_ = nullptr;
  std::byte* data_ = nullptr;
  std::uint64_t cap_ = 0;
  std::uint64_t tail_ = 0;
  std::uint64_t head_cache_ = 0;
  std::uint64_t pending_ = 0;
  std::byte* pad_ = nullptr;  // the pad reserve() wrote, published by commit()
  std::uint64_t pad_stamp_ = 0;
  std::uint64_t prefaulted_ = 0;  // bytes of the ring faulted in (first lap)
};

/// The consumer's end of a ring (lives in the receiver).
class RingReader {
 public:
  RingReader() = default;
  RingReader(RingControl* c, const std::byte* data, std::uint64_t capacity)
      : c_(c), data_(data), cap_(capacity), head_(c->head.load(std::memory_order_relaxed)) {}

  /// The next record, or nullptr when none is published. Pads are skipped.
  /// A malformed record returns nullptr and sets corrupt() (the caller
  /// drops the link).
  const RecordHeader* peek() {
    if (prefaulted_ < cap_) prefault(data_, cap_, head_ + kCacheLine, MADV_POPULATE_READ, prefaulted_);
    for (;;) {
      const std::byte* slot = data_ + (head_ & (cap_ - 1));
      if (stamp_at(slot).load(std::memory_order_acquire) != head_ + 1) return nullptr;
      // A private copy: the producer cannot change what was checked.
      std::memcpy(&cur_, slot, sizeof cur_);
      bytes_ = record_bytes(cur_.body);
      if (cur_.kind > RecordKind::close || cur_.body > cap_ / 2 ||
          (head_ & (cap_ - 1)) + bytes_ > cap_ ||
          (cur_.kind == RecordKind::pad && (head_ + bytes_) % cap_ != 0)) {
        corrupt_ = true;
        return nullptr;
      }
      if (cur_.kind != RecordKind::pad) return &cur_;
      head_ += bytes_;
      c_->head.store(head_, std::memory_order_release);
    }
  }

  /// The body of the record returned by peek().
  const std::byte* body() const { return data_ + (head_ & (cap_ - 1)) + sizeof(RecordHeader); }

  /// Gives the space of the record returned by peek() back to the producer.
  void release() {
    head_ += bytes_;
    c_->head.store(head_, std::memory_order_release);
  }

  /// True when a record was malformed (a broken or hostile producer).
  bool corrupt() const { return corrupt_; }

  /// Whether something is published (cheap, for the sleep re-check).
  bool readable() const {
    return stamp_at(data_ + (head_ & (cap_ - 1))).load(std::memory_order_acquire) == head_ + 1;
  }

 private:
  RingControl* c_ = nullptr;
  const std::byte* data_ = nullptr;
  std::uint64_t cap_ = 0;
  std::uint64_t head_ = 0;
  std::uint64_t bytes_ = 0;  // of cur_
  std::uint64_t prefaulted_ = 0;  // bytes of the ring faulted in (first lap)
  bool corrupt_ = false;
  RecordHeader cur_{};
};

}  // namespace rmpi::detail::shm

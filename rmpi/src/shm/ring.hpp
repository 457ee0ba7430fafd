#pragma once
// A lock-free single-producer single-consumer ring of records in shared
// memory. Positions are byte counters that only grow (no ABA, no modulo on
// the counters); a record is a RecordHeader plus its body, padded to a cache
// line, and never straddles the end: when it would, the producer writes a pad
// record to the end and starts again at offset 0.
//
// Memory order: the producer fills a record, then publishes `tail` with a
// release store; the consumer reads `tail` with acquire, reads the record,
// then gives the space back with a release store of `head`, which the
// producer reads with acquire before reusing it. Each side keeps a private
// copy of the other side's counter and rereads the shared one only when that
// copy says "full" / "empty", so the shared lines move only when needed.
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
  std::uint32_t bytes;  // the whole record, header and padding included
  RecordKind kind;
  std::uint64_t body;   // bytes of body that follow this header
};
static_assert(sizeof(RecordHeader) == 16);

/// Where a pulled payload lives in the producer's address space.
struct PullRequest {
  std::uint64_t address;
  std::uint64_t length;
};

inline constexpr std::size_t record_bytes(std::size_t body) {
  return (sizeof(RecordHeader) + body + kCacheLine - 1) / kCacheLine * kCacheLine;
}

/// The producer's end of a ring (lives in the sender).
class RingWriter {
 public:
  RingWriter() = default;
  RingWriter(RingControl* c, std::byte* data, std::uint64_t capacity)
      : c_(c), data_(data), cap_(capacity), tail_(c->tail.load(std::memory_order_relaxed)),
        head_cache_(c->head.load(std::memory_order_acquire)) {}

  /// Largest body a single record may carry.
  std::uint64_t max_body() const { return cap_ / 2 - sizeof(RecordHeader); }

  /// Room for a record of `body` bytes, or nullptr when the ring is full.
  /// The returned pointer is the body; call commit() once it is filled.
  std::byte* reserve(RecordKind kind, std::size_t body) {
    const std::uint64_t need = record_bytes(body);
    const std::uint64_t off = tail_ & (cap_ - 1);
    const std::uint64_t to_end = cap_ - off;
    const std::uint64_t total = need <= to_end ? need : to_end + need;
    if (tail_ + total - head_cache_ > cap_) {
      head_cache_ = c_->head.load(std::memory_order_acquire);
      if (tail_ + total - head_cache_ > cap_) return nullptr;
    }
    if (need > to_end) {
      auto* pad = reinterpret_cast<RecordHeader*>(data_ + off);
      *pad = {static_cast<std::uint32_t>(to_end), RecordKind::pad, 0};
      tail_ += to_end;
    }
    auto* h = reinterpret_cast<RecordHeader*>(data_ + (tail_ & (cap_ - 1)));
    *h = {static_cast<std::uint32_t>(need), kind, body};
    pending_ = need;
    return reinterpret_cast<std::byte*>(h + 1);
  }

  /// Publishes the reserved record (and a pad before it, if any).
  void commit() {
    tail_ += pending_;
    pending_ = 0;
    c_->tail.store(tail_, std::memory_order_release);
  }

  /// Whether the consumer released space since reserve() last found none.
  bool space_changed() const { return c_->head.load(std::memory_order_acquire) != head_cache_; }
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
};

/// The consumer's end of a ring (lives in the receiver).
class RingReader {
 public:
  RingReader() = default;
  RingReader(RingControl* c, const std::byte* data, std::uint64_t capacity)
      : c_(c), data_(data), cap_(capacity), head_(c->head.load(std::memory_order_relaxed)),
        tail_cache_(c->tail.load(std::memory_order_acquire)) {}

  /// The next record, or nullptr when none is published. Pads are skipped.
  /// A malformed record returns nullptr and sets corrupt() (the caller
  /// drops the link).
  const RecordHeader* peek() {
    for (;;) {
      if (head_ == tail_cache_) {
        tail_cache_ = c_->tail.load(std::memory_order_acquire);
        if (head_ == tail_cache_) return nullptr;
      }
      // A private copy: the producer cannot change what was checked.
      std::memcpy(&cur_, data_ + (head_ & (cap_ - 1)), sizeof cur_);
      const RecordHeader* h = &cur_;
      if (h->bytes < sizeof(RecordHeader) || h->bytes % kCacheLine || h->bytes > tail_cache_ - head_ ||
          (head_ & (cap_ - 1)) + h->bytes > cap_ || sizeof(RecordHeader) + h->body > h->bytes ||
          h->kind > RecordKind::close) {
        corrupt_ = true;
        return nullptr;
      }
      if (h->kind != RecordKind::pad) return h;
      head_ += h->bytes;
      c_->head.store(head_, std::memory_order_release);
    }
  }

  /// The body of the record returned by peek().
  const std::byte* body() const { return data_ + (head_ & (cap_ - 1)) + sizeof(RecordHeader); }

  /// Gives the space of the record returned by peek() back to the producer.
  void release() {
    head_ += cur_.bytes;
    c_->head.store(head_, std::memory_order_release);
  }

  /// True when a record was malformed (a broken or hostile producer).
  bool corrupt() const { return corrupt_; }

  /// Whether something is published (cheap, for the sleep re-check).
  bool readable() const { return head_ != c_->tail.load(std::memory_order_acquire); }

 private:
  RingControl* c_ = nullptr;
  const std::byte* data_ = nullptr;
  std::uint64_t cap_ = 0;
  std::uint64_t head_ = 0;
  std::uint64_t tail_cache_ = 0;
  bool corrupt_ = false;
  RecordHeader cur_{};
};

}  // namespace rmpi::detail::shm

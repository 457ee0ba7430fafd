// The SPSC ring: records padded to cache lines, wrap-around with pad records,
// full and empty, stamps (a stale word is never a record), a producer and a
// consumer on two threads, faulting in ahead of use, and malformed records from a hostile producer.
#include "shm/ring.hpp"

#include <sys/mman.h>
#include <unistd.h>

#include <doctest/doctest.h>

#include <cstring>
#include <thread>
#include <vector>

#include "shm/segment.hpp"

namespace shm = rmpi::detail::shm;

namespace {

struct Ring {
  shm::Segment seg = shm::Segment::create(1, 4096, "ringtest");
  shm::RingWriter w{&seg.control(0), seg.ring_data(0), seg.ring_bytes()};
  shm::RingReader r{&seg.control(0), seg.ring_data(0), seg.ring_bytes()};
};

bool put(shm::RingWriter& w, std::size_t n, unsigned char fill) {
  std::byte* b = w.reserve(shm::RecordKind::frame, n);
  if (!b) return false;
  std::memset(b, fill, n);
  w.commit();
  return true;
}

}  // namespace

TEST_CASE("records are cache-line multiples") {
  CHECK(shm::record_bytes(0) == 64);
  CHECK(shm::record_bytes(48) == 64);
  CHECK(shm::record_bytes(49) == 128);
}

TEST_CASE("empty, full, and space given back") {
  Ring g;
  CHECK(g.r.peek() == nullptr);
  int n = 0;
  while (put(g.w, 100, static_cast<unsigned char>(n))) ++n;  // 128-byte records
  CHECK(n == 4096 / 128 - 1);  // one line stays free for the next header
  const shm::RecordHeader* h = g.r.peek();
  REQUIRE(h);
  CHECK(h->body == 100);
  CHECK(g.r.body()[99] == std::byte{0});
  g.r.release();
  CHECK(g.w.space_changed());
  CHECK(put(g.w, 100, 99));
  CHECK(!put(g.w, 100, 99));
}

TEST_CASE("wrap-around: a record never straddles the end, order and bytes hold") {
  Ring g;
  unsigned produced = 0, consumed = 0;
  std::uint64_t pads_seen = 0;
  for (int round = 0; round < 2000; ++round) {
    // Odd sizes so that records end at every offset and pads appear.
    while (put(g.w, 1 + (produced * 37) % 900, static_cast<unsigned char>(produced))) ++produced;
    for (int k = 0; k < 3; ++k) {
      const shm::RecordHeader* h = g.r.peek();
      if (!h) break;
      REQUIRE(h->body == 1 + (consumed * 37) % 900);
      CHECK(g.r.body()[0] == static_cast<std::byte>(consumed & 0xff));
      CHECK(g.r.body()[h->body - 1] == static_cast<std::byte>(consumed & 0xff));
      g.r.release();
      ++consumed;
    }
  }
  pads_seen = g.w.tail();
  CHECK(consumed > 3000);
  CHECK(pads_seen > 100 * 4096);  // the counters went round the ring many times
  CHECK(!g.r.corrupt());
}

TEST_CASE("a stale word where the next header lands is not taken for a record") {
  // Lap 0: a record whose body holds, at every cache line, the stamp a
  // header at that offset would carry in lap 1. Lap 1 then writes small
  // records over it, one at a time: before each is committed, nothing is
  // readable (the producer zeroed the next header slot before publishing).
  Ring g;
  const std::uint64_t cap = g.seg.ring_bytes();
  const std::size_t big = g.w.max_body();
  std::byte* b = g.w.reserve(shm::RecordKind::frame, big);
  REQUIRE(b);
  for (std::uint64_t line = 64; line < cap / 2; line += 64) {
    const std::uint64_t forged = cap + line + 1;
    std::memcpy(b + line - sizeof(shm::RecordHeader), &forged, sizeof forged);
  }
  g.w.commit();
  REQUIRE(g.r.peek());
  g.r.release();
  REQUIRE(put(g.w, big, 7));  // the second half of lap 0
  REQUIRE(g.r.peek());
  g.r.release();
  for (unsigned k = 0; k < cap / 2 / 64; ++k) {
    CHECK(g.r.peek() == nullptr);
    CHECK(!g.r.readable());
    REQUIRE(put(g.w, 8, static_cast<unsigned char>(k)));
    CHECK(g.r.readable());
    const shm::RecordHeader* h = g.r.peek();
    REQUIRE(h);
    CHECK(h->body == 8);
    CHECK(g.r.body()[7] == static_cast<std::byte>(k));
    g.r.release();
  }
  CHECK(!g.r.corrupt());
}

TEST_CASE("a producer and a consumer on two threads: every record arrives whole and in order") {
  Ring g;
  constexpr unsigned kRecords = 200000;
  std::thread producer([&] {
    for (unsigned i = 0; i < kRecords;) {
      const std::size_t n = 8 + (i * 29) % 700;
      std::byte* b = g.w.reserve(shm::RecordKind::frame, n);
      if (!b) {
        std::this_thread::yield();
        continue;
      }
      std::memcpy(b, &i, sizeof i);
      std::memset(b + sizeof i, static_cast<int>(i & 0xff), n - sizeof i);
      g.w.commit();
      ++i;
    }
  });
  unsigned bad = 0;
  for (unsigned i = 0; i < kRecords && !g.r.corrupt();) {
    const shm::RecordHeader* h = g.r.peek();
    if (!h) {
      std::this_thread::yield();
      continue;
    }
    unsigned seq = 0;
    std::memcpy(&seq, g.r.body(), sizeof seq);
    const std::size_t n = 8 + (i * 29) % 700;
    if (seq != i || h->body != n || g.r.body()[n - 1] != static_cast<std::byte>(i & 0xff)) ++bad;
    g.r.release();
    ++i;
  }
  producer.join();
  CHECK(bad == 0);
  CHECK(!g.r.corrupt());
  CHECK(g.r.peek() == nullptr);
}

TEST_CASE("a malformed record is reported, not followed") {
  Ring g;
  REQUIRE(put(g.w, 10, 1));
  auto* h = reinterpret_cast<shm::RecordHeader*>(g.seg.ring_data(0));
  SUBCASE("body larger than a record may be") { h->body = 4000; }
  SUBCASE("a pad that does not end at the end of the ring") { h->kind = shm::RecordKind::pad; }
  SUBCASE("unknown kind") { h->kind = static_cast<shm::RecordKind>(77); }
  CHECK(g.r.peek() == nullptr);
  CHECK(g.r.corrupt());
}

TEST_CASE("a record past the end of the ring is reported") {
  Ring g;
  // Move to the last line of the ring, then forge a 2-line record there.
  while (g.w.tail() < g.seg.ring_bytes() - 64) {
    REQUIRE(put(g.w, 8, 0));
    REQUIRE(g.r.peek());
    g.r.release();
  }
  REQUIRE(put(g.w, 8, 0));
  auto* h = reinterpret_cast<shm::RecordHeader*>(g.seg.ring_data(0) + g.seg.ring_bytes() - 64);
  h->body = 100;
  CHECK(g.r.peek() == nullptr);
  CHECK(g.r.corrupt());
}

TEST_CASE("an unpublished record is not read: its stamp must be its position") {
  Ring g;
  REQUIRE(put(g.w, 10, 1));
  auto* h = reinterpret_cast<shm::RecordHeader*>(g.seg.ring_data(0));
  h->stamp = 1 + g.seg.ring_bytes();  // a stamp from another lap
  CHECK(g.r.peek() == nullptr);
  CHECK(!g.r.readable());
  CHECK(!g.r.corrupt());
}

TEST_CASE("the first lap faults the ring in ahead of use, a chunk at a time") {
  // mincore() tells which pages of the (sparse, shared) ring exist.
  auto seg = shm::Segment::create(1, 256 * 1024, "ringfault");
  const std::uint64_t cap = seg.ring_bytes();
  REQUIRE(cap == 256 * 1024);
  const auto resident = [&] {
    const std::size_t page = static_cast<std::size_t>(::sysconf(_SC_PAGESIZE));
    std::vector<unsigned char> v(cap / page);
    REQUIRE(::mincore(seg.ring_data(0), cap, v.data()) == 0);
    std::size_t n = 0;
    for (unsigned char c : v) n += c & 1;
    return n * page;
  };
  CHECK(resident() == 0);
  shm::RingWriter w{&seg.control(0), seg.ring_data(0), cap};
  shm::RingReader r{&seg.control(0), seg.ring_data(0), cap};
  REQUIRE(put(w, 8, 1));
  CHECK(resident() == shm::kPrefaultChunk);  // not page by page, not all at once
  REQUIRE(r.peek());
  r.release();
  // Records up to the end of the first chunk, then one more: the next chunk.
  while (w.tail() < shm::kPrefaultChunk - 64) {
    REQUIRE(put(w, 8, 2));
    REQUIRE(r.peek());
    r.release();
  }
  CHECK(resident() == shm::kPrefaultChunk);
  REQUIRE(put(w, 8, 3));
  CHECK(resident() == 2 * shm::kPrefaultChunk);
}

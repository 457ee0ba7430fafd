// The SPSC ring: records padded to cache lines, wrap-around with pad records,
// full and empty, and malformed records from a hostile producer.
#include "shm/ring.hpp"

#include <doctest/doctest.h>

#include <cstring>

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
  CHECK(n == 4096 / 128);
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
  pads_seen = g.seg.control(0).tail.load();
  CHECK(consumed > 3000);
  CHECK(pads_seen > 100 * 4096);  // the counters went round the ring many times
  CHECK(!g.r.corrupt());
}

TEST_CASE("a malformed record is reported, not followed") {
  Ring g;
  REQUIRE(put(g.w, 10, 1));
  auto* h = reinterpret_cast<shm::RecordHeader*>(g.seg.ring_data(0));
  SUBCASE("length past what was published") { h->bytes = 4096; }
  SUBCASE("not a multiple of a cache line") { h->bytes = 65; }
  SUBCASE("body larger than the record") { h->body = 1000; }
  SUBCASE("unknown kind") { h->kind = static_cast<shm::RecordKind>(77); }
  CHECK(g.r.peek() == nullptr);
  CHECK(g.r.corrupt());
}

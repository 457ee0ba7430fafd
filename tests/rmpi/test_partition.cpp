// partition: contiguous blocks, the first num % cnt ranks get one more.
#include <rmpi/partition.hpp>

#include <doctest/doctest.h>

TEST_CASE("partition 10 over 3 ranks") {
  using P = std::pair<std::size_t, std::size_t>;
  CHECK(rmpi::partition(0, 3, 10) == P{0, 4});
  CHECK(rmpi::partition(1, 3, 10) == P{4, 3});
  CHECK(rmpi::partition(2, 3, 10) == P{7, 3});
}

TEST_CASE("partition covers every item exactly once") {
  for (int cnt = 1; cnt <= 9; ++cnt) {
    for (std::size_t num : {0u, 1u, 2u, 7u, 100u, 101u}) {
      std::size_t next = 0;
      for (int id = 0; id < cnt; ++id) {
        const auto [off, len] = rmpi::partition(id, cnt, num);
        CHECK(off == next);
        CHECK(len + 1 >= num / cnt + 1);
        next = off + len;
      }
      CHECK(next == num);
    }
  }
}

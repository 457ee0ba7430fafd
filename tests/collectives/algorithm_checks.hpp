#pragma once
// Checks shared by the tests of the allreduce, broadcast and allgather
// algorithms: each runs one algorithm at every size of `sizes()` on several
// lengths and payloads, against a serial computation.
#include <doctest/doctest.h>

#include <cmath>
#include <cstring>
#include <rmpi/collectives/detail/chunks.hpp>
#include <rmpi/collectives/in_memory.hpp>
#include <rmpi/collectives/ops.hpp>
#include <span>
#include <string>
#include <tuple>
#include <vector>

#include "support.hpp"

namespace rmpi::collectives::test {

/// Element lengths to try at group size p: empty, one, fewer elements than
/// ranks, a few per rank with a remainder, and more.
inline std::vector<std::size_t> lengths(int p) {
  const auto n = static_cast<std::size_t>(p);
  return {0, 1, n > 1 ? n - 1 : 2, 2 * n + 1, 67};
}

/// Not exactly representable and of mixed magnitude, so that the order of
/// the additions shows in the last bits.
inline double noisy(int rank, std::size_t k) {
  return std::sqrt(2.0 + rank + 0.37 * static_cast<double>(k)) * 1e-3 +
         (rank % 3 == 0 ? 1e6 : 0.1);
}

inline int int_value(int rank, std::size_t k) {
  return rank * 1000 + static_cast<int>(k) * 7 + 1;
}

/// Runs `allreduce(t, op, std::span<E>)` (an in-place algorithm) at every
/// size and length on ints (sum), doubles (sum: bitwise identical on every
/// rank) and, when `keeps_rank_order`, 2x2 matrices (a non-commutative
/// product, checked against the rank-order product).
template <class Allreduce>
void check_span_allreduce(Allreduce allreduce, bool keeps_rank_order) {
  for (int p : sizes()) {
    CAPTURE(p);
    InMemoryWorld world(p);
    const auto lens = lengths(p);
    const auto results = run_ranks(world, [&](InMemoryTransport& t) {
      std::vector<std::tuple<std::vector<int>, std::vector<double>, std::vector<Mat2>>> out;
      for (std::size_t len : lens) {
        std::vector<int> ints(len);
        std::vector<double> doubles(len);
        std::vector<Mat2> mats(len);
        for (std::size_t k = 0; k < len; ++k) {
          ints[k] = int_value(t.rank(), k);
          doubles[k] = noisy(t.rank(), k);
          mats[k] = rank_matrix(t.rank() + static_cast<int>(k));
        }
        allreduce(t, rmpi::op::sum, std::span<int>(ints));
        allreduce(t, rmpi::op::sum, std::span<double>(doubles));
        if (keeps_rank_order) allreduce(t, mat_mul, std::span<Mat2>(mats));
        out.emplace_back(std::move(ints), std::move(doubles), std::move(mats));
      }
      return out;
    });
    CHECK(world.pending_messages() == 0);
    for (std::size_t i = 0; i < lens.size(); ++i) {
      const std::size_t len = lens[i];
      CAPTURE(len);
      for (std::size_t k = 0; k < len; ++k) {
        int sum = 0;
        double dsum = 0;
        Mat2 prod{1, 0, 0, 1};
        for (int r = 0; r < p; ++r) {
          sum += int_value(r, k);
          dsum += noisy(r, k);
          prod = mat_mul(prod, rank_matrix(r + static_cast<int>(k)));
        }
        for (int r = 0; r < p; ++r) {
          const auto& [ints, doubles, mats] = results[static_cast<std::size_t>(r)][i];
          REQUIRE(ints.size() == len);
          CHECK(ints[k] == sum);
          CHECK(doubles[k] == doctest::Approx(dsum));
          CHECK(std::memcmp(&doubles[k], &std::get<1>(results[0][i])[k], sizeof(double)) == 0);
          if (keeps_rank_order) CHECK(mats[k] == prod);
        }
      }
    }
  }
}

/// Runs `broadcast(t, root, std::span<E>)` (in place) at every size, root and
/// length on ints and doubles; non-roots start with garbage.
template <class Broadcast>
void check_span_broadcast(Broadcast broadcast) {
  for (int p : sizes()) {
    CAPTURE(p);
    InMemoryWorld world(p);
    const auto lens = lengths(p);
    const auto results = run_all_roots(world, [&](InMemoryTransport& t, int root) {
      std::vector<std::pair<std::vector<int>, std::vector<double>>> out;
      for (std::size_t len : lens) {
        std::vector<int> ints(len, -1);
        std::vector<double> doubles(len, -1.0);
        if (t.rank() == root) {
          for (std::size_t k = 0; k < len; ++k) {
            ints[k] = int_value(root, k);
            doubles[k] = noisy(root, k);
          }
        }
        broadcast(t, root, std::span<int>(ints));
        broadcast(t, root, std::span<double>(doubles));
        out.emplace_back(std::move(ints), std::move(doubles));
      }
      return out;
    });
    CHECK(world.pending_messages() == 0);
    for (int root = 0; root < p; ++root) {
      for (std::size_t i = 0; i < lens.size(); ++i) {
        std::vector<int> ints(lens[i]);
        std::vector<double> doubles(lens[i]);
        for (std::size_t k = 0; k < lens[i]; ++k) {
          ints[k] = int_value(root, k);
          doubles[k] = noisy(root, k);
        }
        for (int r = 0; r < p; ++r) {
          const auto& got = results[static_cast<std::size_t>(root)][static_cast<std::size_t>(r)][i];
          CHECK(got.first == ints);
          CHECK(got.second == doubles);
        }
      }
    }
  }
}

/// Runs `allgather(t, value)` (opaque values) at every size on ints,
/// strings and vectors of varying length, against rank order.
template <class Allgather>
void check_value_allgather(Allgather allgather) {
  for (int p : sizes()) {
    CAPTURE(p);
    InMemoryWorld world(p);
    const auto results = run_ranks(world, [&](InMemoryTransport& t) {
      const int r = t.rank();
      return std::tuple(allgather(t, 3 * r + 1), allgather(t, std::string(r % 4, 'a') + std::to_string(r)),
                        allgather(t, std::vector<double>(r % 3, 0.5 * r)),
                        allgather(t, rank_matrix(r)));
    });
    CHECK(world.pending_messages() == 0);
    for (int r = 0; r < p; ++r) {
      const auto& [ints, strings, vectors, mats] = results[static_cast<std::size_t>(r)];
      REQUIRE(ints.size() == static_cast<std::size_t>(p));
      REQUIRE(strings.size() == static_cast<std::size_t>(p));
      REQUIRE(vectors.size() == static_cast<std::size_t>(p));
      REQUIRE(mats.size() == static_cast<std::size_t>(p));
      for (int i = 0; i < p; ++i) {
        const auto s = static_cast<std::size_t>(i);
        CHECK(ints[s] == 3 * i + 1);
        CHECK(strings[s] == std::string(i % 4, 'a') + std::to_string(i));
        CHECK(vectors[s] == std::vector<double>(i % 3, 0.5 * i));
        CHECK(mats[s] == rank_matrix(i));
      }
    }
  }
}

/// Runs `allgather(t, std::span<E>)` (in place, part i of rank i as cut by
/// `part_range`) at every size on parts of 0, 1 and 3 ints per rank and on
/// unequal parts.
template <class Allgather>
void check_span_allgather(Allgather allgather) {
  for (int p : sizes()) {
    CAPTURE(p);
    InMemoryWorld world(p);
    const std::vector<std::size_t> totals{0, static_cast<std::size_t>(p),
                                          3 * static_cast<std::size_t>(p),
                                          2 * static_cast<std::size_t>(p) + 1};
    const auto results = run_ranks(world, [&](InMemoryTransport& t) {
      std::vector<std::vector<int>> out;
      for (std::size_t total : totals) {
        std::vector<int> data(total, -1);
        const auto mine = detail::part_range(total, t.size(), t.rank());
        for (std::size_t k = 0; k < mine.length; ++k) {
          data[mine.offset + k] = int_value(t.rank(), k);
        }
        allgather(t, std::span<int>(data));
        out.push_back(std::move(data));
      }
      return out;
    });
    CHECK(world.pending_messages() == 0);
    for (std::size_t i = 0; i < totals.size(); ++i) {
      std::vector<int> expected(totals[i]);
      for (int owner = 0; owner < p; ++owner) {
        const auto part = detail::part_range(totals[i], p, owner);
        for (std::size_t k = 0; k < part.length; ++k) expected[part.offset + k] = int_value(owner, k);
      }
      for (int r = 0; r < p; ++r) CHECK(results[static_cast<std::size_t>(r)][i] == expected);
    }
  }
}

}  // namespace rmpi::collectives::test

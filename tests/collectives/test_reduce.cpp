// reduce over the in-memory transport, every size and every root, checked
// against a serial left fold in rank order.
#include <doctest/doctest.h>

#include <algorithm>
#include <array>
#include <rmpi/collectives/in_memory.hpp>
#include <rmpi/collectives/ops.hpp>
#include <rmpi/collectives/reduce.hpp>
#include <stdexcept>
#include <string>
#include <vector>

#include "support.hpp"

namespace rc = rmpi::collectives;
namespace op = rmpi::op;
using rc::InMemoryTransport;

namespace {

int int_value(int rank, int root) { return rank * 31 + root * 7 + 1; }
double double_value(int rank, int root) { return 0.1 * rank + 0.01 * root + 0.5; }
std::vector<double> vd_value(int rank, int root) {
  std::vector<double> v(static_cast<std::size_t>(root % 4));  // lengths 0..3
  for (std::size_t j = 0; j < v.size(); ++j) v[j] = rank + 0.25 * static_cast<double>(j) + root;
  return v;
}
std::vector<int> vi_value(int rank, int root) {
  std::vector<int> v(static_cast<std::size_t>(root % 3 + 2));
  for (std::size_t j = 0; j < v.size(); ++j) {
    v[j] = ((rank * 7 + static_cast<int>(j) * 13) % 11) - root;
  }
  return v;
}
std::string string_value(int rank) { return "r" + std::to_string(rank) + ";"; }

}  // namespace

TEST_CASE("reduce gives the rank-ordered result at the root and the input elsewhere") {
  for (int p : rc::test::sizes()) {
    CAPTURE(p);
    rc::InMemoryWorld world(p);
    const auto ints = rc::test::run_all_roots(world, [](InMemoryTransport& t, int root) {
      return rc::reduce(t, root, op::sum, int_value(t.rank(), root));
    });
    const auto mins = rc::test::run_all_roots(world, [](InMemoryTransport& t, int root) {
      return rc::reduce(t, root, op::min, (t.rank() * 5 + root) % 7 - 3);
    });
    const auto doubles = rc::test::run_all_roots(world, [](InMemoryTransport& t, int root) {
      return rc::reduce(t, root, op::sum, double_value(t.rank(), root));
    });
    const auto vd = rc::test::run_all_roots(world, [](InMemoryTransport& t, int root) {
      return rc::reduce(t, root, op::sum, vd_value(t.rank(), root));
    });
    const auto vi = rc::test::run_all_roots(world, [](InMemoryTransport& t, int root) {
      return rc::reduce(t, root, op::max, vi_value(t.rank(), root));
    });
    CHECK(world.pending_messages() == 0);
    for (int root = 0; root < p; ++root) {
      CAPTURE(root);
      int sum = 0;
      int mn = 1 << 30;
      double dsum = 0;
      std::vector<double> vsum(vd_value(0, root).size(), 0.0);
      std::vector<int> vmax = vi_value(0, root);
      for (int r = 0; r < p; ++r) {
        sum += int_value(r, root);
        mn = std::min(mn, (r * 5 + root) % 7 - 3);
        dsum += double_value(r, root);
        const auto v = vd_value(r, root);
        for (std::size_t j = 0; j < v.size(); ++j) vsum[j] += v[j];
        const auto w = vi_value(r, root);
        for (std::size_t j = 0; j < w.size(); ++j) vmax[j] = std::max(vmax[j], w[j]);
      }
      for (int r = 0; r < p; ++r) {
        if (r == root) {
          CHECK(ints[root][r] == sum);
          CHECK(mins[root][r] == mn);
          CHECK(doubles[root][r] == doctest::Approx(dsum));
          REQUIRE(vd[root][r].size() == vsum.size());
          for (std::size_t j = 0; j < vsum.size(); ++j) {
            CHECK(vd[root][r][j] == doctest::Approx(vsum[j]));
          }
          CHECK(vi[root][r] == vmax);
        } else {
          CHECK(ints[root][r] == int_value(r, root));
          CHECK(doubles[root][r] == double_value(r, root));
          CHECK(vd[root][r] == vd_value(r, root));
          CHECK(vi[root][r] == vi_value(r, root));
        }
      }
    }
  }
}

TEST_CASE("reduce keeps rank order for non-commutative ops, at every root") {
  for (int p : rc::test::sizes()) {
    CAPTURE(p);
    rc::InMemoryWorld world(p);
    const auto concat = [](const std::string& a, const std::string& b) { return a + b; };
    const auto strings = rc::test::run_all_roots(world, [&](InMemoryTransport& t, int root) {
      return rc::reduce(t, root, concat, string_value(t.rank()));
    });
    const auto mats = rc::test::run_all_roots(world, [](InMemoryTransport& t, int root) {
      return rc::reduce(t, root, rc::test::mat_mul, rc::test::rank_matrix(t.rank()));
    });
    std::string expected;
    rc::test::Mat2 product = rc::test::rank_matrix(0);
    for (int r = 0; r < p; ++r) expected += string_value(r);
    for (int r = 1; r < p; ++r) product = rc::test::mat_mul(product, rc::test::rank_matrix(r));
    for (int root = 0; root < p; ++root) {
      CAPTURE(root);
      CHECK(strings[root][root] == expected);
      CHECK(mats[root][root] == product);
    }
  }
}

TEST_CASE("reduce applies element-wise to arrays, nested vectors and vector<bool>") {
  for (int p : {1, 3, 6, 9}) {
    for (int root : {0, p - 1}) {
      rc::InMemoryWorld world(p);
      const auto arrays = rc::test::run_ranks(world, [&](InMemoryTransport& t) {
        return rc::reduce(t, root, op::min, std::array<int, 3>{t.rank(), -t.rank(), 7});
      });
      CHECK(arrays[root] == std::array<int, 3>{0, 1 - p, 7});
      const auto nested = rc::test::run_ranks(world, [&](InMemoryTransport& t) {
        return rc::reduce(t, root, op::sum,
                          std::vector<std::vector<int>>{{t.rank()}, {1, 2 * t.rank()}});
      });
      const int s = p * (p - 1) / 2;
      CHECK(nested[root] == std::vector<std::vector<int>>{{s}, {p, 2 * s}});
      const auto bools = rc::test::run_ranks(world, [&](InMemoryTransport& t) {
        return rc::reduce(t, root, op::land, std::vector<bool>{true, t.rank() != 1});
      });
      CHECK(bools[root] == std::vector<bool>{true, p < 2});
      const auto bits = rc::test::run_ranks(world, [&](InMemoryTransport& t) {
        return rc::reduce(t, root, op::bor, std::vector<unsigned>{1u << t.rank(), 0u});
      });
      CHECK(bits[root] == std::vector<unsigned>{(1u << p) - 1, 0u});
    }
  }
}

TEST_CASE("reduce of vectors of different lengths names both lengths and ranks") {
  rc::InMemoryWorld world(5);
  try {
    world.run([](InMemoryTransport& t) {
      (void)rc::reduce(t, 0, op::sum, std::vector<double>(t.rank() == 3 ? 4 : 3, 1.0));
    });
    FAIL("no exception");
  } catch (const std::invalid_argument& e) {
    // Rank 2 combines rank 3's block in round 0.
    CHECK(std::string(e.what()) ==
          "rmpi::collectives::reduce: element-wise operands differ in length: "
          "3 at rank 2, 4 at rank 3");
  }
  // With root 4, ranks 0..3 wrap: the root combines ranks 0..3 with itself last.
  try {
    world.run([](InMemoryTransport& t) {
      (void)rc::reduce(t, 4, op::sum, std::vector<int>(t.rank() == 4 ? 2 : 1, 1));
    });
    FAIL("no exception");
  } catch (const std::invalid_argument& e) {
    CHECK(std::string(e.what()) ==
          "rmpi::collectives::reduce: element-wise operands differ in length: "
          "1 at rank 0, 2 at rank 4");
  }
}

TEST_CASE("reduce rejects a root outside the group") {
  rc::InMemoryWorld world(2);
  CHECK_THROWS_AS(world.run([](InMemoryTransport& t) { (void)rc::reduce(t, -1, op::sum, 1); }),
                  std::invalid_argument);
}

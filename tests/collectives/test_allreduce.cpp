// allreduce over the in-memory transport: every size, results identical on
// every rank, down to the bits of a double.
#include <doctest/doctest.h>

#include <cmath>
#include <cstring>
#include <rmpi/collectives/allreduce.hpp>
#include <rmpi/collectives/in_memory.hpp>
#include <rmpi/collectives/ops.hpp>
#include <string>
#include <vector>

#include "support.hpp"

namespace rc = rmpi::collectives;
namespace op = rmpi::op;
using rc::InMemoryTransport;

namespace {

// Not exactly representable and of mixed magnitude, so that the order of the
// additions shows in the last bits.
double noisy(int rank) { return std::sqrt(2.0 + rank) * 1e-3 + (rank % 3 == 0 ? 1e6 : 0.1); }

}  // namespace

TEST_CASE("allreduce gives every rank the serial result") {
  for (int p : rc::test::sizes()) {
    CAPTURE(p);
    rc::InMemoryWorld world(p);
    const auto results = rc::test::run_ranks(world, [](InMemoryTransport& t) {
      const int r = t.rank();
      const int sum = rc::allreduce(t, op::sum, r * r + 1);
      const int prod = rc::allreduce(t, op::prod, r % 2 == 0 ? 1 : -1);
      const auto vi = rc::allreduce(t, op::max, std::vector<int>{r, -r, r % 4});
      const auto vd = rc::allreduce(t, op::sum, std::vector<double>{0.5 * r, 1.0});
      const auto s = rc::allreduce(
          t, [](const std::string& a, const std::string& b) { return a + b; },
          std::to_string(r) + ",");
      return std::tuple(sum, prod, vi, vd, s);
    });
    CHECK(world.pending_messages() == 0);
    int sum = 0;
    int prod = 1;
    std::string s;
    for (int r = 0; r < p; ++r) {
      sum += r * r + 1;
      prod *= r % 2 == 0 ? 1 : -1;
      s += std::to_string(r) + ",";
    }
    for (int r = 0; r < p; ++r) {
      CHECK(std::get<0>(results[r]) == sum);
      CHECK(std::get<1>(results[r]) == prod);
      CHECK(std::get<2>(results[r]) == std::vector<int>{p - 1, 0, std::min(p - 1, 3)});
      CHECK(std::get<3>(results[r]) == std::vector<double>{0.25 * p * (p - 1), 1.0 * p});
      CHECK(std::get<4>(results[r]) == s);
    }
  }
}

TEST_CASE("allreduce of doubles is bitwise identical on every rank") {
  for (int p : rc::test::sizes()) {
    CAPTURE(p);
    rc::InMemoryWorld world(p);
    const auto results = rc::test::run_ranks(world, [](InMemoryTransport& t) {
      return std::pair(
          rc::allreduce(t, op::sum, noisy(t.rank())),
          rc::allreduce(t, op::sum, std::vector<double>{noisy(t.rank()), 1.0 / (t.rank() + 3)}));
    });
    double serial = 0;
    for (int r = 0; r < p; ++r) serial += noisy(r);
    CHECK(results[0].first == doctest::Approx(serial));
    for (int r = 1; r < p; ++r) {
      CHECK(std::memcmp(&results[r].first, &results[0].first, sizeof(double)) == 0);
      REQUIRE(results[r].second.size() == 2);
      CHECK(std::memcmp(results[r].second.data(), results[0].second.data(), 2 * sizeof(double)) ==
            0);
    }
  }
}

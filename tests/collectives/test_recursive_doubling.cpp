// Recursive-doubling allreduce: values of any type, and in place on spans.
#include <rmpi/collectives/recursive_doubling.hpp>

#include <doctest/doctest.h>

#include <cstring>
#include <string>
#include <tuple>
#include <vector>

#include "algorithm_checks.hpp"

namespace rc = rmpi::collectives;
namespace op = rmpi::op;
using rc::InMemoryTransport;

TEST_CASE("recursive doubling in place: serial result, rank order, identical bits") {
  rc::test::check_span_allreduce(
      [](InMemoryTransport& t, auto o, auto data) { rc::allreduce_recursive_doubling(t, o, data); },
      true);
}

TEST_CASE("recursive doubling on opaque values keeps rank order at every size") {
  for (int p : rc::test::sizes()) {
    CAPTURE(p);
    rc::InMemoryWorld world(p);
    const auto results = rc::test::run_ranks(world, [](InMemoryTransport& t) {
      const int r = t.rank();
      const auto concat = [](const std::string& a, const std::string& b) { return a + b; };
      return std::tuple(
          rc::allreduce_recursive_doubling(t, op::sum, r * r + 1),
          rc::allreduce_recursive_doubling(t, concat, std::to_string(r) + ","),
          rc::allreduce_recursive_doubling(t, rc::test::mat_mul, rc::test::rank_matrix(r)),
          rc::allreduce_recursive_doubling(t, op::sum, std::vector<double>{rc::test::noisy(r, 0), 1.0}),
          rc::allreduce_recursive_doubling(t, op::max, std::vector<int>{r, -r}));
    });
    CHECK(world.pending_messages() == 0);
    int sum = 0;
    std::string s;
    rc::test::Mat2 prod{1, 0, 0, 1};
    for (int r = 0; r < p; ++r) {
      sum += r * r + 1;
      s += std::to_string(r) + ",";
      prod = rc::test::mat_mul(prod, rc::test::rank_matrix(r));
    }
    for (int r = 0; r < p; ++r) {
      const auto& [rs, rstr, rmat, rvd, rvi] = results[static_cast<std::size_t>(r)];
      CHECK(rs == sum);
      CHECK(rstr == s);
      CHECK(rmat == prod);
      REQUIRE(rvd.size() == 2);
      CHECK(std::memcmp(rvd.data(), std::get<3>(results[0]).data(), 2 * sizeof(double)) == 0);
      CHECK(rvd[1] == p);
      CHECK(rvi == std::vector<int>{p - 1, 0});
    }
  }
}

TEST_CASE("recursive doubling: ceil(log2 p') exchanges plus the fold") {
  // p = 6: p' = 4, two folded pairs: 2 + 2 fold messages, 4 x 2 exchanges.
  rc::InMemoryWorld world(6);
  world.run([](InMemoryTransport& t) { (void)rc::allreduce_recursive_doubling(t, op::sum, 1); });
  CHECK(world.messages_sent() == 2 + 2 + 4 * 2);
}

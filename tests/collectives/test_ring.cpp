// Ring allreduce and ring allgathers.
#include <rmpi/collectives/ring.hpp>

#include <doctest/doctest.h>

#include "algorithm_checks.hpp"

namespace rc = rmpi::collectives;
using rc::InMemoryTransport;

TEST_CASE("ring allreduce: serial result and identical bits on every rank") {
  // Ring order is not rank order: no non-commutative op here.
  rc::test::check_span_allreduce(
      [](InMemoryTransport& t, auto o, auto data) { rc::allreduce_ring(t, o, data); }, false);
}

TEST_CASE("ring allreduce with bitwise ops") {
  for (int p : {3, 7, 12}) {
    CAPTURE(p);
    rc::InMemoryWorld world(p);
    const auto results = rc::test::run_ranks(world, [](InMemoryTransport& t) {
      std::vector<unsigned> ors(40), ands(40);
      for (std::size_t k = 0; k < ors.size(); ++k) {
        ors[k] = 1u << ((t.rank() + k) % 32);
        ands[k] = ~ors[k];
      }
      rc::allreduce_ring(t, rmpi::op::bor, std::span<unsigned>(ors));
      rc::allreduce_ring(t, rmpi::op::band, std::span<unsigned>(ands));
      return std::pair(ors, ands);
    });
    for (std::size_t k = 0; k < 40; ++k) {
      unsigned ors = 0;
      for (int r = 0; r < p; ++r) ors |= 1u << ((r + k) % 32);
      for (const auto& [got_or, got_and] : results) {
        CHECK(got_or[k] == ors);
        CHECK(got_and[k] == ~ors);
      }
    }
  }
}

TEST_CASE("ring allgather of opaque values, in rank order") {
  rc::test::check_value_allgather(
      [](InMemoryTransport& t, const auto& v) { return rc::allgather_ring(t, v); });
}

TEST_CASE("ring allgather in place") {
  rc::test::check_span_allgather(
      [](InMemoryTransport& t, auto data) { rc::allgather_ring(t, data); });
}

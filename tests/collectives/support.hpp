#pragma once
// Helpers shared by the collectives tests: the group sizes to sweep and a way
// to run one function per rank and collect what each rank returned.
#include <optional>
#include <rmpi/collectives/in_memory.hpp>
#include <utility>
#include <vector>

namespace rmpi::collectives::test {

/// Every size 1..17, plus 32 and 33 (a power of two and one past it).
inline std::vector<int> sizes() {
  std::vector<int> s;
  for (int p = 1; p <= 17; ++p) s.push_back(p);
  s.push_back(32);
  s.push_back(33);
  return s;
}

/// Runs `f(t)` on every rank of `world` and returns the results by rank.
template <class F>
auto run_ranks(InMemoryWorld& world, F f) {
  using R = decltype(f(std::declval<InMemoryTransport&>()));
  std::vector<std::optional<R>> slots(static_cast<std::size_t>(world.size()));
  world.run([&](InMemoryTransport& t) { slots[static_cast<std::size_t>(t.rank())].emplace(f(t)); });
  std::vector<R> results;
  for (auto& slot : slots) results.push_back(std::move(*slot));
  return results;
}

/// For every root, `f(t, root)` on every rank, in one run (so consecutive
/// collectives share the queues); returns results[root][rank].
template <class F>
auto run_all_roots(InMemoryWorld& world, F f) {
  using R = decltype(f(std::declval<InMemoryTransport&>(), 0));
  const auto by_rank = run_ranks(world, [&](InMemoryTransport& t) {
    std::vector<R> per_root;
    for (int root = 0; root < t.size(); ++root) per_root.push_back(f(t, root));
    return per_root;
  });
  std::vector<std::vector<R>> by_root(by_rank.size());
  for (std::size_t root = 0; root < by_rank.size(); ++root) {
    for (const auto& ranks : by_rank) by_root[root].push_back(ranks[root]);
  }
  return by_root;
}

/// A 2x2 matrix of integers modulo 1000003: multiplication is associative and
/// not commutative, so a product tells the order of its operands.
struct Mat2 {
  long long a, b, c, d;
  friend bool operator==(const Mat2&, const Mat2&) = default;
};

/// The product `x * y` modulo 1000003.
inline Mat2 mat_mul(const Mat2& x, const Mat2& y) {
  constexpr long long m = 1000003;
  return {(x.a * y.a + x.b * y.c) % m, (x.a * y.b + x.b * y.d) % m, (x.c * y.a + x.d * y.c) % m,
          (x.c * y.b + x.d * y.d) % m};
}

/// A distinct, non-commuting matrix for each rank.
inline Mat2 rank_matrix(int rank) { return {1, rank + 1, rank % 3, 1 + 2 * rank}; }

}  // namespace rmpi::collectives::test

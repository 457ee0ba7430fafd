#pragma once
/// Barrier: a reduce of a one-byte token to rank 0, then a broadcast of it,
/// as the reference does (2 ceil(log2 p) rounds, 2 (p - 1) messages).
#include <rmpi/collectives/broadcast.hpp>
#include <rmpi/collectives/reduce.hpp>
#include <rmpi/collectives/transport.hpp>

namespace rmpi::collectives {

/// Returns only once every rank of `t` has called it.
template <PointToPoint P>
void barrier(P& t) {
  using Token = unsigned char;
  const Token token = collectives::reduce(
      t, 0, [](Token a, Token) { return a; }, Token{0});
  collectives::broadcast(t, 0, token);
}

}  // namespace rmpi::collectives

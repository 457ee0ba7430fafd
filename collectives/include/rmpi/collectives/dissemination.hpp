#pragma once
/// Dissemination barrier (Hensgen, Finkel and Manber; MPICH's default): in
/// round k of ceil(log2 p), rank r sends a one-byte token to r + 2^k and
/// waits for the one from r - 2^k (mod p). No root, and p ceil(log2 p)
/// messages spread evenly, against the hypercube barrier's 2 ceil(log2 p)
/// rounds through rank 0.
#include <rmpi/collectives/transport.hpp>

namespace rmpi::collectives {

/// Returns only once every rank of `t` has called it.
template <PointToPoint P>
void barrier_dissemination(P& t) {
  using Token = unsigned char;
  const int rank = t.rank();
  const int size = t.size();
  for (int dist = 1; dist < size; dist *= 2) {
    t.send((rank + dist) % size, kCollectiveTag, Token{0});
    (void)t.template recv<Token>((rank - dist + size) % size, kCollectiveTag);
  }
}

}  // namespace rmpi::collectives

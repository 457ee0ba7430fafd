#pragma once
/// Allreduce: reduce to rank 0, then broadcast from rank 0, as the reference
/// does (2 ceil(log2 p) rounds). Every rank ends with a bitwise identical
/// result, since all copies come from rank 0's.
#include <rmpi/collectives/broadcast.hpp>
#include <rmpi/collectives/reduce.hpp>
#include <rmpi/collectives/transport.hpp>
#include <utility>

namespace rmpi::collectives {

/// Returns `v0 op v1 op ... op v(p-1)` (ascending rank order) at every rank;
/// `op` as for `reduce`.
///
///   auto total = rmpi::collectives::allreduce(t, rmpi::op::sum, local);
template <class T, class Op, PointToPoint P>
T allreduce(P& t, Op op, T value) {
  T reduced = collectives::reduce(t, 0, std::move(op), std::move(value));
  return collectives::broadcast(t, 0, std::move(reduced));
}

}  // namespace rmpi::collectives

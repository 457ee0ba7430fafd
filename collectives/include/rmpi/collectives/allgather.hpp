#pragma once
/// Allgather: a gather to rank 0, then a broadcast of the gathered vector
/// (2 ceil(log2 p) rounds).
#include <rmpi/collectives/broadcast.hpp>
#include <rmpi/collectives/gather.hpp>
#include <rmpi/collectives/transport.hpp>
#include <utility>
#include <vector>

namespace rmpi::collectives {

/// Returns the values of ranks 0 .. p-1, in rank order, at every rank.
template <class T, PointToPoint P>
std::vector<T> allgather(P& t, const T& value) {
  std::vector<T> all = gather(t, 0, value);
  return broadcast(t, 0, std::move(all));
}

}  // namespace rmpi::collectives

#pragma once
/// Alltoall: every rank sends element i of its vector to rank i. Pairwise
/// exchange by shifts: in step k (1 .. p-1) a rank sends to rank + k and
/// receives from rank - k (mod p). No send waits on a receive, so no
/// schedule of ranks deadlocks as long as `send` does not block.
#include <optional>
#include <rmpi/collectives/transport.hpp>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace rmpi::collectives {

/// Returns `in` with `in[i]` = element `rank()` of rank i's `out`.
/// `out.size()` must equal `t.size()`, else `std::invalid_argument`.
template <class T, PointToPoint P>
std::vector<T> alltoall(P& t, std::vector<T> out) {
  const int rank = t.rank();
  const int size = t.size();
  if (out.size() != static_cast<std::size_t>(size)) {
    throw std::invalid_argument("rmpi::collectives::alltoall: rank " + std::to_string(rank) +
                                " passed " + std::to_string(out.size()) + " values for " +
                                std::to_string(size) + " ranks");
  }
  std::vector<std::optional<T>> in(out.size());
  in[static_cast<std::size_t>(rank)].emplace(std::move(out[static_cast<std::size_t>(rank)]));
  for (int k = 1; k < size; ++k) {
    const int dest = (rank + k) % size;
    const int src = (rank - k + size) % size;
    t.send(dest, kCollectiveTag, std::as_const(out[static_cast<std::size_t>(dest)]));
    in[static_cast<std::size_t>(src)].emplace(t.template recv<T>(src, kCollectiveTag));
  }
  std::vector<T> result;
  result.reserve(in.size());
  for (auto& v : in) result.push_back(std::move(*v));
  return result;
}

}  // namespace rmpi::collectives

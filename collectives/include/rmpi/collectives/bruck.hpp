#pragma once
/// Bruck's allgather (MPICH's choice for short data on any group size):
/// ceil(log2 p) rounds; in round k, rank r sends the first
/// min(2^k, p - 2^k) values it holds (those of ranks r, r + 1, ...) to
/// r - 2^k and appends what r + 2^k sends it. The values end rotated by r,
/// and are put back in rank order at the end.
#include <algorithm>
#include <cstddef>
#include <rmpi/collectives/detail/chunks.hpp>
#include <rmpi/collectives/transport.hpp>
#include <span>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

namespace rmpi::collectives {

/// Returns the values of ranks 0 .. p-1, in rank order, at every rank.
/// Messages are `std::vector<T>` (sent from a span when `T` is trivially
/// copyable).
template <class T, PointToPoint P>
std::vector<T> allgather_bruck(P& t, const T& value) {
  const int rank = t.rank();
  const int size = t.size();
  std::vector<T> held;  // held[i] is the value of rank (rank + i) % size
  held.reserve(static_cast<std::size_t>(size));
  held.push_back(value);
  for (int dist = 1; dist < size; dist *= 2) {
    const auto count = static_cast<std::size_t>(std::min(dist, size - dist));
    const int dest = (rank - dist + size) % size;
    const int src = (rank + dist) % size;
    if constexpr (std::is_trivially_copyable_v<T> && !std::is_same_v<T, bool>) {
      t.send(dest, kCollectiveTag, std::span<const T>(held.data(), count));
    } else {
      t.send(dest, kCollectiveTag, std::vector<T>(held.begin(), held.begin() + count));
    }
    auto part = t.template recv<std::vector<T>>(src, kCollectiveTag);
    if (part.size() != count) {
      throw std::runtime_error("rmpi::collectives::allgather: rank " + std::to_string(rank) +
                               " received " + std::to_string(part.size()) + " values from rank " +
                               std::to_string(src) + ", expected " + std::to_string(count));
    }
    held.insert(held.end(), std::make_move_iterator(part.begin()),
                std::make_move_iterator(part.end()));
  }
  std::rotate(held.begin(), held.begin() + (size - rank) % size, held.end());
  return held;
}

/// In place (MPI_Allgather with MPI_IN_PLACE): `data` holds p parts, part i
/// (`detail::part_range(data.size(), p, i)`) belonging to rank i. The parts
/// are gathered rotated in a per-thread scratch buffer, then copied to their
/// places. Allocates nothing once the scratch buffer has grown.
template <class E, PointToPoint P>
void allgather_bruck(P& t, std::span<E> data) {
  const int rank = t.rank();
  const int size = t.size();
  if (size == 1) return;
  const auto part = [&](int r) {
    const detail::Range range = detail::part_range(data.size(), size, r % size);
    return data.subspan(range.offset, range.length);
  };
  // The elements of the parts of ranks first, first + 1, ..., first + n - 1.
  const auto run_length = [&](int first, int n) {
    std::size_t length = 0;
    for (int i = 0; i < n; ++i) length += part(first + i).size();
    return length;
  };
  detail::Scratch<E> scratch(data.size());
  const std::span<E> held = scratch.first(data.size());  // parts of rank, rank + 1, ...
  std::copy(part(rank).begin(), part(rank).end(), held.begin());
  std::size_t filled = part(rank).size();
  for (int dist = 1; dist < size; dist *= 2) {
    const int count = std::min(dist, size - dist);
    const int src = (rank + dist) % size;
    t.send((rank - dist + size) % size, kCollectiveTag,
           std::span<const E>(held.first(run_length(rank, count))));
    const std::size_t length = run_length(src, count);
    collectives::recv_into(t, src, kCollectiveTag, held.subspan(filled, length));
    filled += length;
  }
  std::size_t offset = 0;
  for (int i = 0; i < size; ++i) {
    const auto out = part(rank + i);
    std::copy(held.begin() + static_cast<std::ptrdiff_t>(offset),
              held.begin() + static_cast<std::ptrdiff_t>(offset + out.size()), out.begin());
    offset += out.size();
  }
}

}  // namespace rmpi::collectives

#pragma once
/// Ring algorithms (bandwidth-optimal for long data, p - 1 steps each way):
/// every rank sends only to its right neighbour and receives only from its
/// left one.
///   - allreduce: a ring reduce-scatter then a ring allgather of p parts of
///     the data (each rank sends about 2 N (p - 1) / p elements). A part's
///     operands are combined in ring order starting at some rank, not in
///     rank order, so use it only for ops whose result does not depend on
///     the order of the operands (`rmpi::op::order_free`).
///   - allgather: of opaque values (one value per message), or in place on a
///     contiguous buffer cut into p parts.
#include <cstddef>
#include <optional>
#include <rmpi/collectives/detail/chunks.hpp>
#include <rmpi/collectives/transport.hpp>
#include <span>
#include <utility>
#include <vector>

namespace rmpi::collectives {

namespace detail {

/// The ring allgather of `data` cut into `size` parts (`part_range`): the
/// rank at ring position `pos` (0 .. size-1) holds part `pos` and ends with
/// all of them; `left` / `right` are the absolute ranks at positions
/// pos - 1 / pos + 1.
template <class E, PointToPoint P>
void ring_allgather_parts(P& t, std::span<E> data, int size, int pos, int left, int right) {
  const auto part = [&](int index) {
    const Range r = part_range(data.size(), size, (index % size + size) % size);
    return data.subspan(r.offset, r.length);
  };
  for (int step = 0; step < size - 1; ++step) {
    t.send(right, kCollectiveTag, std::span<const E>(part(pos - step)));
    collectives::recv_into(t, left, kCollectiveTag, part(pos - step - 1));
  }
}

}  // namespace detail

/// In place: `data` at every rank becomes the element-wise reduction of
/// every rank's `data` (all of one length), with each element's operands
/// combined in ring order. Allocates nothing once the per-thread scratch
/// buffer (N / p elements) has grown.
template <class E, class Op, PointToPoint P>
void allreduce_ring(P& t, Op op, std::span<E> data) {
  static_assert(detail::is_chunk_element_v<Op, E>,
                "rmpi::collectives::allreduce: op must be callable as E(E, E) on trivially "
                "copyable elements");
  const int rank = t.rank();
  const int size = t.size();
  if (size == 1) return;
  const int left = (rank - 1 + size) % size;
  const int right = (rank + 1) % size;
  const auto part = [&](int index) {
    const detail::Range r = detail::part_range(data.size(), size, (index % size + size) % size);
    return data.subspan(r.offset, r.length);
  };
  detail::Scratch<E> scratch(detail::part_range(data.size(), size, 0).length);
  // Reduce-scatter: in step s, part (rank - s) goes right and part
  // (rank - s - 1) comes from the left, combined after the left's partial.
  for (int step = 0; step < size - 1; ++step) {
    t.send(right, kCollectiveTag, std::span<const E>(part(rank - step)));
    const auto mine = part(rank - step - 1);
    const auto theirs = scratch.first(mine.size());
    collectives::recv_into(t, left, kCollectiveTag, theirs);
    detail::combine_ordered<Op, E>(op, mine, theirs, false);
  }
  // Now part (rank + 1) is complete here; pass the complete parts around.
  detail::ring_allgather_parts(t, data, size, rank + 1, left, right);
}

/// Returns the values of ranks 0 .. p-1, in rank order, at every rank: in
/// step s, the value of rank (r - s) goes right. p - 1 messages of one `T`.
template <class T, PointToPoint P>
std::vector<T> allgather_ring(P& t, const T& value) {
  const int rank = t.rank();
  const int size = t.size();
  const int left = (rank - 1 + size) % size;
  const int right = (rank + 1) % size;
  std::vector<std::optional<T>> slots(static_cast<std::size_t>(size));
  slots[static_cast<std::size_t>(rank)].emplace(value);
  for (int step = 0; step < size - 1; ++step) {
    const auto out = static_cast<std::size_t>((rank - step + size) % size);
    const auto in = static_cast<std::size_t>((rank - step - 1 + size) % size);
    t.send(right, kCollectiveTag, std::as_const(*slots[out]));
    slots[in].emplace(t.template recv<T>(left, kCollectiveTag));
  }
  std::vector<T> all;
  all.reserve(slots.size());
  for (auto& slot : slots) all.push_back(std::move(*slot));
  return all;
}

/// In place (MPI_Allgather with MPI_IN_PLACE): `data` holds p parts, part i
/// (`detail::part_range(data.size(), p, i)`, so equal parts when the size is
/// a multiple of p) belonging to rank i; every rank fills in the others'
/// parts. Allocates nothing.
template <class E, PointToPoint P>
void allgather_ring(P& t, std::span<E> data) {
  const int rank = t.rank();
  const int size = t.size();
  detail::ring_allgather_parts(t, data, size, rank, (rank - 1 + size) % size, (rank + 1) % size);
}

}  // namespace rmpi::collectives

#pragma once
/// Recursive-doubling allreduce (MPICH's algorithm for short messages):
/// ceil(log2 p) exchanges of the whole value, no root. Groups that are not a
/// power of two are folded first (see detail/fold.hpp). In round i, new ranks
/// n and n ^ 2^i swap what they hold and both compute
/// op(lower ranks' value, higher ranks' value): the operands stay in rank
/// order, and both partners compute the same bits, so every rank ends with a
/// bitwise identical result.
#include <optional>
#include <rmpi/collectives/detail/chunks.hpp>
#include <rmpi/collectives/detail/combine.hpp>
#include <rmpi/collectives/detail/fold.hpp>
#include <rmpi/collectives/transport.hpp>
#include <span>
#include <utility>

namespace rmpi::collectives {

/// `v0 op v1 op ... op v(p-1)` at every rank; `op` as for `reduce` (whole
/// values, or element-wise on vectors and arrays). Messages are `T`s.
template <class T, class Op, PointToPoint P>
T allreduce_recursive_doubling(P& t, Op op, T value) {
  static_assert(detail::is_reducible<Op, T>(),
                "rmpi::collectives::allreduce: op must be callable as T(T, T), or, for a "
                "std::vector / std::array T, on its elements");
  const int rank = t.rank();
  const int size = t.size();
  if (size == 1) return value;
  const detail::Fold fold(size);
  if (fold.sits_out(rank)) {
    t.send(rank + 1, kCollectiveTag, std::as_const(value));
    return t.template recv<T>(rank + 1, kCollectiveTag);
  }
  if (fold.takes_in(rank)) {
    T lower = t.template recv<T>(rank - 1, kCollectiveTag);
    detail::combine_into(op, lower, value, rank - 1, rank);
    value = std::move(lower);
  }
  const int n = fold.new_rank(rank);
  for (int mask = 1; mask < fold.pof2; mask <<= 1) {
    const int partner = fold.old_rank(n ^ mask);
    t.send(partner, kCollectiveTag, std::as_const(value));
    T theirs = t.template recv<T>(partner, kCollectiveTag);
    if (partner > rank) {
      detail::combine_into(op, value, theirs, rank, partner);
    } else {
      detail::combine_into(op, theirs, value, partner, rank);
      value = std::move(theirs);
    }
  }
  if (fold.takes_in(rank)) t.send(rank - 1, kCollectiveTag, std::as_const(value));
  return value;
}

/// The same on a contiguous buffer, in place: `data` at every rank becomes
/// the element-wise reduction of every rank's `data` (all of one length).
/// Messages are the whole buffer; allocates nothing once the per-thread
/// scratch buffer has grown.
template <class E, class Op, PointToPoint P>
void allreduce_recursive_doubling(P& t, Op op, std::span<E> data) {
  static_assert(detail::is_chunk_element_v<Op, E>,
                "rmpi::collectives::allreduce: op must be callable as E(E, E) on trivially "
                "copyable elements");
  const int rank = t.rank();
  const int size = t.size();
  if (size == 1) return;
  const std::span<const E> mine(data);
  const detail::Fold fold(size);
  if (fold.sits_out(rank)) {
    t.send(rank + 1, kCollectiveTag, mine);
    collectives::recv_into(t, rank + 1, kCollectiveTag, data);
    return;
  }
  detail::Scratch<E> scratch(data.size());
  const std::span<E> theirs = scratch.first(data.size());
  if (fold.takes_in(rank)) {
    collectives::recv_into(t, rank - 1, kCollectiveTag, theirs);
    detail::combine_ordered<Op, E>(op, data, theirs, false);
  }
  const int n = fold.new_rank(rank);
  for (int mask = 1; mask < fold.pof2; mask <<= 1) {
    const int partner = fold.old_rank(n ^ mask);
    t.send(partner, kCollectiveTag, mine);
    collectives::recv_into(t, partner, kCollectiveTag, theirs);
    detail::combine_ordered<Op, E>(op, data, theirs, rank < partner);
  }
  if (fold.takes_in(rank)) t.send(rank - 1, kCollectiveTag, mine);
}

}  // namespace rmpi::collectives

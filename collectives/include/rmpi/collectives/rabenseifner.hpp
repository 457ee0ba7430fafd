#pragma once
/// Rabenseifner's allreduce for long contiguous data (MPICH's
/// reduce_scatter_allgather): a reduce-scatter by recursive halving, then an
/// allgather by recursive doubling, so each rank sends and receives about
/// 2 N (p - 1) / p elements instead of N log2 p. Groups that are not a power
/// of two are folded first (see detail/fold.hpp).
///
/// Distances grow 1, 2, 4, ... in the reduce-scatter, so partners always
/// hold the combinations of two adjacent, aligned blocks of ranks: the lower
/// block's part goes first, which keeps rank order for any associative op.
/// Each element is combined by exactly one rank and then copied, so every
/// rank ends with bitwise identical data.
///
/// Each step is one exchange with the partner, its receive posted before its
/// send (exchange_into), so that over shared memory the partner's half is
/// pulled straight into place: into the user's span in the allgather, into
/// the scratch buffer in the reduce-scatter (the half this rank gives away is
/// still being read by the partner, so it cannot take the partner's half).
#include <array>
#include <cstddef>
#include <rmpi/collectives/detail/chunks.hpp>
#include <rmpi/collectives/detail/fold.hpp>
#include <rmpi/collectives/transport.hpp>
#include <span>

namespace rmpi::collectives {

/// In place: `data` at every rank becomes the element-wise reduction, in
/// rank order, of every rank's `data` (all of one length). Allocates
/// nothing once the per-thread scratch buffer (N/2 elements) has grown.
template <class E, class Op, PointToPoint P>
void allreduce_rabenseifner(P& t, Op op, std::span<E> data) {
  static_assert(detail::is_chunk_element_v<Op, E>,
                "rmpi::collectives::allreduce: op must be callable as E(E, E) on trivially "
                "copyable elements");
  const int rank = t.rank();
  const int size = t.size();
  if (size == 1) return;
  const detail::Fold fold(size);
  if (fold.sits_out(rank)) {
    t.send(rank + 1, kCollectiveTag, std::span<const E>(data));
    collectives::recv_into(t, rank + 1, kCollectiveTag, data);
    return;
  }
  detail::Scratch<E> scratch(fold.takes_in(rank) ? data.size() : data.size() / 2 + 1);
  if (fold.takes_in(rank)) {
    const auto theirs = scratch.first(data.size());
    collectives::recv_into(t, rank - 1, kCollectiveTag, theirs);
    detail::combine_ordered<Op, E>(op, data, theirs, false);
  }

  // The window [lo, hi) of elements before each halving, for the allgather.
  struct Window {
    std::size_t lo, hi;
  };
  std::array<Window, 32> windows{};
  int steps = 0;
  std::size_t lo = 0;
  std::size_t hi = data.size();
  const int n = fold.new_rank(rank);
  for (int mask = 1; mask < fold.pof2; mask <<= 1, ++steps) {
    const int partner = fold.old_rank(n ^ mask);
    const bool lower = (n & mask) == 0;  // keeps the first half
    const std::size_t mid = lo + (hi - lo) / 2;
    windows[static_cast<std::size_t>(steps)] = {lo, hi};
    const auto keep = lower ? data.subspan(lo, mid - lo) : data.subspan(mid, hi - mid);
    const auto give = lower ? data.subspan(mid, hi - mid) : data.subspan(lo, mid - lo);
    // Not into `give`: the partner may still be reading it (single copy).
    const auto theirs = scratch.first(keep.size());
    collectives::exchange_into(t, partner, kCollectiveTag, std::span<const E>(give), partner, theirs);
    detail::combine_ordered<Op, E>(op, keep, theirs, lower);
    if (lower) {
      hi = mid;
    } else {
      lo = mid;
    }
  }
  for (int mask = fold.pof2 / 2; mask >= 1; mask >>= 1) {
    --steps;
    const int partner = fold.old_rank(n ^ mask);
    const Window w = windows[static_cast<std::size_t>(steps)];
    const std::size_t mid = w.lo + (w.hi - w.lo) / 2;
    const bool lower = (n & mask) == 0;
    const auto have = lower ? data.subspan(w.lo, mid - w.lo) : data.subspan(mid, w.hi - mid);
    const auto get = lower ? data.subspan(mid, w.hi - mid) : data.subspan(w.lo, mid - w.lo);
    collectives::exchange_into(t, partner, kCollectiveTag, std::span<const E>(have), partner, get);
  }
  if (fold.takes_in(rank)) t.send(rank - 1, kCollectiveTag, std::span<const E>(data));
}

}  // namespace rmpi::collectives

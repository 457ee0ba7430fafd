#pragma once
/// Reduce: combines every rank's value with `op` at the root, along the
/// hypercube of `reduce_schedule` (ceil(log2 p) rounds).
#include <optional>
#include <rmpi/collectives/detail/combine.hpp>
#include <rmpi/collectives/schedule.hpp>
#include <rmpi/collectives/transport.hpp>
#include <utility>

namespace rmpi::collectives {

/// Returns, at `root`, `v0 op v1 op ... op v(p-1)` with the operands in
/// ascending rank order (so an associative, non-commutative `op` gives what
/// MPI gives); every other rank gets its own `value` back unchanged.
///
/// `op` is any callable: applied to whole values when `op(T, T)` converts to
/// `T`; otherwise, for `std::vector` and `std::array`, element by element
/// (recursively). Vectors of different lengths throw `std::invalid_argument`
/// naming both lengths and ranks, at the rank that combines them.
///
/// Operands stay in rank order for every root: a block of relative ids that
/// spans the wrap from rank p-1 to rank 0 travels as two partial values (the
/// ranks before the wrap, then those after it), so at most one extra message
/// per round is sent.
template <class T, class Op, PointToPoint P>
T reduce(P& t, int root, Op op, T value) {
  static_assert(detail::is_reducible<Op, T>(),
                "rmpi::collectives::reduce: op must be callable as T(T, T), or, for a "
                "std::vector / std::array T, on its elements");
  const int rank = t.rank();
  const int size = t.size();
  check_group("reduce", rank, size, root);
  const auto steps = reduce_schedule(rank, size, root);
  if (steps.empty()) return value;  // a group of one
  if (steps.size() == 1 && steps.front().action == Step::Action::send) {
    t.send(steps.front().peer, kCollectiveTag, std::as_const(value));  // a leaf
    return value;
  }

  const int id = relative_rank(rank, size, root);
  const int wrap = size - root;  // relative ids >= wrap are ranks 0 .. root-1
  // The rank whose input a partial starting at relative id `first` stands for.
  const auto head_rank = [&](int first) { return absolute_rank(first, size, root); };
  const auto tail_rank = [&](int first) {
    return first >= wrap ? absolute_rank(first, size, root) : 0;
  };

  std::optional<T> head;  // my block's ranks root .. p-1, combined
  std::optional<T> tail;  // my block's ranks 0 .. root-1, combined
  (id < wrap ? head : tail).emplace(rank == root ? std::move(value) : value);

  for (const Step& step : steps) {
    if (step.action == Step::Action::recv) {
      const int peer_id = relative_rank(step.peer, size, root);
      const Block block = reduce_block(peer_id, step.round, size);
      if (block.first < wrap) {  // then also id < wrap: I hold a head
        T part = t.template recv<T>(step.peer, kCollectiveTag);
        detail::combine_into(op, *head, part, head_rank(id), head_rank(peer_id));
      }
      if (block.last > wrap) {
        T part = t.template recv<T>(step.peer, kCollectiveTag);
        if (tail) {
          detail::combine_into(op, *tail, part, tail_rank(id), tail_rank(peer_id));
        } else {
          tail.emplace(std::move(part));
        }
      }
    } else {
      if (head) t.send(step.peer, kCollectiveTag, std::as_const(*head));
      if (tail) t.send(step.peer, kCollectiveTag, std::as_const(*tail));
    }
  }
  if (rank != root) return value;
  if (!tail) return std::move(*head);
  detail::combine_into(op, *tail, *head, 0, root);
  return std::move(*tail);
}

}  // namespace rmpi::collectives

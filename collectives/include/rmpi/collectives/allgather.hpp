#pragma once
/// Allgather: a gather to rank 0, then a broadcast of the gathered vector
/// (2 ceil(log2 p) rounds).
#include <rmpi/collectives/broadcast.hpp>
#include <rmpi/collectives/detail/chunks.hpp>
#include <rmpi/collectives/gather.hpp>
#include <rmpi/collectives/schedule.hpp>
#include <rmpi/collectives/transport.hpp>
#include <span>
#include <utility>
#include <vector>

namespace rmpi::collectives {

/// Returns the values of ranks 0 .. p-1, in rank order, at every rank.
template <class T, PointToPoint P>
std::vector<T> allgather(P& t, const T& value) {
  std::vector<T> all = collectives::gather(t, 0, value);
  return collectives::broadcast(t, 0, std::move(all));
}

/// In place (MPI_Allgather with MPI_IN_PLACE): `data` holds p parts, part i
/// (`detail::part_range(data.size(), p, i)`) belonging to rank i. The
/// gather to rank 0 receives each subtree's parts, which are contiguous,
/// straight into `data`; then rank 0 broadcasts `data`. Allocates nothing.
template <class E, PointToPoint P>
void allgather_hypercube(P& t, std::span<E> data) {
  const int rank = t.rank();
  const int size = t.size();
  const auto parts = [&](Block block) {
    const detail::Range a = detail::part_range(data.size(), size, block.first);
    const detail::Range b = detail::part_range(data.size(), size, block.last - 1);
    return data.subspan(a.offset, b.offset + b.length - a.offset);
  };
  for (const Step& step : reduce_schedule(rank, size, 0)) {
    if (step.action == Step::Action::recv) {
      collectives::recv_into(t, step.peer, kCollectiveTag, parts(reduce_block(step.peer, step.round, size)));
    } else {
      // My block: me and every subtree I received, [rank, rank + 2^round).
      t.send(step.peer, kCollectiveTag, std::span<const E>(parts(reduce_block(rank, step.round, size))));
    }
  }
  collectives::broadcast_hypercube(t, 0, data);
}

}  // namespace rmpi::collectives

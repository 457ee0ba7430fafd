#pragma once
/// Van de Geijn's broadcast for long data (MPICH's scatter_ring_allgather):
/// the root's buffer is cut into p parts (`detail::part_range`, part i for
/// relative id i), scattered down a binomial tree, then passed around a ring
/// in relative-id order until every rank holds all of them. The root sends
/// about N elements and every rank about 2 N, against N ceil(log2 p) for the
/// root of a tree broadcast.
#include <cstddef>
#include <rmpi/collectives/detail/chunks.hpp>
#include <rmpi/collectives/ring.hpp>
#include <rmpi/collectives/schedule.hpp>
#include <rmpi/collectives/transport.hpp>
#include <span>

namespace rmpi::collectives {

/// In place: `root`'s `data` lands in every rank's `data` (all of one
/// length); every rank receives straight into its buffer. Allocates nothing.
template <class E, PointToPoint P>
void broadcast_scatter_allgather(P& t, int root, std::span<E> data) {
  const int rank = t.rank();
  const int size = t.size();
  check_group("broadcast", rank, size, root);
  if (size == 1) return;
  const int id = relative_rank(rank, size, root);
  // The elements of parts [first, last) (relative ids), capped at size.
  const auto parts = [&](int first, int last) {
    const detail::Range a = detail::part_range(data.size(), size, first);
    const detail::Range b = detail::part_range(data.size(), size, (last < size ? last : size) - 1);
    return data.subspan(a.offset, b.offset + b.length - a.offset);
  };
  // Binomial scatter (largest subtree first): id receives parts
  // [id, id + mask) from id - mask, mask its lowest set bit, then hands
  // [id + m, id + 2m) to id + m for each smaller power of two m.
  int mask = 1;
  while (mask < size) {
    if (id & mask) {
      collectives::recv_into(t, absolute_rank(id - mask, size, root), kCollectiveTag, parts(id, id + mask));
      break;
    }
    mask <<= 1;
  }
  for (mask >>= 1; mask > 0; mask >>= 1) {
    if (id + mask < size) {
      t.send(absolute_rank(id + mask, size, root), kCollectiveTag,
             std::span<const E>(parts(id + mask, id + 2 * mask)));
    }
  }
  detail::ring_allgather_parts(t, data, size, id, absolute_rank((id - 1 + size) % size, size, root),
                               absolute_rank((id + 1) % size, size, root));
}

}  // namespace rmpi::collectives

#pragma once
/// Gather: every rank's value collected at the root in rank order, along the
/// hypercube of `reduce_schedule`: each rank forwards the values of its whole
/// subtree as one message (ceil(log2 p) rounds; the root receives
/// ceil(log2 p) messages, not p - 1).
#include <algorithm>
#include <iterator>
#include <rmpi/collectives/schedule.hpp>
#include <rmpi/collectives/transport.hpp>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace rmpi::collectives {

/// Returns, at `root`, the values of ranks 0 .. p-1 in rank order; an empty
/// vector at every other rank. Messages are `std::vector<T>`.
template <class T, PointToPoint P>
std::vector<T> gather(P& t, int root, const T& value) {
  const int rank = t.rank();
  const int size = t.size();
  check_group("gather", rank, size, root);
  std::vector<T> block;  // my subtree's values, in relative-id order
  block.push_back(value);
  for (const Step& step : reduce_schedule(rank, size, root)) {
    if (step.action == Step::Action::send) {
      t.send(step.peer, kCollectiveTag, std::as_const(block));
      return {};
    }
    auto part = t.template recv<std::vector<T>>(step.peer, kCollectiveTag);
    const Block expected = reduce_block(relative_rank(step.peer, size, root), step.round, size);
    if (part.size() != static_cast<std::size_t>(expected.last - expected.first)) {
      throw std::runtime_error("rmpi::collectives::gather: rank " + std::to_string(rank) +
                               " received " + std::to_string(part.size()) + " values from rank " +
                               std::to_string(step.peer) + ", expected " +
                               std::to_string(expected.last - expected.first));
    }
    block.insert(block.end(), std::make_move_iterator(part.begin()),
                 std::make_move_iterator(part.end()));
  }
  // At the root, block[k] belongs to relative id k, i.e. rank (k + root) % p.
  std::rotate(block.begin(), block.begin() + (size - root) % size, block.end());
  return block;
}

}  // namespace rmpi::collectives

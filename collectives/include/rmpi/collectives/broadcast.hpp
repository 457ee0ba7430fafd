#pragma once
/// Broadcast: the root's value arrives at every rank, along the hypercube of
/// `broadcast_schedule` (ceil(log2 p) rounds, p - 1 messages in all).
#include <optional>
#include <rmpi/collectives/schedule.hpp>
#include <span>
#include <rmpi/collectives/transport.hpp>
#include <stdexcept>
#include <string>
#include <utility>

namespace rmpi::collectives {

namespace detail {

template <class T, PointToPoint P>
T run_broadcast(P& t, int root, std::optional<T> value) {
  for (const Step& step : broadcast_schedule(t.rank(), t.size(), root)) {
    if (step.action == Step::Action::recv) {
      value.emplace(t.template recv<T>(step.peer, kCollectiveTag));
    } else {
      t.send(step.peer, kCollectiveTag, std::as_const(*value));
    }
  }
  return std::move(*value);
}

}  // namespace detail

/// Returns `root`'s `value` at every rank; the `value` that other ranks pass
/// is ignored. Every rank of `t` must call it with the same `root`.
template <class T, PointToPoint P>
T broadcast(P& t, int root, T value) {
  check_group("broadcast", t.rank(), t.size(), root);
  return detail::run_broadcast<T>(t, root, std::optional<T>(std::move(value)));
}

/// The receiving side of a broadcast, for ranks other than `root` (which
/// must call `collectives::broadcast(t, root, value)`); `std::invalid_argument` at `root`.
template <class T, PointToPoint P>
T broadcast(P& t, int root) {
  check_group("broadcast", t.rank(), t.size(), root);
  if (t.rank() == root) {
    throw std::invalid_argument("rmpi::collectives::broadcast: the root (rank " +
                                std::to_string(root) + ") must pass the value to broadcast");
  }
  return detail::run_broadcast<T>(t, root, std::optional<T>());
}

/// In place: `root`'s `data` lands in every rank's `data` (all of one
/// length), along the same hypercube; each rank receives straight into its
/// buffer. Allocates nothing.
template <class E, PointToPoint P>
void broadcast_hypercube(P& t, int root, std::span<E> data) {
  check_group("broadcast", t.rank(), t.size(), root);
  for (const Step& step : broadcast_schedule(t.rank(), t.size(), root)) {
    if (step.action == Step::Action::recv) {
      collectives::recv_into(t, step.peer, kCollectiveTag, data);
    } else {
      t.send(step.peer, kCollectiveTag, std::span<const E>(data));
    }
  }
}

}  // namespace rmpi::collectives

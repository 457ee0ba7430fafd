#pragma once
/// Collectives that run the algorithm `selection.hpp` picks for their
/// payload and group size, or the one forced by the caller (which falls back
/// to one that applies). rmpi's collectives call these, with the algorithm
/// forced by an `RMPI_COLL_*` environment variable.
///
///   auto total = rmpi::collectives::allreduce_auto(t, rmpi::op::sum, local);
#include <algorithm>
#include <array>
#include <cstddef>
#include <optional>
#include <rmpi/collectives/allgather.hpp>
#include <rmpi/collectives/allreduce.hpp>
#include <rmpi/collectives/barrier.hpp>
#include <rmpi/collectives/broadcast.hpp>
#include <rmpi/collectives/bruck.hpp>
#include <rmpi/collectives/detail/chunks.hpp>
#include <rmpi/collectives/dissemination.hpp>
#include <rmpi/collectives/ops.hpp>
#include <rmpi/collectives/rabenseifner.hpp>
#include <rmpi/collectives/recursive_doubling.hpp>
#include <rmpi/collectives/ring.hpp>
#include <rmpi/collectives/scatter_allgather.hpp>
#include <rmpi/collectives/selection.hpp>
#include <rmpi/collectives/transport.hpp>
#include <span>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

namespace rmpi::collectives {

namespace detail {

/// The payload of `count` elements `E` reduced with `Op`.
template <class Op, class E>
constexpr Payload element_payload(std::size_t count) {
  return {count * sizeof(E), count,
          rmpi::op::order_free_v<Op, E> ? Layout::order_free_elements : Layout::elements};
}

/// The payload of a value that is copied whole: its size when every rank
/// knows it from the type alone, else unknown (0).
template <class T>
constexpr Payload whole_payload() {
  if constexpr (std::is_trivially_copyable_v<T>) {
    return {sizeof(T), 1, Layout::opaque};
  } else {
    return {};
  }
}

/// `std::array<E, N>` of trivially copyable `E` (not `bool`): its size is in
/// its type, so a broadcast of it may be chunked.
template <class T>
inline constexpr bool is_raw_array_v = false;
template <class E, std::size_t N>
inline constexpr bool is_raw_array_v<std::array<E, N>> =
    std::is_trivially_copyable_v<E> && !std::is_same_v<E, bool>;

}  // namespace detail

/// In place: `data` at every rank becomes the element-wise reduction of
/// every rank's `data` (all of one length), in rank order (in any order for
/// the ring, which runs only for `rmpi::op::order_free` ops).
template <class E, class Op, PointToPoint P>
void allreduce_in_place_auto(P& t, Op op, std::span<E> data,
                             std::optional<AllreduceAlgorithm> forced = {}) {
  static_assert(detail::is_chunk_element_v<Op, E>,
                "rmpi::allreduce_in_place: op must be callable as E(E, E) on trivially copyable "
                "elements (not bool)");
  const Payload payload = detail::element_payload<Op, E>(data.size());
  switch (allreduce_algorithm(payload, t.size(), forced)) {
    case AllreduceAlgorithm::hypercube: {
      std::vector<E> copy(data.begin(), data.end());
      copy = collectives::allreduce(t, op, std::move(copy));
      std::copy(copy.begin(), copy.end(), data.begin());
      return;
    }
    case AllreduceAlgorithm::recursive_doubling:
      return allreduce_recursive_doubling(t, op, data);
    case AllreduceAlgorithm::rabenseifner:
      return allreduce_rabenseifner(t, op, data);
    case AllreduceAlgorithm::ring:
      return allreduce_ring(t, op, data);
  }
}

/// `v0 op v1 op ... op v(p-1)` at every rank, bitwise identical everywhere;
/// `op` as for `reduce`. Vectors and arrays that `op` combines element by
/// element run in place on their elements.
template <class T, class Op, PointToPoint P>
T allreduce_auto(P& t, Op op, T value, std::optional<AllreduceAlgorithm> forced = {}) {
  if constexpr (detail::is_chunkable_v<Op, T>) {
    using E = typename detail::chunk_element<Op, T>::type;
    const Payload payload = detail::element_payload<Op, E>(value.size());
    if (allreduce_algorithm(payload, t.size(), forced) == AllreduceAlgorithm::hypercube) {
      return collectives::allreduce(t, std::move(op), std::move(value));
    }
    allreduce_in_place_auto(t, std::move(op), std::span<E>(value.data(), value.size()), forced);
    return value;
  } else {
    const Payload payload = detail::whole_payload<T>();
    if (allreduce_algorithm(payload, t.size(), forced) == AllreduceAlgorithm::hypercube) {
      return collectives::allreduce(t, std::move(op), std::move(value));
    }
    return allreduce_recursive_doubling(t, std::move(op), std::move(value));
  }
}

/// In place: `root`'s `data` lands in every rank's `data` (all of one length).
template <class E, PointToPoint P>
void broadcast_in_place_auto(P& t, int root, std::span<E> data,
                             std::optional<BroadcastAlgorithm> forced = {}) {
  static_assert(std::is_trivially_copyable_v<E> && !std::is_same_v<std::remove_cv_t<E>, bool>,
                "rmpi::broadcast_in_place: elements must be trivially copyable (not bool)");
  const Payload payload{data.size() * sizeof(E), data.size(), Layout::elements};
  switch (broadcast_algorithm(payload, t.size(), forced)) {
    case BroadcastAlgorithm::hypercube:
      return collectives::broadcast_hypercube(t, root, data);
    case BroadcastAlgorithm::scatter_allgather:
      return broadcast_scatter_allgather(t, root, data);
  }
}

/// `root`'s value at every rank: the root passes it in `value`, the others
/// pass nothing (`std::invalid_argument` when the root passes nothing). The
/// size of a vector is known only at the root, so vectors and other values
/// go down the hypercube; `std::array`s may be chunked.
template <class T, PointToPoint P>
T broadcast_auto(P& t, int root, std::optional<T> value,
                 std::optional<BroadcastAlgorithm> forced = {}) {
  check_group("broadcast", t.rank(), t.size(), root);
  if (t.rank() == root && !value) {
    throw std::invalid_argument("rmpi::collectives::broadcast: the root (rank " +
                                std::to_string(root) + ") must pass the value to broadcast");
  }
  if constexpr (detail::is_raw_array_v<T>) {
    if (!value) value.emplace();
    broadcast_in_place_auto(t, root, std::span<typename T::value_type>(value->data(), value->size()),
                            forced);
    return std::move(*value);
  } else {
    if (t.rank() == root) return collectives::broadcast(t, root, std::move(*value));
    return collectives::broadcast<T>(t, root);
  }
}

/// Returns only once every rank of `t` has called it.
template <PointToPoint P>
void barrier_auto(P& t, std::optional<BarrierAlgorithm> forced = {}) {
  switch (barrier_algorithm(t.size(), forced)) {
    case BarrierAlgorithm::hypercube:
      return collectives::barrier(t);
    case BarrierAlgorithm::dissemination:
      return barrier_dissemination(t);
  }
}

/// The values of ranks 0 .. p-1, in rank order, at every rank.
template <class T, PointToPoint P>
std::vector<T> allgather_auto(P& t, const T& value, std::optional<AllgatherAlgorithm> forced = {}) {
  switch (allgather_algorithm(detail::whole_payload<T>(), t.size(), forced)) {
    case AllgatherAlgorithm::hypercube:
      return collectives::allgather(t, value);
    case AllgatherAlgorithm::bruck:
      return allgather_bruck(t, value);
    case AllgatherAlgorithm::ring:
      return allgather_ring(t, value);
  }
  return {};  // not reached
}

/// In place (MPI_Allgather with MPI_IN_PLACE): `data` holds p parts, part i
/// (`detail::part_range`: equal when its size is a multiple of p) belonging
/// to rank i; every rank fills in the others' parts.
template <class E, PointToPoint P>
void allgather_in_place_auto(P& t, std::span<E> data,
                             std::optional<AllgatherAlgorithm> forced = {}) {
  static_assert(std::is_trivially_copyable_v<E> && !std::is_same_v<std::remove_cv_t<E>, bool>,
                "rmpi::allgather_in_place: elements must be trivially copyable (not bool)");
  const std::size_t per_rank = data.size() / static_cast<std::size_t>(t.size());
  const Payload payload{per_rank * sizeof(E), per_rank, Layout::elements};
  switch (allgather_algorithm(payload, t.size(), forced)) {
    case AllgatherAlgorithm::hypercube:
      return collectives::allgather_hypercube(t, data);
    case AllgatherAlgorithm::bruck:
      return allgather_bruck(t, data);
    case AllgatherAlgorithm::ring:
      return allgather_ring(t, data);
  }
}

}  // namespace rmpi::collectives

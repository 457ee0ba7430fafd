#pragma once
/// The collectives of API.md on a Comm (the reference's `rmpi-broadcast`,
/// `rmpi-reduce`, ...), on the Comm's point-to-point messages (tag 1). Each
/// picks its algorithm from the payload and the number of ranks
/// (<rmpi/collectives/selection.hpp>: recursive doubling, Rabenseifner or a
/// ring for allreduce, binomial tree or scatter-allgather for broadcast,
/// dissemination barrier, Bruck or ring allgather), unless an `RMPI_COLL_*`
/// variable forces one (<rmpi/collective_overrides.hpp>); the reference's
/// hypercube algorithms stay selectable. Reduce and gather run the hypercube.
/// Every rank of `comm` must call the same collective with the same root.
#include <cstddef>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include <rmpi/collective_overrides.hpp>
#include <rmpi/collectives/allgather.hpp>
#include <rmpi/collectives/allreduce.hpp>
#include <rmpi/collectives/alltoall.hpp>
#include <rmpi/collectives/alltoallv.hpp>
#include <rmpi/collectives/barrier.hpp>
#include <rmpi/collectives/broadcast.hpp>
#include <rmpi/collectives/dispatch.hpp>
#include <rmpi/collectives/gather.hpp>
#include <rmpi/collectives/ops.hpp>
#include <rmpi/collectives/reduce.hpp>
#include <rmpi/comm.hpp>

namespace rmpi {

// The chunked algorithms post each receive before its send through this
// (collectives/transport.hpp), so that large halves land in place.
static_assert(collectives::ExchangesInto<const Comm, float>);

/// At the root `src`: sends `val` to every rank; every rank returns it.
template <class T>
T broadcast(const Comm& comm, int src, T val) {
  return collectives::broadcast_auto(comm, src, std::optional<T>(std::move(val)),
                                     collective_overrides().broadcast);
}

/// At ranks other than `src`: returns `src`'s value.
template <class T>
T broadcast(const Comm& comm, int src) {
  return collectives::broadcast_auto<T>(comm, src, std::nullopt, collective_overrides().broadcast);
}

/// MPI_Bcast: `src`'s `data` is copied into every rank's `data`, which must
/// have the same length at every rank (else an error naming both lengths).
/// Receives straight into `data`; allocates nothing per call.
template <class T>
void broadcast_in_place(const Comm& comm, int src, std::span<T> data) {
  collectives::broadcast_in_place_auto(comm, src, data, collective_overrides().broadcast);
}

/// Combines every rank's `val` with `op` (rank order) at `dest`; other ranks
/// get their own `val` back. `op` is any callable `T(T, T)`; on vectors and
/// arrays it applies element-wise (`rmpi::op::sum`, `prod`, `min`, `max`,
/// `land`, `lor`, `band`, `bor`).
template <class T, class Op>
T reduce(const Comm& comm, int dest, Op op, T val) {
  return collectives::reduce(comm, dest, std::move(op), std::move(val));
}

/// reduce, with the result at every rank (bitwise identical everywhere).
template <class T, class Op>
T allreduce(const Comm& comm, Op op, T val) {
  return collectives::allreduce_auto(comm, std::move(op), std::move(val),
                                     collective_overrides().allreduce);
}

/// MPI_Allreduce with MPI_IN_PLACE: every rank's `data` (all of one length)
/// becomes the element-wise `op` of all ranks' `data`, in rank order and
/// bitwise identical everywhere. `op` is `T(T, T)` on trivially copyable
/// elements. Allocates nothing per call once a per-thread scratch buffer
/// has grown to the largest size used (up to 16 MiB is kept).
template <class T, class Op>
void allreduce_in_place(const Comm& comm, Op op, std::span<T> data) {
  collectives::allreduce_in_place_auto(comm, std::move(op), data,
                                       collective_overrides().allreduce);
}

/// Returns once every rank of `comm` has called it.
inline void barrier(const Comm& comm) {
  collectives::barrier_auto(comm, collective_overrides().barrier);
}

/// Every rank's `val`, in rank order, at `dest`; an empty vector elsewhere.
template <class T>
std::vector<T> gather(const Comm& comm, int dest, const T& val) {
  return collectives::gather(comm, dest, val);
}

/// Every rank's `val`, in rank order, at every rank.
template <class T>
std::vector<T> allgather(const Comm& comm, const T& val) {
  return collectives::allgather_auto(comm, val, collective_overrides().allgather);
}

/// MPI_Allgather with MPI_IN_PLACE: `data` holds cnt() equal parts, part i
/// belonging to rank i; every rank's part lands in every rank's `data`.
/// std::invalid_argument when `data.size()` is not a multiple of cnt().
/// Allocates nothing per call (beyond a kept scratch buffer for Bruck's).
template <class T>
void allgather_in_place(const Comm& comm, std::span<T> data) {
  if (data.size() % static_cast<std::size_t>(comm.cnt()) != 0) {
    throw std::invalid_argument("rmpi::allgather_in_place: rank " + std::to_string(comm.id()) +
                                ": " + std::to_string(data.size()) +
                                " elements do not split into " + std::to_string(comm.cnt()) +
                                " equal parts");
  }
  collectives::allgather_in_place_auto(comm, data, collective_overrides().allgather);
}

/// Element i of `out` goes to rank i; returns element `id` of every rank's `out`.
/// Pairwise exchange (in step k, send to id + k, receive from id - k).
template <class T>
std::vector<T> alltoall(const Comm& comm, std::vector<T> out) {
  return collectives::alltoall(comm, std::move(out));
}

/// MPI_Alltoallv: `send_counts[i]` elements of `out` from `send_displs[i]`
/// go to rank i; rank i's block lands in `in` at `recv_displs[i]`.
template <class T>
void alltoallv(const Comm& comm, const std::vector<T>& out, std::span<const int> send_counts,
               std::span<const int> send_displs, std::vector<T>& in,
               std::span<const int> recv_counts, std::span<const int> recv_displs) {
  collectives::alltoallv(comm, out, send_counts, send_displs, in, recv_counts, recv_displs);
}

}  // namespace rmpi

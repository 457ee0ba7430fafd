#pragma once
/// The collectives of API.md on a Comm (the reference's `rmpi-broadcast`,
/// `rmpi-reduce`, ...): thin wrappers over rmpi::collectives, which run the
/// hypercube algorithms on the Comm's point-to-point messages (tag 1).
/// Every rank of `comm` must call the same collective with the same root.
#include <span>
#include <utility>
#include <vector>

#include <rmpi/collectives/allgather.hpp>
#include <rmpi/collectives/allreduce.hpp>
#include <rmpi/collectives/alltoall.hpp>
#include <rmpi/collectives/alltoallv.hpp>
#include <rmpi/collectives/barrier.hpp>
#include <rmpi/collectives/broadcast.hpp>
#include <rmpi/collectives/gather.hpp>
#include <rmpi/collectives/ops.hpp>
#include <rmpi/collectives/reduce.hpp>
#include <rmpi/comm.hpp>

namespace rmpi {

/// At the root `src`: sends `val` to every rank; every rank returns it.
template <class T>
T broadcast(const Comm& comm, int src, T val) {
  return collectives::broadcast(comm, src, std::move(val));
}

/// At ranks other than `src`: returns `src`'s value.
template <class T>
T broadcast(const Comm& comm, int src) {
  return collectives::broadcast<T>(comm, src);
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
  return collectives::allreduce(comm, std::move(op), std::move(val));
}

/// Returns once every rank of `comm` has called it.
inline void barrier(const Comm& comm) { collectives::barrier(comm); }

/// Every rank's `val`, in rank order, at `dest`; an empty vector elsewhere.
template <class T>
std::vector<T> gather(const Comm& comm, int dest, const T& val) {
  return collectives::gather(comm, dest, val);
}

/// Every rank's `val`, in rank order, at every rank.
template <class T>
std::vector<T> allgather(const Comm& comm, const T& val) {
  return collectives::allgather(comm, val);
}

/// Element i of `out` goes to rank i; returns element `id` of every rank's `out`.
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

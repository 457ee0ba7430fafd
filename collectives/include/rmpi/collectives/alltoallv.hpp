#pragma once
/// Alltoallv with MPI semantics: rank r sends `send_counts[i]` elements of
/// `sendbuf`, starting at `send_displs[i]`, to rank i, and places the
/// `recv_counts[i]` elements it gets from rank i at `recv_displs[i]` of
/// `recvbuf`. Same pairwise-shift schedule as `alltoall`; one message (a
/// `std::vector<T>`, possibly empty) per pair of ranks, so that a count that
/// disagrees between sender and receiver is reported, never mismatched.
#include <algorithm>
#include <cstddef>
#include <rmpi/collectives/transport.hpp>
#include <span>
#include <stdexcept>
#include <string>
#include <vector>

namespace rmpi::collectives {

namespace detail {

inline void check_layout(int rank, int size, const char* side, std::span<const int> counts,
                         std::span<const int> displs, std::size_t buffer_size) {
  const auto where = [&] {
    return std::string("rmpi::collectives::alltoallv: rank ") + std::to_string(rank) + ": ";
  };
  const std::string s(side);
  if (counts.size() != static_cast<std::size_t>(size) ||
      displs.size() != static_cast<std::size_t>(size)) {
    throw std::invalid_argument(where() + s + "_counts has " + std::to_string(counts.size()) +
                                " and " + s + "_displs " + std::to_string(displs.size()) +
                                " entries; both need one per rank (" + std::to_string(size) + ")");
  }
  for (std::size_t i = 0; i < counts.size(); ++i) {
    const std::string at = "[" + std::to_string(i) + "]";
    if (counts[i] < 0 || displs[i] < 0) {
      throw std::invalid_argument(where() + s + "_counts" + at + " = " + std::to_string(counts[i]) +
                                  " and " + s + "_displs" + at + " = " + std::to_string(displs[i]) +
                                  " must not be negative");
    }
    const auto end = static_cast<std::size_t>(displs[i]) + static_cast<std::size_t>(counts[i]);
    if (end > buffer_size) {
      throw std::invalid_argument(where() + s + "_displs" + at + " + " + s + "_counts" + at +
                                  " = " + std::to_string(end) + " exceeds " + s + "buf's size " +
                                  std::to_string(buffer_size));
    }
  }
}

}  // namespace detail

/// Exchanges variable-sized blocks between all ranks (MPI_Alltoallv).
/// `std::invalid_argument` when a counts/displs array has not one entry per
/// rank, holds a negative entry, reaches past its buffer, when `sendbuf` and
/// `recvbuf` are the same object, or when rank i sends a different number of
/// elements than this rank's `recv_counts[i]`.
template <class T, PointToPoint P>
void alltoallv(P& t, const std::vector<T>& sendbuf, std::span<const int> send_counts,
               std::span<const int> send_displs, std::vector<T>& recvbuf,
               std::span<const int> recv_counts, std::span<const int> recv_displs) {
  const int rank = t.rank();
  const int size = t.size();
  if (&sendbuf == &recvbuf) {
    throw std::invalid_argument("rmpi::collectives::alltoallv: rank " + std::to_string(rank) +
                                ": sendbuf and recvbuf must be different vectors");
  }
  detail::check_layout(rank, size, "send", send_counts, send_displs, sendbuf.size());
  detail::check_layout(rank, size, "recv", recv_counts, recv_displs, recvbuf.size());

  const auto segment = [&](int dest) {
    const auto i = static_cast<std::size_t>(dest);
    const auto first = sendbuf.begin() + send_displs[i];
    return std::vector<T>(first, first + send_counts[i]);
  };
  const auto place = [&](int src, const std::vector<T>& part) {
    const auto i = static_cast<std::size_t>(src);
    if (part.size() != static_cast<std::size_t>(recv_counts[i])) {
      throw std::invalid_argument(
          "rmpi::collectives::alltoallv: rank " + std::to_string(rank) + " expects recv_counts[" +
          std::to_string(src) + "] = " + std::to_string(recv_counts[i]) + " elements from rank " +
          std::to_string(src) + ", which sends " + std::to_string(part.size()));
    }
    std::copy(part.begin(), part.end(), recvbuf.begin() + recv_displs[i]);
  };

  place(rank, segment(rank));
  for (int k = 1; k < size; ++k) {
    const int dest = (rank + k) % size;
    const int src = (rank - k + size) % size;
    t.send(dest, kCollectiveTag, segment(dest));
    place(src, t.template recv<std::vector<T>>(src, kCollectiveTag));
  }
}

}  // namespace rmpi::collectives

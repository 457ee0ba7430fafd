#pragma once
/// Point-to-point messages between ranks (the reference's `rmpi-send` /
/// `rmpi-recv`): any Cereal type, `rmpi::places::Value`, and a zero-copy path
/// for contiguous trivially copyable data. Messages from one rank to another
/// arrive in the order they were sent.
///
///   rmpi::send(comm, 1, std::vector<double>(n, 1.0));
///   auto v = rmpi::recv<std::vector<double>>(comm, 0);
#include <rmpi/comm.hpp>

namespace rmpi {

/// The tag of user point-to-point messages.
inline constexpr int kUserTag = 0;

/// Sends `val` to rank `dest` of `comm` (see Comm::send for when it returns).
/// Throws rmpi::Error naming the rank and the size when `dest` is out of range.
template <class T>
void send(const Comm& comm, int dest, const T& val) {
  comm.send(dest, kUserTag, val);
}

/// Receives the next message from rank `src` of `comm` as a `T`; a message
/// sent as another type is an rmpi::TypeError naming both types.
template <class T>
T recv(const Comm& comm, int src) {
  return comm.template recv<T>(src, kUserTag);
}

}  // namespace rmpi

#pragma once
/// The point-to-point interface that every collective is written against.
///
/// A transport `P` gives each rank its id and the group size, and moves
/// copyable values between ranks:
///   - `t.send(dest, tag, v)` never waits for the receiver (it may buffer);
///   - `t.recv<V>(src, tag)` blocks until the next message from `src` with
///     `tag` arrives, and returns it as a `V`;
///   - messages from one `src` to one `dest` with one `tag` arrive in the
///     order they were sent; a receive matches on `(src, tag)` only;
///   - a `std::span<const E>` of trivially copyable `E` is sent as, and
///     received as, a `std::vector<E>` (the chunked algorithms send spans);
///   - optionally, `t.recv_into(src, tag, std::span<E> into)` receives such a
///     message straight into `into`, and throws when its size differs from
///     `into.size()`; `recv_into` below falls back to `recv` + copy;
///   - optionally, `t.exchange_into(dest, tag, std::span<const E> out, src,
///     std::span<E> into)` does a send and a `recv_into` at once, the receive
///     posted first (so a large message can land in place); `exchange_into`
///     below falls back to `send` then `recv_into`.
/// rmpi's real mesh and `InMemoryTransport` (tests) both satisfy it.
#include <algorithm>
#include <concepts>
#include <cstddef>
#include <span>
#include <stdexcept>
#include <string>
#include <vector>

namespace rmpi::collectives {

/// The tag of all collective traffic; user point-to-point messages use tag 0,
/// so collectives never consume a user's message (and vice versa).
inline constexpr int kCollectiveTag = 1;

/// A type with `rank()`, `size()`, `send<V>(dest, tag, v)` and
/// `recv<V>(src, tag)` as described above (probed with `V = int`).
template <class T>
concept PointToPoint = requires(T& t, const T& ct, int i) {
  { ct.rank() } -> std::convertible_to<int>;
  { ct.size() } -> std::convertible_to<int>;
  t.send(i, i, i);
  { t.template recv<int>(i, i) } -> std::same_as<int>;
};

/// `P` receives a message of `E`s straight into a caller's buffer.
template <class P, class E>
concept ReceivesInto = requires(P& t, int i, std::span<E> into) { t.recv_into(i, i, into); };

/// Receives the next message from `src` with `tag` (sent as a span or vector
/// of `E`) into `into`: with the transport's own `recv_into` when it has one,
/// else by `recv<std::vector<E>>` and a copy. `std::length_error` naming both
/// sizes when the message does not have exactly `into.size()` elements.
template <class E, PointToPoint P>
void recv_into(P& t, int src, int tag, std::span<E> into) {
  if constexpr (ReceivesInto<P, E>) {
    t.recv_into(src, tag, into);
  } else {
    const auto got = t.template recv<std::vector<E>>(src, tag);
    if (got.size() != into.size()) {
      throw std::length_error("rmpi::collectives::recv_into: rank " + std::to_string(t.rank()) +
                              " expected " + std::to_string(into.size()) +
                              " elements from rank " + std::to_string(src) + ", got " +
                              std::to_string(got.size()));
    }
    std::copy(got.begin(), got.end(), into.begin());
  }
}

/// `P` sends and receives into a caller's buffer in one call.
template <class P, class E>
concept ExchangesInto = requires(P& t, int i, std::span<const E> out, std::span<E> into) {
  t.exchange_into(i, i, out, i, into);
};

/// Sends `out` to `dest` and receives the next message from `src` with
/// `tag` into `into` (which must not overlap `out`), as recv_into does.
template <class E, PointToPoint P>
void exchange_into(P& t, int dest, int tag, std::span<const E> out, int src, std::span<E> into) {
  if constexpr (ExchangesInto<P, E>) {
    t.exchange_into(dest, tag, out, src, into);
  } else {
    t.send(dest, tag, out);
    collectives::recv_into(t, src, tag, into);
  }
}

}  // namespace rmpi::collectives

#pragma once
/// The point-to-point interface that every collective is written against.
///
/// A transport `P` gives each rank its id and the group size, and moves
/// copyable values between ranks:
///   - `t.send(dest, tag, v)` never waits for the receiver (it may buffer);
///   - `t.recv<V>(src, tag)` blocks until the next message from `src` with
///     `tag` arrives, and returns it as a `V`;
///   - messages from one `src` to one `dest` with one `tag` arrive in the
///     order they were sent; a receive matches on `(src, tag)` only.
/// rmpi's real mesh and `InMemoryTransport` (tests) both satisfy it.
#include <concepts>

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

}  // namespace rmpi::collectives

#pragma once
/// Point-to-point messages between ranks (the reference's `rmpi-send` /
/// `rmpi-recv`, and MPI's non-blocking forms): any Cereal type,
/// `rmpi::places::Value`, and a zero-copy path for contiguous trivially
/// copyable data. Messages from one rank to another arrive in the order they
/// were sent, whatever mix of blocking and non-blocking calls sent and
/// received them; receives match in the order they were posted.
///
///   rmpi::send(comm, 1, std::vector<double>(n, 1.0));
///   auto v = rmpi::recv<std::vector<double>>(comm, 0);
///   auto [task, st] = rmpi::recv_with_status<int>(comm, rmpi::any_source, rmpi::any_tag);
///   rmpi::Request<rmpi::Status> r = rmpi::irecv(comm, 0, std::span<double>(buf));
#include <memory>
#include <optional>
#include <span>
#include <type_traits>
#include <utility>
#include <vector>

#include <rmpi/comm.hpp>
#include <rmpi/request.hpp>

namespace rmpi {

/// Sends `val` to rank `dest` of `comm` with `tag` (see Comm::send for when
/// it returns). Throws rmpi::Error naming the rank and the size when `dest`
/// is out of range, rmpi::ChannelClosed when `dest` is gone.
template <class T>
void send(const Comm& comm, int dest, const T& val, Tag tag = {}) {
  detail::request_wait(
      *comm.start_send(dest, detail::user_wire_tag(tag, "send"), detail::make_out(val, false), true));
}

/// Receives the next message from `src` (a rank or any_source) with `tag`
/// (a Tag or any_tag) as a `T`; a message sent as another type is an
/// rmpi::TypeError naming both types (and stays queued).
template <class T>
T recv(const Comm& comm, Source src, TagMatch tag = {}) {
  return comm.template start_recv<T>(src, detail::user_wire_match(tag, "recv"))
      .wait();
}

/// Like recv, with the Status (source, tag, bytes) of the message.
template <class T>
std::pair<T, Status> recv_with_status(const Comm& comm, Source src, TagMatch tag = {}) {
  auto r = comm.template start_recv<T>(src,
                                       detail::user_wire_match(tag, "recv_with_status"));
  T v = r.wait();
  return {std::move(v), r.status()};
}

namespace detail {
/// The value of a receive into a caller's buffer: its Status.
inline Status finish_recv_into(RequestState& s, std::optional<Status>&) {
  (void)request_take(s);
  return request_status(s);
}
}  // namespace detail

/// Receives into the caller's buffer (no allocation): a message sent as a
/// vector, span or array of T with at most `into.size()` elements. A larger
/// one is an rmpi::Error naming both sizes, and stays receivable.
template <class T>
Status recv(const Comm& comm, Source src, std::span<T> into, TagMatch tag = {}) {
  auto s = detail::start_recv_into(comm, src, into, detail::user_wire_match(tag, "recv"), false);
  detail::request_wait(*s);
  return detail::request_status(*s);
}

/// Posts a receive into the caller's buffer (MPI_Irecv): `into` must stay
/// alive and untouched until the request completes; `wait()` returns the
/// Status (its `bytes` say how much of `into` was written). A message larger
/// than `into` fails the request with the error of the blocking form and
/// stays receivable. Cancel it before a message matches to reuse `into`.
template <class T>
Request<Status> irecv(const Comm& comm, Source src, std::span<T> into, TagMatch tag = {}) {
  return Request<Status>(detail::start_recv_into(comm, src, into, detail::user_wire_match(tag, "irecv"), false),
                         std::make_shared<std::optional<Status>>(), &detail::finish_recv_into);
}

/// Starts a send (MPI_Isend). An lvalue `val` is borrowed: it must stay alive
/// and unchanged until the request completes (small messages are copied and
/// complete at once); an rvalue is moved into the request (no copy).
template <class T>
Request<> isend(const Comm& comm, int dest, T&& val, Tag tag = {}) {
  return Request<>(comm.start_send(dest, detail::user_wire_tag(tag, "isend"),
                                   detail::make_out(std::forward<T>(val), true), false));
}

/// Posts a receive (MPI_Irecv); `wait()` returns the `T`. A vector of
/// trivially copyable elements is read straight into the request's buffer.
template <class T>
Request<T> irecv(const Comm& comm, Source src, TagMatch tag = {}) {
  return comm.template start_recv<T>(src, detail::user_wire_match(tag, "irecv"));
}

/// Waits until a message matching (src, tag) has arrived and returns its
/// status without receiving it (MPI_Probe).
inline Status probe(const Comm& comm, Source src, TagMatch tag = {}) {
  return *comm.probe_raw(src, detail::user_wire_match(tag, "probe"), true);
}

/// The status of a matching message that has arrived, or nullopt (MPI_Iprobe).
inline std::optional<Status> iprobe(const Comm& comm, Source src, TagMatch tag = {}) {
  return comm.probe_raw(src, detail::user_wire_match(tag, "iprobe"), false);
}

/// Sends `val` to `dest` and receives a `T` from `src` at the same time
/// (MPI_Sendrecv): never deadlocks against a matching sendrecv.
template <class T, class V>
T sendrecv(const Comm& comm, int dest, const V& val, Source src, Tag send_tag = {}, TagMatch recv_tag = {}) {
  auto r = irecv<T>(comm, src, recv_tag);
  auto s = comm.start_send(dest, detail::user_wire_tag(send_tag, "sendrecv"), detail::make_out(val, false), false);
  detail::request_wait(*s);
  return r.wait();
}

/// Seconds since an arbitrary point in the past, monotonic (MPI_Wtime).
double wtime();

}  // namespace rmpi

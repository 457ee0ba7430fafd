#pragma once
/// rmpi::Comm — a communicator: a group of ranks with its own message space.
/// `init` returns the world communicator; `comm_split` makes sub-groups.
/// A Comm is a cheap handle (copies share one group). It is the
/// `rmpi::collectives::PointToPoint` transport that the collectives run on:
/// tag 0 carries user point-to-point messages, tag 1 collectives, and every
/// communicator has its own context id, so no two communicators and no two
/// tags ever consume each other's messages.
///
/// Progress is single-threaded, driven by the calling thread inside send and
/// recv (like MPI): one Comm family must be used by one thread at a time.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include <rmpi/message.hpp>

namespace rmpi {

namespace detail {

class CommState;

/// A receive whose destination is already known: a frame for it is read
/// straight into the buffer that `prepare(target, bytes)` returns.
struct PostedRecv {
  std::uint64_t type_tag = 0;
  std::size_t elem_size = 1;
  void* target = nullptr;
  std::byte* (*prepare)(void* target, std::size_t bytes) = nullptr;
};

/// What a receive returns: the payload bytes, or `into_posted` when they
/// were already read into the posted buffer.
struct Received {
  bool into_posted = false;
  std::unique_ptr<std::byte[]> data;
  std::size_t size = 0;
  std::span<const std::byte> bytes() const { return {data.get(), size}; }
};

template <class T>
struct is_span : std::false_type {};
template <class T, std::size_t E>
struct is_span<std::span<T, E>> : std::true_type {};

template <class T>
struct is_raw_vector : std::false_type {};
template <class E, class A>
struct is_raw_vector<std::vector<E, A>> : std::bool_constant<is_bitwise_sendable_v<std::vector<E, A>>> {};

}  // namespace detail

/// A communicator (the reference's `rmpi-comm`).
class Comm {
 public:
  /// An empty handle; using it throws rmpi::Error.
  Comm() = default;
  explicit Comm(std::shared_ptr<detail::CommState> state) : state_(std::move(state)) {}

  /// This rank's id in the communicator, 0 .. cnt()-1.
  int id() const;
  /// The number of ranks in the communicator.
  int cnt() const;
  /// Same as id() (the PointToPoint concept's name).
  int rank() const { return id(); }
  /// Same as cnt() (the PointToPoint concept's name).
  int size() const { return cnt(); }

  /// Sends `v` to rank `dest` with `tag` (0 user, 1 collectives). Small
  /// messages (< 64 KiB) are copied and return at once; larger ones return
  /// once written (the buffer is reusable), while this thread keeps reading
  /// every connection, so two ranks sending to each other never deadlock.
  /// Contiguous trivially copyable data (vectors, arrays, spans) is written
  /// straight from the caller's memory; other types go through Cereal.
  /// A `std::span<T>` is sent as, and received as, `std::vector<T>`.
  template <class V>
  void send(int dest, int tag, const V& v) const;

  /// Receives the next message from rank `src` with `tag`, as a `V`.
  /// Throws rmpi::TypeError naming both types when it was sent as another
  /// type (the message stays queued), rmpi::ChannelClosed when `src` is gone.
  template <class V>
  V recv(int src, int tag) const;

  /// Untyped send of borrowed bytes (what `send` uses).
  void send_bytes(int dest, int tag, std::uint64_t type_tag, std::string_view type_name,
                  std::span<const std::byte> payload) const;
  /// Untyped send of an owned buffer (no copy is made).
  void send_buffer(int dest, int tag, std::uint64_t type_tag, std::string_view type_name,
                   std::vector<std::byte>&& payload) const;
  /// Untyped receive (what `recv` uses); checks the type tag.
  detail::Received recv_bytes(int src, int tag, std::uint64_t type_tag, std::string_view type_name,
                              detail::PostedRecv* posted) const;

  /// The shared state (internal).
  const std::shared_ptr<detail::CommState>& state() const { return state_; }

 private:
  std::shared_ptr<detail::CommState> state_;
};

/// The rank of this process in `comm` (the reference's `rmpi-id`).
inline int rmpi_id(const Comm& comm) { return comm.id(); }
/// The number of ranks of `comm` (the reference's `rmpi-cnt`).
inline int rmpi_cnt(const Comm& comm) { return comm.cnt(); }

template <class V>
void Comm::send(int dest, int tag, const V& v) const {
  if constexpr (detail::is_span<V>::value) {
    using E = std::remove_cv_t<typename V::element_type>;
    using Wire = std::vector<E>;
    static_assert(is_bitwise_sendable_v<Wire>, "rmpi::send: span elements must be trivially copyable");
    rmpi::detail::remember_type<Wire>();
    send_bytes(dest, tag, type_tag<Wire>(), type_name<Wire>(), std::as_bytes(v));
  } else if constexpr (is_bitwise_sendable_v<V>) {
    rmpi::detail::remember_type<V>();
    send_bytes(dest, tag, type_tag<V>(), type_name<V>(),
               {places::detail::raw_data(v), places::detail::raw_size(v)});
  } else {
    places::Message m = places::encode(v);
    send_buffer(dest, tag, m.type_tag, type_name<V>(), std::move(m.payload));
  }
}

template <class V>
V Comm::recv(int src, int tag) const {
  rmpi::detail::remember_type<V>();
  if constexpr (detail::is_raw_vector<V>::value) {
    using E = typename V::value_type;
    V out;
    detail::PostedRecv posted{type_tag<V>(), sizeof(E), &out, [](void* t, std::size_t bytes) {
                                auto& vec = *static_cast<V*>(t);
                                vec.resize(bytes / sizeof(E));
                                return reinterpret_cast<std::byte*>(vec.data());
                              }};
    detail::Received r = recv_bytes(src, tag, type_tag<V>(), type_name<V>(), &posted);
    if (r.into_posted) return out;
    return places::decode_payload<V>(r.bytes());
  } else {
    detail::Received r = recv_bytes(src, tag, type_tag<V>(), type_name<V>(), nullptr);
    return places::decode_payload<V>(r.bytes());
  }
}

}  // namespace rmpi

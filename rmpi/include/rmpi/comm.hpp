#pragma once
/// rmpi::Comm — a communicator: a group of ranks with its own message space.
/// `init` returns the world communicator; `comm_split` makes sub-groups.
/// A Comm is a cheap handle (copies share one group). It is the
/// `rmpi::collectives::PointToPoint` transport that the collectives run on,
/// through its internal-tag `send` / `recv` / `recv_into`; user messages
/// (rmpi/p2p.hpp) carry an `rmpi::Tag` in a tag space of their own, so no
/// user message and no collective ever consume each other's messages, and
/// every communicator has its own context id.
///
/// Progress is single-threaded, driven by the calling thread inside any rmpi
/// call (like MPI): one Comm family must be used by one thread at a time.
#include <cstddef>
#include <cstdint>
#include <limits>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include <rmpi/message.hpp>
#include <rmpi/request.hpp>

namespace rmpi {

namespace detail {

class CommState;

/// A receive whose destination is already known: a frame for it is read
/// straight into the buffer that `prepare(target, bytes)` returns.
struct PostedRecv {
  std::uint64_t type_tag = 0;
  std::size_t elem_size = 1;
  /// Most payload bytes that fit; a larger message fails the receive (and
  /// stays queued). With `exact`, the size must equal `capacity`.
  std::size_t capacity = std::numeric_limits<std::size_t>::max();
  bool exact = false;
  void* target = nullptr;
  std::byte* (*prepare)(void* target, std::size_t bytes) = nullptr;
  /// Names the buffer in a size error ("std::span<double> of 10 elements").
  std::string (*describe)(const PostedRecv&) = nullptr;
};

/// What a receive returns: the payload bytes, or `into_posted` when they
/// were already read into the posted buffer.
struct Received {
  bool into_posted = false;
  std::unique_ptr<std::byte[]> data;
  std::size_t size = 0;
  std::span<const std::byte> bytes() const { return {data.get(), size}; }
};

/// A message ready to send: its type and its payload, borrowed from the
/// caller (`payload`), owned (`owned`), or kept alive by `keep`.
struct OutMessage {
  std::uint64_t type_tag = 0;
  std::string_view type_name;
  std::span<const std::byte> payload;
  bool owns = false;
  std::vector<std::byte> owned;
  std::shared_ptr<void> keep;
};

/// type_tag<T>() and type_name<T>() folded at compile time (a plain call
/// searches and hashes the name on every message).
template <class T>
inline constexpr std::uint64_t type_tag_of = type_tag<T>();
template <class T>
inline constexpr std::string_view type_name_of = type_name<T>();

/// Wire tags: internal tags (collectives) are 0 .. 0x7fff; user Tag{n} is
/// 0x8000 | n. kAnyUserTag matches every user tag and no internal one.
inline constexpr int kUserTagBit = 0x8000;
inline constexpr int kAnyUserTag = -1;
inline constexpr int kAnyRank = -1;
/// The wire tag of a user tag; throws rmpi::Error when out of range.
int user_wire_tag(Tag t, const char* what);
inline int user_wire_match(TagMatch t, const char* what) {
  return t.any() ? kAnyUserTag : user_wire_tag(t.tag(), what);
}

template <class T>
struct is_span : std::false_type {};
template <class T, std::size_t E>
struct is_span<std::span<T, E>> : std::true_type {};

template <class T>
struct is_raw_vector : std::false_type {};
template <class E, class A>
struct is_raw_vector<std::vector<E, A>> : std::bool_constant<is_bitwise_sendable_v<std::vector<E, A>>> {};

/// The wire type of V (a span travels as a vector of its elements).
template <class V>
struct wire_type {
  using type = V;
};
template <class E, std::size_t N>
struct wire_type<std::span<E, N>> {
  using type = std::vector<std::remove_cv_t<E>>;
};

/// Builds the message for `v`: contiguous trivially copyable data is
/// borrowed (or, for an rvalue when `keep_rvalue`, moved into the message,
/// no copy); other types are encoded with Cereal.
template <class V>
OutMessage make_out(V&& v, bool keep_rvalue) {
  using D = std::remove_cvref_t<V>;
  using Wire = typename wire_type<D>::type;
  OutMessage m;
  m.type_tag = type_tag_of<Wire>;
  m.type_name = type_name_of<Wire>;
  rmpi::detail::remember_type<Wire>();
  if constexpr (is_span<D>::value) {
    static_assert(is_bitwise_sendable_v<Wire>, "rmpi: span elements must be trivially copyable");
    m.payload = std::as_bytes(v);
  } else if constexpr (is_bitwise_sendable_v<D>) {
    if constexpr (!std::is_lvalue_reference_v<V>) {
      if (keep_rvalue) {
        auto held = std::make_shared<D>(std::move(v));
        m.payload = {places::detail::raw_data(*held), places::detail::raw_size(*held)};
        m.keep = std::move(held);
        return m;
      }
    }
    m.payload = {places::detail::raw_data(v), places::detail::raw_size(v)};
  } else {
    places::Message enc = places::encode(v);
    m.owns = true;
    m.owned = std::move(enc.payload);
    m.payload = m.owned;
  }
  return m;
}

template <class V>
V finish_recv(RequestState& s, std::optional<V>& slot);

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
  /// The ranks of this communicator that this rank has seen die or close
  /// their links (supervised mode: rmpi/comm_shrink.hpp), in order. Under
  /// rmpirun --restart-every a rank leaves it once its restarted process
  /// has connected to this one (rmpi/incarnation.hpp).
  std::vector<int> failed_ranks() const;
  /// Same as id() (the PointToPoint concept's name).
  int rank() const { return id(); }
  /// Same as cnt() (the PointToPoint concept's name).
  int size() const { return cnt(); }

  /// Internal-tag send (collectives; `tag` 0 .. 0x7fff). Small messages
  /// (< 64 KiB) are copied when they cannot be written at once and return at
  /// once; larger ones return once written (the buffer is reusable), while
  /// this thread keeps every connection moving, so two ranks sending to each
  /// other never deadlock. Contiguous trivially copyable data (vectors,
  /// arrays, spans) is written straight from the caller's memory; other
  /// types go through Cereal. A `std::span<T>` is received as `std::vector<T>`.
  template <class V>
  void send(int dest, int tag, const V& v) const {
    detail::request_wait(*start_send(dest, internal_tag(tag), detail::make_out(v, false), true));
  }

  /// Internal-tag receive of the next message from rank `src` with `tag`, as
  /// a `V`. Throws rmpi::TypeError naming both types when it was sent as
  /// another type (the message stays queued), rmpi::ChannelClosed when `src`
  /// is gone.
  template <class V>
  V recv(int src, int tag) const {
    return start_recv<V>(src, internal_tag(tag)).wait();
  }

  /// Internal-tag receive straight into `into` (no allocation): the message
  /// must be a vector/span/array of exactly `into.size()` elements of E, else
  /// rmpi::Error naming both sizes (the message stays queued).
  template <class E>
  void recv_into(int src, int tag, std::span<E> into) const;

  /// Internal-tag send of `out` to `dest` and receive into `into` from
  /// `src`, the receive posted before the send: a large message then lands
  /// straight in `into` (one copy over shared memory). As send + recv_into
  /// otherwise; `out` and `into` must not overlap.
  template <class E>
  void exchange_into(int dest, int tag, std::span<const E> out, int src, std::span<E> into) const;

  /// Starts a send of `m` to rank `dest` with wire tag `wire_tag`
  /// (internal). `blocking`: the returned request may borrow the payload
  /// until it completes; small messages complete at once.
  detail::RequestPtr start_send(int dest, int wire_tag, detail::OutMessage m, bool blocking) const;
  /// Starts a receive (internal): `src` a rank or any_source, `wire_tag` a
  /// wire tag or detail::kAnyUserTag.
  detail::RequestPtr start_recv_raw(Source src, int wire_tag, std::uint64_t type_tag, std::string_view type_name,
                                    const detail::PostedRecv* posted, std::shared_ptr<void> keep) const;
  /// A typed receive request (what recv and irecv use).
  template <class V>
  Request<V> start_recv(Source src, int wire_tag) const;
  /// The status of the next message matching (src, wire_tag), if one has
  /// arrived (`wait`: block until one has).
  std::optional<Status> probe_raw(Source src, int wire_tag, bool wait) const;

  /// The shared state (internal).
  const std::shared_ptr<detail::CommState>& state() const { return state_; }

 private:
  static int internal_tag(int tag);
  std::shared_ptr<detail::CommState> state_;
};

/// The rank of this process in `comm` (the reference's `rmpi-id`).
inline int rmpi_id(const Comm& comm) { return comm.id(); }
/// The number of ranks of `comm` (the reference's `rmpi-cnt`).
inline int rmpi_cnt(const Comm& comm) { return comm.cnt(); }

namespace detail {

template <class V>
V finish_recv(RequestState& s, std::optional<V>& slot) {
  Received r = request_take(s);
  if (r.into_posted) return std::move(*slot);
  return places::decode_payload<V>(r.bytes());
}

template <class E>
std::string describe_span(const PostedRecv& p) {
  return std::to_string(p.capacity) + " bytes (" + std::string(type_name<std::vector<std::remove_cv_t<E>>>()) +
         " buffer of " + std::to_string(p.capacity / sizeof(E)) + " elements)";
}

}  // namespace detail

template <class V>
Request<V> Comm::start_recv(Source src, int wire_tag) const {
  rmpi::detail::remember_type<V>();
  auto slot = std::make_shared<std::optional<V>>();
  if constexpr (detail::is_raw_vector<V>::value) {
    using E = typename V::value_type;
    slot->emplace();
    detail::PostedRecv posted{.type_tag = detail::type_tag_of<V>, .elem_size = sizeof(E), .target = slot.get(),
                              .prepare = [](void* t, std::size_t bytes) {
                                auto& vec = **static_cast<std::optional<V>*>(t);
                                vec.resize(bytes / sizeof(E));
                                return reinterpret_cast<std::byte*>(vec.data());
                              }};
    auto s = start_recv_raw(src, wire_tag, detail::type_tag_of<V>, detail::type_name_of<V>, &posted, slot);
    return Request<V>(std::move(s), std::move(slot), &detail::finish_recv<V>);
  } else {
    auto s = start_recv_raw(src, wire_tag, detail::type_tag_of<V>, detail::type_name_of<V>, nullptr, nullptr);
    return Request<V>(std::move(s), std::move(slot), &detail::finish_recv<V>);
  }
}

namespace detail {
/// Posts a receive into `into`: a message sent as a vector, span or array of
/// E with at most (`exact`: exactly) `into.size()` elements; another size
/// fails the receive and the message stays queued. The caller keeps `into`
/// alive until the receive completes.
template <class E>
RequestPtr start_recv_into(const Comm& comm, Source src, std::span<E> into, int wire_tag, bool exact) {
  static_assert(!std::is_const_v<E> && std::is_trivially_copyable_v<E>,
                "rmpi: a receive into a span needs writable, trivially copyable elements");
  using Wire = std::vector<E>;
  rmpi::detail::remember_type<Wire>();
  PostedRecv posted{.type_tag = type_tag_of<Wire>, .elem_size = sizeof(E), .capacity = into.size_bytes(),
                    .exact = exact, .target = into.data(),
                    .prepare = [](void* t, std::size_t) { return static_cast<std::byte*>(t); },
                    .describe = &describe_span<E>};
  return comm.start_recv_raw(src, wire_tag, type_tag_of<Wire>, type_name_of<Wire>, &posted, nullptr);
}
}  // namespace detail

template <class E>
void Comm::recv_into(int src, int tag, std::span<E> into) const {
  detail::request_wait(*detail::start_recv_into(*this, src, into, internal_tag(tag), true));
}

template <class E>
void Comm::exchange_into(int dest, int tag, std::span<const E> out, int src, std::span<E> into) const {
  const detail::RequestPtr received = detail::start_recv_into(*this, src, into, internal_tag(tag), true);
  try {
    detail::request_wait(*start_send(dest, internal_tag(tag), detail::make_out(out, false), true));
  } catch (...) {
    // `into` may not outlive this call: the receive must be over before we leave.
    if (!detail::request_cancel(*received)) {
      try {
        detail::request_wait(*received);
      } catch (...) {
      }
    }
    throw;
  }
  detail::request_wait(*received);
}

}  // namespace rmpi

#pragma once
/// Requests of non-blocking point-to-point messages (MPI_Request), their
/// tags, sources and status (MPI_Status). A Request is a handle on an
/// operation that progresses inside any rmpi call on this thread; it
/// completes in `wait`, `test`, `wait_all`, `wait_any` or `test_any`.
///
///   auto r = rmpi::irecv<std::vector<double>>(comm, rmpi::any_source);
///   rmpi::Request<> s = rmpi::isend(comm, 1, x);   // x untouched until s.wait()
///   std::vector<double> v = r.wait();
///   rmpi::Status st = r.status();                  // source, tag, bytes
#include <cstddef>
#include <memory>
#include <optional>
#include <ranges>
#include <type_traits>
#include <utility>
#include <vector>

#include <boost/smart_ptr/intrusive_ptr.hpp>

namespace rmpi {

/// A user message tag, 0 .. Tag::max (MPI's MPI_TAG_UB is at least as large).
/// Tags live in a space of their own: no user tag ever reaches the
/// collectives' internal messages, and no collective consumes a user's.
/// A tag out of range is an rmpi::Error when it is used.
class Tag {
 public:
  static constexpr int max = 0x7fff;
  constexpr Tag() = default;
  constexpr explicit Tag(int n) : n_(n) {}
  constexpr int value() const { return n_; }
  constexpr bool operator==(const Tag&) const = default;

 private:
  int n_ = 0;
};

/// Matches any user tag (MPI_ANY_TAG).
struct AnyTag {
  explicit constexpr AnyTag(int) {}
};
inline constexpr AnyTag any_tag{0};

/// Matches a message from any rank of the communicator (MPI_ANY_SOURCE).
struct AnySource {
  explicit constexpr AnySource(int) {}
};
inline constexpr AnySource any_source{0};

/// What a receive matches on the source side: one rank or any_source.
class Source {
 public:
  constexpr Source(int rank) : rank_(rank) {}  // NOLINT: implicit from a rank
  constexpr Source(AnySource) : rank_(-1), any_(true) {}  // NOLINT
  constexpr bool any() const { return any_; }
  constexpr int rank() const { return rank_; }

 private:
  int rank_;
  bool any_ = false;
};

/// What a receive matches on the tag side: one Tag or any_tag.
class TagMatch {
 public:
  constexpr TagMatch(Tag t = {}) : tag_(t) {}  // NOLINT: implicit from a Tag
  constexpr TagMatch(AnyTag) : any_(true) {}  // NOLINT
  constexpr bool any() const { return any_; }
  constexpr Tag tag() const { return tag_; }

 private:
  Tag tag_{};
  bool any_ = false;
};

/// Where a received message came from: the sender's rank in the
/// communicator, its user tag, and its payload size in bytes.
struct Status {
  int source = -1;
  int tag = 0;
  std::size_t bytes = 0;
  bool operator==(const Status&) const = default;
};

namespace detail {
struct RequestState;
struct Received;
/// A request's reference count is a plain integer, not an atomic one: a
/// request belongs to the thread that drives its communicator (rmpi/comm.hpp),
/// so its copies are made and dropped there. A state whose count reaches 0
/// goes back to its engine's pool (no allocation per message).
void intrusive_ptr_add_ref(RequestState* r) noexcept;
void intrusive_ptr_release(RequestState* r) noexcept;
using RequestPtr = boost::intrusive_ptr<RequestState>;
/// Blocks until `r` completes; rethrows its error (peer gone, type, size).
void request_wait(RequestState& r);
/// Progresses once; true when `r` is complete (rethrows its error).
bool request_test(RequestState& r);
/// Cancels a posted receive not matched yet; true if it was cancelled.
bool request_cancel(RequestState& r);
Status request_status(const RequestState& r);
/// The payload of a completed receive (empty when read into the posted buffer).
Received request_take(RequestState& r);
/// Index of a complete request among `rs` (nulls skipped), waiting if none
/// is; `rs.size()` when every entry is null.
std::size_t request_wait_any(const std::vector<RequestState*>& rs);
/// Same without waiting: nullopt when none is complete.
std::optional<std::size_t> request_test_any(const std::vector<RequestState*>& rs);
}  // namespace detail

template <class T = void>
class Request;

/// A request with no value: a send (or a receive whose value is taken
/// elsewhere). Cheap to move; copies share one operation. Like its
/// communicator, a request is used by one thread at a time.
template <>
class Request<void> {
 public:
  /// An inactive request (wait returns at once; wait_any skips it).
  Request() = default;
  explicit Request(detail::RequestPtr s) : state_(std::move(s)) {}

  /// Waits until the operation completes (throws its error, once); the
  /// request is inactive afterwards.
  void wait() {
    if (!state_) return;
    auto s = std::move(state_);
    detail::request_wait(*s);
    last_ = detail::request_status(*s);
  }
  /// Progresses every pending operation once; true when this one is done
  /// (then wait() returns at once).
  bool test() { return !state_ || detail::request_test(*state_); }
  /// Cancels a receive that no message has matched yet; true if it was
  /// cancelled (the request is then inactive). Sends cannot be cancelled.
  bool cancel() {
    if (!state_ || !detail::request_cancel(*state_)) return false;
    state_.reset();
    return true;
  }
  /// False once waited (or cancelled) and for a default-constructed request.
  bool active() const { return state_ != nullptr; }
  /// The status of a completed receive (valid after wait or a true test).
  Status status() const { return state_ ? detail::request_status(*state_) : last_; }

  /// The shared operation (internal).
  detail::RequestState* state() const { return state_.get(); }

 protected:
  detail::RequestPtr state_;
  Status last_{};
};

/// A receive of a `T`: `wait()` returns the value.
template <class T>
class Request : public Request<void> {
 public:
  Request() = default;
  /// `slot` holds the value when the message is read straight into it.
  Request(detail::RequestPtr s, std::shared_ptr<std::optional<T>> slot, T (*finish)(detail::RequestState&, std::optional<T>&))
      : Request<void>(std::move(s)), slot_(std::move(slot)), finish_(finish) {}

  /// Waits for the message and returns it (once; throws rmpi::Error when the
  /// request is inactive or was cancelled, and the receive's error).
  T wait();

 private:
  std::shared_ptr<std::optional<T>> slot_;
  T (*finish_)(detail::RequestState&, std::optional<T>&) = nullptr;
};

namespace detail {
[[noreturn]] void throw_inactive_request();

template <class R>
std::vector<RequestState*> request_states(R& reqs) {
  std::vector<RequestState*> v;
  for (auto& r : reqs) v.push_back(r.state());
  return v;
}
}  // namespace detail

template <class T>
T Request<T>::wait() {
  if (!state_) detail::throw_inactive_request();
  auto s = std::move(state_);
  detail::request_wait(*s);
  last_ = detail::request_status(*s);
  return finish_(*s, *slot_);
}

/// Waits for every request of `reqs` (a range of Request<T>). Returns the
/// values in order for receives, nothing for sends. The first error is
/// rethrown after every request has completed.
template <class R>
auto wait_all(R&& reqs) {
  using Req = std::remove_cvref_t<std::ranges::range_value_t<R>>;
  std::exception_ptr first;
  if constexpr (std::is_same_v<Req, Request<void>>) {
    for (auto& r : reqs) {
      try {
        r.wait();
      } catch (...) {
        if (!first) first = std::current_exception();
      }
    }
    if (first) std::rethrow_exception(first);
  } else {
    using T = decltype(std::declval<Req&>().wait());
    std::vector<T> out;
    for (auto& r : reqs) {
      try {
        out.push_back(r.wait());
      } catch (...) {
        if (!first) first = std::current_exception();
        out.emplace_back();
      }
    }
    if (first) std::rethrow_exception(first);
    return out;
  }
}

/// Waits until one active request of `reqs` completes and returns its index
/// (`reqs.size()` when none is active). A completed send becomes inactive; a
/// completed receive stays so until its `wait()` returns its value, so a loop
/// `i = wait_any(rs); v = rs[i].wait();` takes each message once.
template <class R>
std::size_t wait_any(R&& reqs) {
  const auto i = detail::request_wait_any(detail::request_states(reqs));
  using Req = std::remove_cvref_t<std::ranges::range_value_t<R>>;
  if constexpr (std::is_same_v<Req, Request<void>>)
    if (i < std::ranges::size(reqs)) reqs[i].wait();
  return i;
}

/// Like wait_any without waiting: the index of a completed request, or
/// nullopt when none has completed.
template <class R>
std::optional<std::size_t> test_any(R&& reqs) {
  const auto i = detail::request_test_any(detail::request_states(reqs));
  using Req = std::remove_cvref_t<std::ranges::range_value_t<R>>;
  if constexpr (std::is_same_v<Req, Request<void>>)
    if (i) reqs[*i].wait();
  return i;
}

}  // namespace rmpi

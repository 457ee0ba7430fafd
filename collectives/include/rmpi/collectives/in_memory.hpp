#pragma once
/// An in-memory point-to-point transport: one thread per rank, one FIFO queue
/// per (source, destination, tag). It satisfies `PointToPoint`, so the
/// collectives run over it unchanged; tests use it to check them without
/// sockets or processes.
///
///   rmpi::collectives::InMemoryWorld world(5);
///   world.run([](rmpi::collectives::InMemoryTransport& t) {
///     auto total = rmpi::collectives::allreduce(t, rmpi::op::sum, t.rank());
///   });
///
/// The world also detects deadlock: when every rank that has not returned is
/// blocked in `recv` with nothing to receive, `run` throws `TransportDeadlock`
/// instead of hanging.
#include <algorithm>
#include <any>
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <exception>
#include <map>
#include <mutex>
#include <span>
#include <stdexcept>
#include <string>
#include <thread>
#include <type_traits>
#include <typeinfo>
#include <utility>
#include <vector>

#include <rmpi/collectives/detail/elementwise.hpp>

#if defined(__GNUG__)
#include <cxxabi.h>

#include <cstdlib>
#include <memory>
#endif

namespace rmpi::collectives {

/// A message was received as another type than the one it was sent as.
class TransportTypeError : public std::logic_error {
 public:
  using std::logic_error::logic_error;
};

/// Every live rank of an `InMemoryWorld` waits in `recv` for a message that
/// no one can send any more.
class TransportDeadlock : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// Thrown inside a rank's `recv` when another rank already failed: it unwinds
/// the surviving ranks; `run` reports the first failure, never this.
class TransportAborted : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

class InMemoryTransport;

/// A group of `size` ranks that exchange messages in memory.
class InMemoryWorld {
 public:
  /// A world of `size` ranks (`size >= 1`, else `std::invalid_argument`).
  explicit InMemoryWorld(int size);

  InMemoryWorld(const InMemoryWorld&) = delete;
  InMemoryWorld& operator=(const InMemoryWorld&) = delete;

  /// The number of ranks.
  int size() const noexcept { return static_cast<int>(boxes_.size()); }

  /// Runs `body(InMemoryTransport&)` on one thread per rank and joins them;
  /// rethrows the first exception any rank threw (the others are unwound
  /// with `TransportAborted`). Queues and counters start empty on each run.
  template <class F>
  void run(F&& body);

  /// Messages sent during the last `run` that no rank received.
  std::size_t pending_messages() const;

  /// Messages sent during the last `run`, by all ranks.
  std::size_t messages_sent() const;

  /// Messages that `rank` received during the last `run`.
  std::size_t messages_received(int rank) const;

 private:
  friend class InMemoryTransport;

  struct Mailbox {
    std::map<std::pair<int, int>, std::deque<std::any>> queues;  // (src, tag)
    std::condition_variable ready;
    bool waiting = false;
    int wait_src = 0;
    int wait_tag = 0;
    bool finished = false;
    std::size_t received = 0;
  };

  void check_rank(int rank, const char* what) const;
  void reset();
  void push(int src, int dest, int tag, std::any value);
  template <class V>
  V pop(int dest, int src, int tag);
  template <class E>
  void pop_into(int dest, int src, int tag, std::span<E> into);
  std::deque<std::any>& wait_for(std::unique_lock<std::mutex>& lock, int dest, int src,
                                 int tag);  // the non-empty queue, or throws when aborted
  void finish(int rank);
  void fail(std::exception_ptr error);
  void detect_deadlock();  // requires mutex_
  static std::string type_name(const std::type_info& type);

  mutable std::mutex mutex_;
  std::vector<Mailbox> boxes_;
  std::size_t sent_ = 0;
  bool aborted_ = false;
  std::exception_ptr first_error_;
};

/// One rank's view of an `InMemoryWorld`; a `PointToPoint` transport.
class InMemoryTransport {
 public:
  /// This rank's id in `[0, size())`.
  int rank() const noexcept { return rank_; }

  /// The number of ranks in the world.
  int size() const noexcept { return world_->size(); }

  /// Queues a copy of `v` for `dest`; never blocks. A `std::span<E>` is
  /// queued (and received) as a `std::vector<E>`.
  template <class V>
  void send(int dest, int tag, const V& v) {
    world_->check_rank(dest, "send: destination");
    if constexpr (detail::is_span_v<V>) {
      using E = std::remove_cv_t<typename V::element_type>;
      world_->push(rank_, dest, tag, std::any(std::vector<E>(v.begin(), v.end())));
    } else {
      world_->push(rank_, dest, tag, std::any(v));
    }
  }

  /// Blocks until the next message from `src` with `tag` arrives and returns
  /// it; `TransportTypeError` if it was sent as another type (the message
  /// stays queued).
  template <class V>
  V recv(int src, int tag) {
    world_->check_rank(src, "recv: source");
    return world_->template pop<V>(rank_, src, tag);
  }

  /// Receives a message sent as a span or vector of `E` into `into`;
  /// `std::length_error` naming both sizes when its size differs from
  /// `into.size()`, and `TransportTypeError` for another type (in both cases
  /// the message stays queued).
  template <class E>
  void recv_into(int src, int tag, std::span<E> into) {
    world_->check_rank(src, "recv_into: source");
    world_->template pop_into<E>(rank_, src, tag, into);
  }

 private:
  friend class InMemoryWorld;
  InMemoryTransport(InMemoryWorld& world, int rank) : world_(&world), rank_(rank) {}

  InMemoryWorld* world_;
  int rank_;
};

inline InMemoryWorld::InMemoryWorld(int size) {
  if (size < 1) {
    throw std::invalid_argument("rmpi::collectives::InMemoryWorld: size must be >= 1, got " +
                                std::to_string(size));
  }
  boxes_ = std::vector<Mailbox>(static_cast<std::size_t>(size));
}

template <class F>
void InMemoryWorld::run(F&& body) {
  reset();
  std::vector<std::thread> threads;
  threads.reserve(boxes_.size());
  for (int r = 0; r < size(); ++r) {
    threads.emplace_back([this, r, &body] {
      InMemoryTransport transport(*this, r);
      try {
        body(transport);
      } catch (...) {
        fail(std::current_exception());
      }
      finish(r);
    });
  }
  for (auto& thread : threads) thread.join();
  if (first_error_) std::rethrow_exception(first_error_);
}

inline std::size_t InMemoryWorld::pending_messages() const {
  std::lock_guard lock(mutex_);
  std::size_t n = 0;
  for (const auto& box : boxes_) {
    for (const auto& [key, queue] : box.queues) n += queue.size();
  }
  return n;
}

inline std::size_t InMemoryWorld::messages_sent() const {
  std::lock_guard lock(mutex_);
  return sent_;
}

inline std::size_t InMemoryWorld::messages_received(int rank) const {
  check_rank(rank, "messages_received: rank");
  std::lock_guard lock(mutex_);
  return boxes_[static_cast<std::size_t>(rank)].received;
}

inline void InMemoryWorld::check_rank(int rank, const char* what) const {
  if (rank < 0 || rank >= size()) {
    throw std::out_of_range(std::string("rmpi::collectives::InMemoryTransport::") + what +
                            " rank " + std::to_string(rank) + " is outside [0, " +
                            std::to_string(size()) + ")");
  }
}

inline void InMemoryWorld::reset() {
  std::lock_guard lock(mutex_);
  for (auto& box : boxes_) {
    box.queues.clear();
    box.waiting = false;
    box.finished = false;
    box.received = 0;
  }
  sent_ = 0;
  aborted_ = false;
  first_error_ = nullptr;
}

inline void InMemoryWorld::push(int src, int dest, int tag, std::any value) {
  std::lock_guard lock(mutex_);
  auto& box = boxes_[static_cast<std::size_t>(dest)];
  box.queues[{src, tag}].push_back(std::move(value));
  ++sent_;
  box.ready.notify_one();
}

inline std::deque<std::any>& InMemoryWorld::wait_for(std::unique_lock<std::mutex>& lock,
                                                    int dest, int src, int tag) {
  auto& box = boxes_[static_cast<std::size_t>(dest)];
  auto& queue = box.queues[{src, tag}];
  if (queue.empty() && !aborted_) {
    box.waiting = true;
    box.wait_src = src;
    box.wait_tag = tag;
    detect_deadlock();
    box.ready.wait(lock, [&] { return !queue.empty() || aborted_; });
    box.waiting = false;
  }
  if (aborted_) {
    throw TransportAborted("rmpi::collectives::InMemoryTransport::recv: rank " +
                           std::to_string(dest) + " unwound because another rank failed");
  }
  return queue;
}

template <class V>
V InMemoryWorld::pop(int dest, int src, int tag) {
  std::unique_lock lock(mutex_);
  auto& queue = wait_for(lock, dest, src, tag);
  V* value = std::any_cast<V>(&queue.front());
  if (value == nullptr) {
    throw TransportTypeError("rmpi::collectives::InMemoryTransport::recv: rank " +
                             std::to_string(dest) + " expected " + type_name(typeid(V)) +
                             " from rank " + std::to_string(src) + " (tag " + std::to_string(tag) +
                             ") but the message is a " + type_name(queue.front().type()));
  }
  V result = std::move(*value);
  queue.pop_front();
  ++boxes_[static_cast<std::size_t>(dest)].received;
  return result;
}

template <class E>
void InMemoryWorld::pop_into(int dest, int src, int tag, std::span<E> into) {
  using Wire = std::vector<std::remove_cv_t<E>>;
  std::unique_lock lock(mutex_);
  auto& queue = wait_for(lock, dest, src, tag);
  const Wire* value = std::any_cast<Wire>(&queue.front());
  if (value == nullptr) {
    throw TransportTypeError("rmpi::collectives::InMemoryTransport::recv_into: rank " +
                             std::to_string(dest) + " expected " + type_name(typeid(Wire)) +
                             " from rank " + std::to_string(src) + " (tag " + std::to_string(tag) +
                             ") but the message is a " + type_name(queue.front().type()));
  }
  if (value->size() != into.size()) {
    throw std::length_error("rmpi::collectives::InMemoryTransport::recv_into: rank " +
                            std::to_string(dest) + " has room for " +
                            std::to_string(into.size()) + " elements, the message from rank " +
                            std::to_string(src) + " has " + std::to_string(value->size()));
  }
  std::copy(value->begin(), value->end(), into.begin());
  queue.pop_front();
  ++boxes_[static_cast<std::size_t>(dest)].received;
}

inline void InMemoryWorld::finish(int rank) {
  std::lock_guard lock(mutex_);
  boxes_[static_cast<std::size_t>(rank)].finished = true;
  detect_deadlock();
}

inline void InMemoryWorld::fail(std::exception_ptr error) {
  std::lock_guard lock(mutex_);
  if (!first_error_) first_error_ = std::move(error);
  aborted_ = true;
  for (auto& box : boxes_) box.ready.notify_all();
}

inline void InMemoryWorld::detect_deadlock() {
  if (aborted_) return;
  std::string waits;
  for (std::size_t r = 0; r < boxes_.size(); ++r) {
    const auto& box = boxes_[r];
    if (box.finished) continue;
    if (!box.waiting) return;
    auto it = box.queues.find({box.wait_src, box.wait_tag});
    if (it != box.queues.end() && !it->second.empty()) return;
    waits += (waits.empty() ? "" : ", ") + std::string("rank ") + std::to_string(r) +
             " waits for rank " + std::to_string(box.wait_src) + " tag " +
             std::to_string(box.wait_tag);
  }
  if (waits.empty()) return;
  first_error_ = std::make_exception_ptr(
      TransportDeadlock("rmpi::collectives::InMemoryWorld: deadlock: " + waits));
  aborted_ = true;
  for (auto& box : boxes_) box.ready.notify_all();
}

inline std::string InMemoryWorld::type_name(const std::type_info& type) {
#if defined(__GNUG__)
  int status = 0;
  std::unique_ptr<char, void (*)(void*)> name(
      abi::__cxa_demangle(type.name(), nullptr, nullptr, &status), std::free);
  if (status == 0 && name) return name.get();
#endif
  return type.name();
}

}  // namespace rmpi::collectives

#pragma once
/// Channels: PlaceChannel (a place's end of a bidirectional message channel),
/// AsyncBiChannel (two ends in one process), TypedChannel / tc_get, and the
/// generic channel_put / channel_get. `put` never waits for the receiver;
/// messages from one sender arrive in the order sent.
#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <utility>

#include <rmpi/message.hpp>
#include <rmpi/value.hpp>

namespace rmpi::places {

namespace detail {

using Clock = std::chrono::steady_clock;

/// A thread-safe FIFO of messages that can be closed with a reason. Pop on
/// an empty closed inbox throws rmpi::ChannelClosed with that reason.
class Inbox {
 public:
  void push(Message m);
  /// Waits until a message arrives, the inbox is closed, or `deadline`.
  std::optional<Message> pop(std::optional<Clock::time_point> deadline);
  void close(std::string reason);
  bool closed() const;
  std::size_t size() const;
  /// Called (without the inbox lock held) after every push and close; lets
  /// one waiter watch many inboxes (ChannelSet). Replaces any earlier listener.
  void set_listener(std::function<void()> fn);

 private:
  void notify();
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Message> q_;
  std::optional<std::string> closed_;
  std::function<void()> listener_;
};

/// One end of a bidirectional message channel. Implementations: in-memory
/// pairs, a place process's link to its node, a router sub-channel.
class ChannelEndpoint {
 public:
  virtual ~ChannelEndpoint() = default;
  /// Queues `m` for the peer; never waits for the receiver. Throws
  /// rmpi::ChannelClosed if the channel is known to be closed.
  virtual void send(Message m) = 0;
  /// The next message from the peer, or nullopt at `deadline`.
  virtual std::optional<Message> receive(std::optional<Clock::time_point> deadline) = 0;
  /// For error messages: "place hello_world on PLACE 127.0.0.1:40123".
  virtual std::string describe() const = 0;
};

/// Two in-memory endpoints wired to each other.
std::pair<std::shared_ptr<ChannelEndpoint>, std::shared_ptr<ChannelEndpoint>> make_endpoint_pair(
    std::string name = "in-memory channel");

}  // namespace detail

/// A place's end of a channel. Copies share the same end.
class PlaceChannel {
 public:
  PlaceChannel() = default;
  explicit PlaceChannel(std::shared_ptr<detail::ChannelEndpoint> ep) : ep_(std::move(ep)) {}

  /// Sends any Cereal-serializable or bitwise-sendable value; never waits for the receiver.
  template <class T>
  void put(const T& msg) { put_message(encode(msg)); }
  void put(const char* s) { put(std::string(s)); }

  /// Blocks for the next message; throws TypeError if it is not a T, ChannelClosed if the peer is gone.
  template <class T = Value>
  T get() { return decode<T>(get_message()); }
  /// The next message if one is queued now.
  template <class T = Value>
  std::optional<T> try_get() { return wrap<T>(endpoint().receive(detail::Clock::now())); }
  /// The next message within `timeout`, or nullopt.
  template <class T = Value, class Rep, class Period>
  std::optional<T> get_for(std::chrono::duration<Rep, Period> timeout) {
    return wrap<T>(endpoint().receive(detail::Clock::now() + timeout));
  }

  void put_message(Message m) { endpoint().send(std::move(m)); }
  Message get_message() { return *endpoint().receive(std::nullopt); }

  bool valid() const { return static_cast<bool>(ep_); }
  std::string describe() const { return ep_ ? ep_->describe() : "unconnected channel"; }
  const std::shared_ptr<detail::ChannelEndpoint>& endpoint_ptr() const { return ep_; }

 private:
  detail::ChannelEndpoint& endpoint() const;
  template <class T>
  static std::optional<T> wrap(std::optional<Message> m) {
    if (!m) return std::nullopt;
    return decode<T>(*m);
  }
  std::shared_ptr<detail::ChannelEndpoint> ep_;
};

/// Two connected PlaceChannels in one process (like Racket's `place-channel`).
std::pair<PlaceChannel, PlaceChannel> make_place_channel_pair(std::string name = "place channel");

/// Racket's async bi-channel: one object, two ends in one process. `put`
/// sends to the other end; `get` reads what the other end sent. `other()`
/// returns the opposite end.
class AsyncBiChannel {
 public:
  AsyncBiChannel();
  template <class T>
  void put(const T& msg) { here_.put(msg); }
  void put(const char* s) { here_.put(s); }
  template <class T = Value>
  T get() { return here_.get<T>(); }
  template <class T = Value>
  std::optional<T> try_get() { return here_.try_get<T>(); }
  template <class T = Value, class Rep, class Period>
  std::optional<T> get_for(std::chrono::duration<Rep, Period> t) { return here_.get_for<T>(t); }
  /// The opposite end, for the other party.
  AsyncBiChannel other() const { return AsyncBiChannel(there_, here_); }

 private:
  AsyncBiChannel(PlaceChannel here, PlaceChannel there)
      : here_(std::move(here)), there_(std::move(there)) {}
  PlaceChannel here_, there_;
};

/// Racket's named-place-typed-channel%: `get(type)` returns the first list
/// message whose head is the symbol `type`, queueing the others for later
/// (messages that are not a Value included); `get_sent_as<T>()` returns the
/// first message sent as a T, queueing the others the same way.
class TypedChannel {
 public:
  explicit TypedChannel(PlaceChannel ch) : ch_(std::move(ch)) {}
  Value get(std::string_view type);
  template <class T>
  T get_sent_as() {
    return decode<T>(take_first([](const Message& m) { return m.type_tag == type_tag<T>(); }));
  }
  /// Messages received and queued for a later get.
  std::size_t queued() const { return pending_.size(); }
  PlaceChannel& channel() { return ch_; }

 private:
  /// The first queued or arriving message for which `wanted` holds.
  Message take_first(const std::function<bool(const Message&)>& wanted);
  PlaceChannel ch_;
  std::deque<Message> pending_;
};

/// tc_get(type, tc): same as tc.get(type).
inline Value tc_get(std::string_view type, TypedChannel& tc) { return tc.get(type); }

/// Channels usable with channel_put / channel_get: types with put/get<T>.
template <class C>
inline constexpr bool is_channel_v = requires(C& c) {
  c.put(Value{});
  c.template get<Value>();
};

/// *channel-put: sends `msg` on any channel kind.
template <class C, class T>
  requires is_channel_v<C>
void channel_put(C& ch, const T& msg) { ch.put(msg); }
/// *channel-get: receives a T from any channel kind.
template <class T = Value, class C>
  requires is_channel_v<C>
T channel_get(C& ch) { return ch.template get<T>(); }

}  // namespace rmpi::places

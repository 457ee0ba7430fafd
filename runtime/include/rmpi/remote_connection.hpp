#pragma once
/// RemoteConnection (the reference's remote-connection%): a channel to a
/// place on a node — one this program spawned there, or a named place it
/// connected to. Satisfies is_channel_v, so channel_put / channel_get work.
#include <chrono>
#include <concepts>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <type_traits>

#include <rmpi/channel.hpp>
#include <rmpi/event.hpp>

namespace rmpi::places {

class RemoteConnection : public EventContainer {
 public:
  /// An empty handle.
  RemoteConnection() = default;

  /// Sends to the place; never waits for the receiver.
  template <class T>
  void put(const T& msg) { channel_.put(msg); }
  void put(const char* s) { channel_.put(s); }
  /// Blocks for the next message from the place; ChannelClosed once it is gone.
  template <class T = Value>
  T get() { return channel_.get<T>(); }
  template <class T = Value>
  std::optional<T> try_get() { return channel_.try_get<T>(); }
  template <class T = Value, class Rep, class Period>
  std::optional<T> get_for(std::chrono::duration<Rep, Period> timeout) {
    return channel_.get_for<T>(timeout);
  }

  /// set-on-channel!: from now on each message from the place runs `fn`
  /// (on the router loop's thread while a loop runs, else on a runtime
  /// thread) instead of being queued; messages already queued go to it first.
  /// `fn` gets the message as a T, as get<T>() would (a message sent as
  /// another type is logged as an error naming both types); with T =
  /// Message it gets every message undecoded, with its type tag.
  template <class T = Value, class F>
    requires std::invocable<F&, RemoteConnection&, T>
  void set_on_channel(F fn) {
    if constexpr (std::is_same_v<T, Message>) {
      set_on_channel_message(std::move(fn));
    } else {
      set_on_channel_message(
          [fn = std::move(fn)](RemoteConnection& c, const Message& m) mutable { fn(c, decode<T>(m)); });
    }
  }
  void set_on_channel_message(std::function<void(RemoteConnection&, const Message&)> fn);

  /// Blocks until the place ends; its exit code (128+signal if it was
  /// killed). For a connection to a named place: once the connection is
  /// closed, the code if the node reported one, else 0. Throws ChannelClosed
  /// if the node is lost first.
  int wait();
  /// The exit code if the place has ended.
  std::optional<int> try_wait() const;

  /// Closes the connection: a spawned place is no longer restarted (and its
  /// channel closes for it), a named place's channel closes. Idempotent.
  void close();

  /// Ends a spawned place: its node SIGKILLs it and all it started (a
  /// thread place gets its channel closed); no restart follows, sends fail
  /// at once, and wait() gives its status (128+9). For a connection to a
  /// named place it is close(). Idempotent.
  void kill();

  /// While its node sees the spawned place stopped (waitpid's WUNTRACED):
  /// the stop signal (19 for SIGSTOP).
  std::optional<int> stop_signal() const;
  /// Adds `fn(conn, signal)`, run (like set_on_channel's handlers) each time
  /// the node sees the place stopped (signal: 19 for SIGSTOP) and with 0
  /// when it is continued; at once if it is stopped now. What a stop means
  /// is the holder's to decide (rmpi::launch ends the job after a bound).
  void add_on_stop_change(std::function<void(RemoteConnection&, int signal)> fn);

  /// Process id of the spawned place on its node's host (of the latest
  /// start after restarts); 0 for a connection to a named place.
  int pid() const;

  /// Restarts of the place made so far under its restart policy. Messages
  /// put after a restart reach the new place.
  int restart_count() const;
  /// Runs `fn(conn, count)` (like set_on_channel's handlers) after each restart.
  void set_on_restart(std::function<void(RemoteConnection&, int restarts)> fn);

  /// The channel behind this connection (what put/get use), e.g. for a ChannelSet.
  PlaceChannel& channel() { return channel_; }
  /// "place hello_world on PLACE 127.0.0.1:40123".
  std::string describe() const { return channel_.describe(); }
  bool valid() const { return static_cast<bool>(impl_); }

  /// Runtime internals.
  struct Impl;
  RemoteConnection(std::shared_ptr<Impl> impl, PlaceChannel ch)
      : impl_(std::move(impl)), channel_(std::move(ch)) {}
  const std::shared_ptr<Impl>& impl() const { return impl_; }

 private:
  std::shared_ptr<Impl> impl_;
  PlaceChannel channel_;
};

/// distributed-place-wait: the exit code of the place behind `conn`.
inline int distributed_place_wait(RemoteConnection& conn) { return conn.wait(); }

}  // namespace rmpi::places

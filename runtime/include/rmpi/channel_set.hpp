#pragma once
/// ChannelSet: waits on a place's main channel and on every connection
/// accepted for it (connections to a named place arrive as new channels),
/// and returns the channel each message came on, to reply on. This is what
/// named servers loop on:
///   ChannelSet set(ch);
///   for (;;) { auto [conn, msg] = set.get<Value>(); conn.put(reply(msg)); }
#include <chrono>
#include <optional>
#include <utility>
#include <vector>

#include <rmpi/channel.hpp>

namespace rmpi::places {

class ChannelSet {
 public:
  using Clock = std::chrono::steady_clock;
  /// Watches `main` and the connections offered to it.
  explicit ChannelSet(PlaceChannel main);
  ~ChannelSet();
  ChannelSet(const ChannelSet&) = delete;
  ChannelSet& operator=(const ChannelSet&) = delete;

  /// Waits for the next message on any channel (fair round-robin). A closed
  /// connection leaves the set; the main channel closing throws ChannelClosed.
  template <class T = Value>
  std::pair<PlaceChannel, T> get() {
    auto [ch, m] = *receive(std::nullopt);
    return {std::move(ch), decode<T>(m)};
  }
  /// Like get, or nullopt after `timeout`.
  template <class T = Value, class Rep, class Period>
  std::optional<std::pair<PlaceChannel, T>> get_for(std::chrono::duration<Rep, Period> timeout) {
    auto r = receive(Clock::now() + timeout);
    if (!r) return std::nullopt;
    return std::pair<PlaceChannel, T>(std::move(r->first), decode<T>(r->second));
  }
  /// The next raw message and its channel, or nullopt at `deadline`.
  std::optional<std::pair<PlaceChannel, Message>> receive(std::optional<Clock::time_point> deadline);

  /// Watches one more channel.
  void add(PlaceChannel ch);
  /// Channels watched now (the main channel included).
  std::size_t size() const { return channels_.size(); }
  const PlaceChannel& main() const { return channels_.front(); }

 private:
  struct Waiter;
  void accept_new();
  std::vector<PlaceChannel> channels_;
  std::size_t next_ = 0;
  std::shared_ptr<Waiter> waiter_;
};

}  // namespace rmpi::places

#pragma once
/// The message router's event loop (the reference's event-container<%>,
/// after-seconds, every-seconds, message-router). Timers run on the thread
/// that runs the loop, timed from the loop's start. Network I/O of nodes and
/// connections runs on the runtime's background I/O thread, so RemoteNode and
/// RemoteConnection are event containers with nothing to register; handlers
/// installed with RemoteConnection::set_on_channel run on the loop's thread
/// while a loop runs.
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <type_traits>
#include <vector>

namespace rmpi::places {

class EventLoop;

/// What a loop waits on: each container registers its events when the loop starts.
class EventContainer {
 public:
  virtual ~EventContainer() = default;
  /// Adds this container's timers to `loop` (default: nothing).
  virtual void register_events(EventLoop& loop) { (void)loop; }
};

/// An event loop: timers and posted handlers, run on the thread that calls run().
class EventLoop {
 public:
  using Clock = std::chrono::steady_clock;
  EventLoop();
  ~EventLoop();
  EventLoop(const EventLoop&) = delete;
  EventLoop& operator=(const EventLoop&) = delete;

  /// Registers `c`'s events when run() starts (or at once if it runs).
  void add(EventContainer& c);
  /// A timer firing `first` after the loop's start, then every `period` if given.
  void add_timer(std::chrono::nanoseconds first, std::optional<std::chrono::nanoseconds> period,
                 std::function<void()> fn);
  /// Runs fn on the loop's thread (thread-safe).
  void post(std::function<void()> fn);
  /// Runs timers and posted work on this thread until stop(); while it runs,
  /// it is the process's router loop (set_on_channel handlers run here).
  void run();
  /// Makes run() return after the current handler (thread-safe).
  void stop();

 private:
  struct Timer {
    Clock::time_point due;
    std::uint64_t seq;
    std::optional<Clock::duration> period;
    std::shared_ptr<std::function<void()>> fn;
  };
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<EventContainer*> pending_;
  std::vector<Timer> timers_;
  std::deque<std::function<void()>> posted_;
  std::optional<Clock::time_point> start_;
  std::uint64_t seq_ = 0;
  bool stop_ = false;
};

/// after-seconds%: runs fn once, `seconds` after the loop's start.
class AfterSeconds : public EventContainer {
 public:
  AfterSeconds(double seconds, std::function<void()> fn) : seconds_(seconds), fn_(std::move(fn)) {}
  void register_events(EventLoop& loop) override;

 private:
  double seconds_;
  std::function<void()> fn_;
};

/// respawn-and-fire%: runs fn every `seconds`, the first time `seconds` after the loop's start.
class EverySeconds : public EventContainer {
 public:
  /// Throws rmpi::ConfigError unless `seconds` is a positive finite number
  /// (a period of 0 would fire forever and starve the loop's other work).
  EverySeconds(double seconds, std::function<void()> fn);
  void register_events(EventLoop& loop) override;

 private:
  double seconds_;
  std::function<void()> fn_;
};

/// after-seconds: an event container running fn once after `seconds`.
inline AfterSeconds after_seconds(double seconds, std::function<void()> fn) {
  return AfterSeconds(seconds, std::move(fn));
}
/// every-seconds: an event container running fn every `seconds`.
inline EverySeconds every_seconds(double seconds, std::function<void()> fn) {
  return EverySeconds(seconds, std::move(fn));
}

namespace detail {
[[noreturn]] void run_message_router(const std::vector<EventContainer*>& containers);
}

/// message-router: registers every container and runs the loop on this thread forever.
/// It does not listen for other nodes; a Node does (Node::sync_events).
template <class... Cs>
  requires(std::is_base_of_v<EventContainer, std::remove_cvref_t<Cs>> && ...)
[[noreturn]] void message_router(Cs&&... containers) {
  detail::run_message_router({const_cast<EventContainer*>(static_cast<const EventContainer*>(&containers))...});
}

}  // namespace rmpi::places

#include <rmpi/event.hpp>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <thread>

#include <rmpi/error.hpp>

#include "client_endpoints.hpp"

namespace rmpi::places {

namespace {

std::mutex current_mu;
EventLoop* current_loop = nullptr;  // the loop running as the router loop, if any

// Runs handlers in order on one runtime thread when no router loop runs.
class HandlerThread {
 public:
  static HandlerThread& instance() {
    static auto* t = new HandlerThread();  // leaked: may run until _exit
    return *t;
  }
  void post(std::function<void()> fn) {
    {
      std::lock_guard lock(mu_);
      q_.push_back(std::move(fn));
    }
    cv_.notify_one();
  }

 private:
  HandlerThread() {
    std::thread([this] {
      for (;;) {
        std::function<void()> fn;
        {
          std::unique_lock lock(mu_);
          cv_.wait(lock, [&] { return !q_.empty(); });
          fn = std::move(q_.front());
          q_.pop_front();
        }
        try {
          fn();
        } catch (const std::exception& e) {
          detail::emit_log({"error", detail::log_origin(),
                            std::string("a channel handler threw: ") + e.what(),
                            detail::unix_time_us()});
        }
      }
    }).detach();
  }
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::function<void()>> q_;
};

std::chrono::nanoseconds to_duration(double seconds) {
  return std::chrono::nanoseconds(static_cast<std::int64_t>(std::max(0.0, seconds) * 1e9));
}

}  // namespace

namespace detail {

void run_handler(std::function<void()> fn) {
  {
    std::lock_guard lock(current_mu);
    if (current_loop) {
      current_loop->post(std::move(fn));
      return;
    }
  }
  HandlerThread::instance().post(std::move(fn));
}

void run_message_router(const std::vector<EventContainer*>& containers) {
  static auto* loop = new EventLoop();  // leaked: handlers may still post during exit
  for (auto* c : containers) loop->add(*c);
  for (;;) loop->run();
}

}  // namespace detail

EventLoop::EventLoop() = default;

EventLoop::~EventLoop() {
  std::lock_guard lock(current_mu);
  if (current_loop == this) current_loop = nullptr;
}

void EventLoop::add(EventContainer& c) {
  bool running;
  {
    std::lock_guard lock(mu_);
    running = start_.has_value();
    if (!running) pending_.push_back(&c);
  }
  if (running) c.register_events(*this);
}

void EventLoop::add_timer(std::chrono::nanoseconds first,
                          std::optional<std::chrono::nanoseconds> period, std::function<void()> fn) {
  {
    std::lock_guard lock(mu_);
    std::optional<Clock::duration> p;
    if (period) p = std::chrono::duration_cast<Clock::duration>(*period);
    // Before the loop starts, `due` holds the offset from the start (fixed up by run()).
    const auto offset = std::chrono::duration_cast<Clock::duration>(first);
    timers_.push_back(Timer{start_ ? *start_ + offset : Clock::time_point(offset), seq_++, p,
                            std::make_shared<std::function<void()>>(std::move(fn))});
  }
  cv_.notify_all();
}

void EventLoop::post(std::function<void()> fn) {
  {
    std::lock_guard lock(mu_);
    posted_.push_back(std::move(fn));
  }
  cv_.notify_all();
}

void EventLoop::stop() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
}

void EventLoop::run() {
  std::vector<EventContainer*> to_register;
  {
    std::lock_guard lock(mu_);
    stop_ = false;
    const auto now = Clock::now();
    if (!start_) {
      start_ = now;
      // Timers added before the start count from it.
      for (auto& t : timers_) t.due = now + t.due.time_since_epoch();
    }
    to_register.swap(pending_);
  }
  {
    std::lock_guard lock(current_mu);
    current_loop = this;
  }
  for (auto* c : to_register) c->register_events(*this);

  std::unique_lock lock(mu_);
  while (!stop_) {
    if (!posted_.empty()) {
      auto fn = std::move(posted_.front());
      posted_.pop_front();
      lock.unlock();
      fn();
      lock.lock();
      continue;
    }
    auto next = std::min_element(timers_.begin(), timers_.end(), [](const Timer& a, const Timer& b) {
      return a.due != b.due ? a.due < b.due : a.seq < b.seq;
    });
    if (next == timers_.end()) {
      cv_.wait(lock);
      continue;
    }
    if (next->due > Clock::now()) {
      cv_.wait_until(lock, next->due);
      continue;
    }
    auto fn = next->fn;
    if (next->period) {
      next->due += *next->period;
      next->seq = seq_++;
    } else {
      timers_.erase(next);
    }
    lock.unlock();
    (*fn)();
    lock.lock();
  }
  lock.unlock();
  std::lock_guard cl(current_mu);
  if (current_loop == this) current_loop = nullptr;
}

void AfterSeconds::register_events(EventLoop& loop) {
  loop.add_timer(to_duration(seconds_), std::nullopt, fn_);
}

EverySeconds::EverySeconds(double seconds, std::function<void()> fn)
    : seconds_(seconds), fn_(std::move(fn)) {
  if (!(seconds > 0) || !std::isfinite(seconds))
    throw ConfigError("every_seconds: the period must be a positive number of seconds, not " +
                      std::to_string(seconds));
}

void EverySeconds::register_events(EventLoop& loop) {
  const auto p = to_duration(seconds_);
  loop.add_timer(p, std::max(p, std::chrono::nanoseconds(1)), fn_);
}

}  // namespace rmpi::places

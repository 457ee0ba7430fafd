#include <rmpi/channel_set.hpp>

#include <condition_variable>
#include <mutex>

#include <rmpi/error.hpp>

#include "client_endpoints.hpp"

namespace rmpi::places {

// Wakes the waiting get() when any watched QueueEndpoint changes.
struct ChannelSet::Waiter {
  std::mutex mu;
  std::condition_variable cv;
  bool dirty = false;
  void wake() {
    {
      std::lock_guard lock(mu);
      dirty = true;
    }
    cv.notify_all();
  }
};

ChannelSet::ChannelSet(PlaceChannel main) : waiter_(std::make_shared<Waiter>()) {
  add(std::move(main));
}

ChannelSet::~ChannelSet() {
  for (auto& ch : channels_)
    if (auto* q = detail::queue_endpoint(ch)) q->set_listener({});
}

void ChannelSet::add(PlaceChannel ch) {
  if (auto* q = detail::queue_endpoint(ch)) {
    std::weak_ptr<Waiter> w = waiter_;
    q->set_listener([w] {
      if (auto s = w.lock()) s->wake();
    });
  }
  channels_.push_back(std::move(ch));
}

void ChannelSet::accept_new() {
  for (std::size_t i = 0; i < channels_.size(); ++i) {
    auto* q = detail::queue_endpoint(channels_[i]);
    if (!q) continue;
    while (auto c = q->accept()) add(std::move(*c));
  }
}

std::optional<std::pair<PlaceChannel, Message>> ChannelSet::receive(
    std::optional<Clock::time_point> deadline) {
  for (;;) {
    {
      std::lock_guard lock(waiter_->mu);
      waiter_->dirty = false;
    }
    accept_new();
    bool all_watchable = true;
    const std::size_t n = channels_.size();
    for (std::size_t k = 0; k < n && !channels_.empty(); ++k) {
      const std::size_t i = (next_ + k) % channels_.size();
      if (!detail::queue_endpoint(channels_[i])) all_watchable = false;
      std::optional<Message> m;
      try {
        m = channels_[i].endpoint_ptr()->receive(Clock::now());
      } catch (const ChannelClosed&) {
        if (i == 0) throw;
        channels_.erase(channels_.begin() + static_cast<std::ptrdiff_t>(i));
        --k;
        continue;
      }
      if (m) {
        next_ = i + 1;
        return std::pair<PlaceChannel, Message>(channels_[i], std::move(*m));
      }
    }
    std::unique_lock lock(waiter_->mu);
    // Channels of other kinds cannot wake us: poll them every millisecond.
    auto until = all_watchable ? deadline : Clock::now() + std::chrono::milliseconds(1);
    if (deadline && until && *deadline < *until) until = deadline;
    if (until) {
      waiter_->cv.wait_until(lock, *until, [&] { return waiter_->dirty; });
    } else {
      waiter_->cv.wait(lock, [&] { return waiter_->dirty; });
    }
    if (deadline && Clock::now() >= *deadline && !waiter_->dirty) return std::nullopt;
  }
}

}  // namespace rmpi::places

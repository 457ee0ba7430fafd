#pragma once
/// The one connect-retry policy of the project: exponential back-off between
/// attempts, capped, bounded by a deadline and/or a number of attempts. Pure:
/// the caller passes the time (tests drive it with their own clock) and does
/// the sleeping.
#include <algorithm>
#include <chrono>
#include <optional>

namespace rmpi::transport {

struct RetryPolicy {
  std::chrono::milliseconds first_delay{5};
  std::chrono::milliseconds max_delay{200};
  int growth = 2;        // each delay is the previous one times this (1 = fixed interval)
  int max_attempts = 0;  // 0 = no limit but the deadline
};

class RetrySchedule {
 public:
  using Clock = std::chrono::steady_clock;

  RetrySchedule(RetryPolicy policy, Clock::time_point deadline = Clock::time_point::max())
      : policy_(policy), deadline_(deadline), delay_(policy.first_delay) {}

  /// An attempt failed at `now`: when to make the next one (never past the
  /// deadline), or nullopt when it is time to give up.
  std::optional<Clock::time_point> after_failure(Clock::time_point now) {
    ++attempts_;
    if (policy_.max_attempts > 0 && attempts_ >= policy_.max_attempts) return std::nullopt;
    if (now >= deadline_) return std::nullopt;
    const auto step = std::min(delay_, policy_.max_delay);
    delay_ = std::min(delay_ * std::max(policy_.growth, 1), policy_.max_delay);
    return deadline_ - now <= step ? deadline_ : now + step;
  }

  int attempts() const { return attempts_; }
  Clock::time_point deadline() const { return deadline_; }

 private:
  RetryPolicy policy_;
  Clock::time_point deadline_;
  std::chrono::milliseconds delay_;
  int attempts_ = 0;
};

}  // namespace rmpi::transport

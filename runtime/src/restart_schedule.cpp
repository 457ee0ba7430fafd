#include <rmpi/restart_schedule.hpp>

namespace rmpi::places::detail {

RestartSchedule::RestartSchedule(const Restarter& restarter, Clock::time_point started)
    : interval_(std::chrono::duration_cast<Clock::duration>(
          std::chrono::duration<double>(restarter.seconds < 0 ? 0 : restarter.seconds))),
      retry_(restarter.retry),
      started_(started) {}

std::optional<RestartSchedule::Restart> RestartSchedule::exited(Clock::time_point now) {
  if (now - started_ >= 2 * interval_) tries_ = 0;
  if (retry_ && tries_ >= *retry_) return std::nullopt;
  ++tries_;
  return Restart{interval_, tries_};
}

}  // namespace rmpi::places::detail

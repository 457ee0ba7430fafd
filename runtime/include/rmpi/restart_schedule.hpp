#pragma once
// RestartSchedule: a Restarter's decisions as a pure state machine over time
// points the caller passes in (so tests drive it with a controllable clock).
// Semantics of the reference's restarter%: each exit is answered by a
// restart `seconds` later; once `retry` restarts were made in a row the
// next exit gives up (on_final_fail runs); a place that stayed alive
// 2 × seconds since its last start resets the count to 0. The node's
// restart policies and rmpirun's --restart-every both decide with it.
#include <chrono>
#include <optional>

#include <rmpi/restart.hpp>

namespace rmpi::places::detail {

class RestartSchedule {
 public:
  using Clock = std::chrono::steady_clock;

  /// The schedule of `restarter`, for a place that started at `started`.
  RestartSchedule(const Restarter& restarter, Clock::time_point started);

  /// A restart to make: after `delay`; it is try number `attempt` (1-based) in a row.
  struct Restart {
    Clock::duration delay;
    int attempt;
  };
  /// The place exited at `now`: the restart to make, or nullopt when the retries ran out.
  std::optional<Restart> exited(Clock::time_point now);
  /// The place (re)started at `now`.
  void started(Clock::time_point now) { started_ = now; }
  /// Restarts made in a row (since the count was last reset).
  int tries() const { return tries_; }

 private:
  Clock::duration interval_;
  std::optional<int> retry_;
  Clock::time_point started_;
  int tries_ = 0;
};

}  // namespace rmpi::places::detail

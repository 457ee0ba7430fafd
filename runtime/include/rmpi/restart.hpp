#pragma once
/// Restart policies for supervised places (the reference's #:restart-on-exit
/// and restarter%). Supervision is a value: the spawner applies it when the
/// node reports that the place exited.
#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <type_traits>
#include <utility>
#include <variant>

namespace rmpi::places {

/// Restart after `seconds`; give up after `retry` restarts in a row (none =
/// unlimited); the count resets once the place stayed alive 2 × seconds;
/// `on_final_fail` runs when the retries run out.
struct Restarter {
  double seconds = 1.0;
  std::optional<int> retry{};
  std::function<void()> on_final_fail{};
};

/// restart-every: a Restarter value.
inline Restarter restart_every(double seconds, std::optional<int> retry = std::nullopt,
                               std::function<void()> on_final_fail = {}) {
  return Restarter{seconds, retry, std::move(on_final_fail)};
}

/// Starts the place again (a RemoteConnection to it keeps working). Callable
/// from any thread, once per exit.
using Respawn = std::function<void()>;

/// An object with a restart method, the reference's restart-on-exit object:
/// `restart(respawn)` is called each time the place exits and decides when
/// (and whether) to call `respawn`.
template <class T>
concept RestartStrategy = requires(T& t, Respawn respawn) { t.restart(respawn); };

/// What happens when a supervised place exits: nothing (default), respawn at
/// once (`true`), call a procedure that replaces the restart, call an
/// object's restart(respawn) method, or follow a Restarter.
class RestartPolicy {
 public:
  /// Off.
  RestartPolicy() = default;
  /// true: respawn at once, every time; false: off.
  RestartPolicy(bool respawn) {
    if (respawn) policy_ = AtOnce{};
  }
  /// A Restarter schedule.
  RestartPolicy(Restarter r) : policy_(std::move(r)) {}
  /// A procedure of no arguments run (off the I/O thread) each time the
  /// place exits, instead of a restart: the place stays ended.
  template <class F>
    requires(std::is_invocable_v<F&> && !std::is_same_v<std::decay_t<F>, bool> &&
             !std::is_same_v<std::decay_t<F>, Restarter> &&
             !std::is_same_v<std::decay_t<F>, RestartPolicy>)
  RestartPolicy(F fn) : policy_(std::function<void()>(std::move(fn))) {}
  /// An object whose restart(respawn) runs (off the I/O thread) each time the
  /// place exits. Shared, not copied: its state spans the restarts.
  template <RestartStrategy S>
  RestartPolicy(std::shared_ptr<S> strategy)
      : policy_(Strategy{[strategy](Respawn respawn) { strategy->restart(std::move(respawn)); }}) {}

  /// True unless the policy is off.
  bool enabled() const { return !std::holds_alternative<std::monostate>(policy_); }
  /// True for `true` (respawn at once).
  bool respawns_at_once() const { return std::holds_alternative<AtOnce>(policy_); }
  /// The procedure, if the policy is one.
  const std::function<void()>* procedure() const { return std::get_if<std::function<void()>>(&policy_); }
  /// The Restarter, if the policy is one.
  const Restarter* restarter() const { return std::get_if<Restarter>(&policy_); }
  /// The restart(respawn) call of a strategy object, if the policy is one.
  const std::function<void(Respawn)>* strategy() const {
    const auto* s = std::get_if<Strategy>(&policy_);
    return s ? &s->restart : nullptr;
  }

 private:
  struct AtOnce {};
  struct Strategy {
    std::function<void(Respawn)> restart;
  };
  std::variant<std::monostate, AtOnce, std::function<void()>, Restarter, Strategy> policy_;
};

}  // namespace rmpi::places

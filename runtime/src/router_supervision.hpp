#pragma once
// The lifetime of a router's children and of the router itself: SIGTERM then
// SIGKILL to process groups (Terminate, a lost spawner), the orderly exit
// (Exit, a lost parent, shutdown(): children ended, then on_exit), and the
// immediate stop of the destructor.
#include <sys/types.h>

#include <chrono>
#include <vector>

#include <boost/asio/steady_timer.hpp>

#include "router.hpp"

namespace rmpi::places::detail {

class RouterSupervision {
 public:
  explicit RouterSupervision(Router::Impl& router);

  /// SIGTERM to each group now, SIGKILL after `grace` to those not yet reaped.
  void kill_groups(const std::vector<pid_t>& pids, std::chrono::milliseconds grace);
  /// kill_groups on every live child.
  void terminate_all(std::chrono::milliseconds grace);
  /// Stops accepting, ends every child, then calls on_exit(code) (once).
  void begin_shutdown(int code);
  /// A child was reaped: finishes a shutdown whose children are all gone.
  void children_changed();
  /// Stops at once: SIGKILL to every child, every connection closed.
  void stop();
  /// Pids of the places and processes not yet reaped.
  std::vector<pid_t> live_pids() const;

  /// Signals a child's process group and its container (when it has one).
  void signal_child(pid_t pid, int sig);

  bool exiting() const { return exiting_; }
  bool stopped() const { return stopped_; }

 private:
  bool alive(pid_t pid) const;
  void finish_exit();

  Router::Impl& router_;
  boost::asio::steady_timer shutdown_timer_;
  bool exiting_ = false;
  bool exited_ = false;
  bool stopped_ = false;
  int exit_code_ = 0;
};

}  // namespace rmpi::places::detail

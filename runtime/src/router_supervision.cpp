#include "router_supervision.hpp"

#include <signal.h>

#include <memory>

#include "router_impl.hpp"

namespace rmpi::places::detail {

namespace asio = boost::asio;

RouterSupervision::RouterSupervision(Router::Impl& router)
    : router_(router), shutdown_timer_(router.strand) {}

std::vector<pid_t> RouterSupervision::live_pids() const {
  std::vector<pid_t> pids;
  router_.places.append_live_pids(pids);
  router_.processes.append_live_pids(pids);
  return pids;
}

bool RouterSupervision::alive(pid_t pid) const {
  return router_.places.alive(pid) || router_.processes.alive(pid);
}

/// Signals a child's process group and its container (when it has one).
void RouterSupervision::signal_child(pid_t pid, int sig) {
  router_.processes.signal_container(pid, sig);
  ::kill(-pid, sig);
  ::kill(pid, sig);
}

void RouterSupervision::kill_groups(const std::vector<pid_t>& pids,
                                    std::chrono::milliseconds grace) {
  for (pid_t pid : pids) signal_child(pid, SIGTERM);
  auto timer = std::make_shared<asio::steady_timer>(router_.strand, grace);
  timer->async_wait(
      [self = router_.shared_from_this(), pids, timer](const boost::system::error_code&) {
        for (pid_t pid : pids)
          if (self->supervision.alive(pid)) self->supervision.signal_child(pid, SIGKILL);
      });
}

void RouterSupervision::terminate_all(std::chrono::milliseconds grace) {
  auto pids = live_pids();
  if (!pids.empty()) kill_groups(pids, grace);
}

void RouterSupervision::begin_shutdown(int code) {
  if (exiting_) return;
  exiting_ = true;
  exit_code_ = code;
  router_.peers.stop_accepting();
  terminate_all(router_.options.kill_grace);
  // Give up waiting for reaps well after SIGKILL.
  shutdown_timer_.expires_after(router_.options.kill_grace + std::chrono::seconds(2));
  shutdown_timer_.async_wait(
      [self = router_.shared_from_this()](const boost::system::error_code& ec) {
        if (!ec) self->supervision.finish_exit();
      });
  children_changed();
}

void RouterSupervision::children_changed() {
  if (exiting_ && live_pids().empty()) finish_exit();
}

void RouterSupervision::finish_exit() {
  if (exited_) return;
  exited_ = true;
  shutdown_timer_.cancel();
  router_.options.on_exit(exit_code_);
}

void RouterSupervision::stop() {
  if (stopped_) return;
  stopped_ = true;
  router_.peers.stop_accepting();
  shutdown_timer_.cancel();
  for (pid_t pid : live_pids()) signal_child(pid, SIGKILL);
  router_.peers.close_all("router stopped");
  router_.places.close_all("router stopped");
}

}  // namespace rmpi::places::detail

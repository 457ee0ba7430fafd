#include "router_threads.hpp"

#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <system_error>

#include <boost/asio/post.hpp>

#include "process.hpp"
#include "router_impl.hpp"

namespace rmpi::places::detail {

namespace asio = boost::asio;

pid_t RouterModuleHosts::start_place(const std::string& module, const protocol::Env& env,
                                     const ThreadPlaceRequest& request, int place_fd) {
  // A host that died and is not reaped yet refuses the place: a new host takes it.
  for (int attempt = 0;; ++attempt) {
    auto m = by_module_.find(module);
    const pid_t pid = m != by_module_.end() ? m->second : start_host(module, env);
    Host& host = hosts_.at(pid);
    try {
      send_thread_place(host.control_fd, request, place_fd);
      ++host.places;
      return pid;
    } catch (const std::system_error& e) {
      // A host that cannot take a place takes no more.
      if (host.places == 0) close_control(pid, host);
      else by_module_.erase(module);
      if (e.code() != std::errc::broken_pipe || attempt > 0)
        throw std::runtime_error(std::string(e.what()) + " (pid " + std::to_string(pid) + ")");
    }
  }
}

pid_t RouterModuleHosts::start_host(const std::string& module, const protocol::Env& env) {
  int sv[2];
  if (::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) != 0)
    throw std::runtime_error(std::string("cannot create the control socket of a module host: ") +
                             std::strerror(errno));
  constexpr int kControlFd = 3;
  ProcessSpec spec;
  spec.argv = {module};
  spec.env = env;
  spec.env.emplace_back(kModuleHostFdEnv, std::to_string(kControlFd));
  spec.unset_env = {"RMPI_PLACE_FUNC"};
  spec.fds = {{sv[1], kControlFd}};
  spec.stdin_mode = Stdio::null;
  ChildProcess child;
  try {
    child = spawn_process(spec);
  } catch (...) {
    ::close(sv[0]);
    ::close(sv[1]);
    throw;
  }
  ::close(sv[1]);
  hosts_[child.pid] = Host{module, sv[0], 0};
  by_module_[module] = child.pid;
  std::weak_ptr<Router::Impl> weak = router_.shared_from_this();
  watch_child(child.pid, [weak, pid = child.pid](ExitStatus st) {
    if (auto s = weak.lock())
      asio::post(s->strand, [s, pid, st] { s->places.hosts().on_reaped(pid, st); });
  });
  return child.pid;
}

void RouterModuleHosts::place_ended(pid_t pid) {
  auto it = hosts_.find(pid);
  if (it == hosts_.end()) return;
  if (--it->second.places <= 0) close_control(pid, it->second);
}

void RouterModuleHosts::close_control(pid_t pid, Host& host) {
  auto m = by_module_.find(host.module);
  if (m != by_module_.end() && m->second == pid) by_module_.erase(m);
  if (host.control_fd >= 0) ::close(host.control_fd);
  host.control_fd = -1;
}

void RouterModuleHosts::on_reaped(pid_t pid, ExitStatus status) {
  auto it = hosts_.find(pid);
  if (it == hosts_.end()) return;
  close_control(pid, it->second);
  hosts_.erase(it);
  router_.places.host_ended(pid, status);
  router_.supervision.children_changed();
}

void RouterModuleHosts::append_live_pids(std::vector<pid_t>& pids) const {
  for (auto& [pid, host] : hosts_) pids.push_back(pid);
}

bool RouterModuleHosts::alive(pid_t pid) const { return hosts_.count(pid) != 0; }

}  // namespace rmpi::places::detail

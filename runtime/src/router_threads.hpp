#pragma once
// The router's module hosts (module_host.hpp): one process per module that
// runs thread places of, started at its first thread place and told to end
// (its control socket closed) once its last thread place has ended. A host
// that dies fails every thread place still in it (RouterPlaces::host_ended).
#include <sys/types.h>

#include <map>
#include <string>
#include <utility>
#include <vector>

#include "module_host.hpp"
#include "process.hpp"
#include "protocol.hpp"
#include "router.hpp"

namespace rmpi::places::detail {

class RouterModuleHosts {
 public:
  explicit RouterModuleHosts(Router::Impl& router) : router_(router) {}

  /// Hands a thread place on `place_fd` to the host of `module`, starting
  /// the host with `env` if there is none; returns the host's pid. The caller
  /// keeps (and closes) `place_fd`. Throws std::exception with the reason.
  pid_t start_place(const std::string& module, const protocol::Env& env,
                    const ThreadPlaceRequest& request, int place_fd);
  /// A thread place of host `pid` has ended; after the last one the host ends.
  void place_ended(pid_t pid);
  /// Pids of hosts not yet reaped.
  void append_live_pids(std::vector<pid_t>& pids) const;
  bool alive(pid_t pid) const;

 private:
  struct Host {
    std::string module;
    int control_fd = -1;  // -1 once closed: the host is ending
    int places = 0;       // thread places started and not yet ended
  };

  pid_t start_host(const std::string& module, const protocol::Env& env);
  void close_control(pid_t pid, Host& host);
  void on_reaped(pid_t pid, ExitStatus status);

  Router::Impl& router_;
  std::map<std::string, pid_t> by_module_;  // hosts that take new thread places
  std::map<pid_t, Host> hosts_;             // hosts not yet reaped
};

}  // namespace rmpi::places::detail

#include "process_exit.hpp"

#include <poll.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

namespace rmpi::testing {
namespace {

using Clock = std::chrono::steady_clock;

int pidfd_open(pid_t pid) { return static_cast<int>(::syscall(SYS_pidfd_open, pid, 0)); }

int poll_timeout(Clock::time_point deadline) {
  const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
  return static_cast<int>(std::max<long long>(0, left.count()));
}

}  // namespace

std::vector<pid_t> wait_until_gone(const std::vector<pid_t>& pids, std::chrono::milliseconds limit) {
  const auto deadline = Clock::now() + limit;
  std::vector<pollfd> fds;
  std::vector<pid_t> watched;
  for (const pid_t pid : pids) {
    const int fd = pidfd_open(pid);
    if (fd < 0) continue;  // already gone (ESRCH)
    fds.push_back({fd, POLLIN, 0});
    watched.push_back(pid);
  }
  std::size_t ended = 0;
  while (ended < fds.size()) {
    const int n = ::poll(fds.data(), fds.size(), poll_timeout(deadline));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;  // the limit
    for (auto& p : fds)
      if (p.fd >= 0 && (p.revents & (POLLIN | POLLHUP | POLLERR))) {
        ::close(p.fd);
        p.fd = -1;  // poll ignores negative descriptors
        ++ended;
      }
  }
  std::vector<pid_t> running;
  for (std::size_t i = 0; i < fds.size(); ++i)
    if (fds[i].fd >= 0) {
      ::close(fds[i].fd);
      running.push_back(watched[i]);
    }
  return running;
}

bool process_gone(pid_t pid, std::chrono::milliseconds limit) { return wait_until_gone({pid}, limit).empty(); }

std::optional<int> reap_child(pid_t pid, std::chrono::milliseconds limit) {
  if (!process_gone(pid, limit)) return std::nullopt;
  int status = 0;
  if (::waitpid(pid, &status, 0) != pid) return std::nullopt;
  return status;
}

}  // namespace rmpi::testing

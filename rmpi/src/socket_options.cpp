#include "socket_options.hpp"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <algorithm>

#include <rmpi/failure.hpp>

namespace rmpi::detail {

KeepaliveTimes keepalive_times(std::chrono::milliseconds bound) {
  constexpr int kProbes = 3;
  const int total = std::max<int>(1, static_cast<int>((bound.count() + 999) / 1000));
  KeepaliveTimes t;
  t.count = kProbes;
  t.interval_s = std::max(1, total / (2 * kProbes));
  t.idle_s = std::max(1, total - kProbes * t.interval_s);
  return t;
}

void watch_peer_host(int fd) {
  const KeepaliveTimes t = keepalive_times(detection_bound());
  const int on = 1;
  // Best effort, like TCP_NODELAY: a socket that refuses is still a working link.
  ::setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &on, sizeof on);
  ::setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &t.idle_s, sizeof t.idle_s);
  ::setsockopt(fd, IPPROTO_TCP, TCP_KEEPINTVL, &t.interval_s, sizeof t.interval_s);
  ::setsockopt(fd, IPPROTO_TCP, TCP_KEEPCNT, &t.count, sizeof t.count);
}

}  // namespace rmpi::detail

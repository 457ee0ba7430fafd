#pragma once
// Death detection of TCP rank links: a peer host that vanished (powered
// off, cut off, no FIN or RST ever comes) is noticed within the detection
// bound by TCP keepalive, set from that bound on every rank link socket.
#include <chrono>

namespace rmpi::detail {

/// The keepalive settings for `bound` (whole seconds, as the kernel takes
/// them): idle + count * interval is about the bound (at least 1 + 3 s).
struct KeepaliveTimes {
  int idle_s = 0;
  int interval_s = 0;
  int count = 0;
};
KeepaliveTimes keepalive_times(std::chrono::milliseconds bound);

/// Turns keepalive on for the connected TCP socket `fd` with keepalive_times(detection_bound()).
/// TCP_USER_TIMEOUT is deliberately not set: Linux also applies it to a
/// closed receive window, so a live peer that computes for longer than the
/// bound without reading (single-threaded progress) would have its link cut.
void watch_peer_host(int fd);

}  // namespace rmpi::detail

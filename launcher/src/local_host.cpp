#include <rmpi/launcher/local_host.hpp>

#include <algorithm>
#include <thread>

namespace rmpi::launcher {

bool is_local_host(const HostEntry& entry) {
  return entry.user.empty() && is_local_host(entry.host);
}

int local_slot_count() {
  return std::max(1, static_cast<int>(std::thread::hardware_concurrency()));
}

}  // namespace rmpi::launcher

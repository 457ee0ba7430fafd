#include <rmpi/launcher/local_host.hpp>

namespace rmpi::launcher {

bool is_local_host(const HostEntry& entry) {
  return entry.user.empty() && is_local_host(entry.host);
}

}  // namespace rmpi::launcher

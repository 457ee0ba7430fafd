#include <rmpi/launcher/local_host.hpp>

#include <unistd.h>

#include <algorithm>
#include <array>
#include <climits>
#include <string>
#include <thread>

namespace rmpi::launcher {
namespace {

bool equal_ignoring_case(std::string_view a, std::string_view b) {
  const auto lower = [](char c) { return (c >= 'A' && c <= 'Z') ? char(c - 'A' + 'a') : c; };
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(),
                                            [&](char x, char y) { return lower(x) == lower(y); });
}

std::string own_hostname() {
  std::array<char, HOST_NAME_MAX + 1> buffer{};
  if (gethostname(buffer.data(), buffer.size() - 1) != 0) return {};
  return buffer.data();
}

}  // namespace

bool is_local_host(std::string_view host, std::string_view own) {
  for (std::string_view loopback :
       {"localhost", "localhost.localdomain", "127.0.0.1", "::1", "[::1]"}) {
    if (equal_ignoring_case(host, loopback)) return true;
  }
  if (host.empty() || own.empty()) return false;
  if (equal_ignoring_case(host, own)) return true;
  // gethostname may give the FQDN: its short form is local too. A qualified name for a short
  // own name cannot be checked without resolving it, so it counts as remote.
  const bool host_is_short = host.find('.') == std::string_view::npos;
  return host_is_short && equal_ignoring_case(host, own.substr(0, own.find('.')));
}

bool is_local_host(std::string_view host) { return is_local_host(host, own_hostname()); }

bool is_local_host(const HostEntry& entry) {
  return entry.user.empty() && is_local_host(entry.host);
}

int local_slot_count() {
  return std::max(1, static_cast<int>(std::thread::hardware_concurrency()));
}

}  // namespace rmpi::launcher

#include <rmpi/interface_address.hpp>

#include <arpa/inet.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>
#include <unistd.h>

#include <climits>
#include <cstdint>
#include <string>
#include <vector>

#include <rmpi/error.hpp>
#include <rmpi/quoted_input.hpp>

namespace rmpi {
namespace {

struct LocalAddress {
  std::string interface;
  std::uint32_t address = 0;  // host byte order
  std::string text;
};

std::vector<LocalAddress> local_ipv4_addresses() {
  std::vector<LocalAddress> out;
  ifaddrs* list = nullptr;
  if (::getifaddrs(&list) != 0) return out;
  for (ifaddrs* a = list; a; a = a->ifa_next) {
    if (!a->ifa_addr || a->ifa_addr->sa_family != AF_INET || !(a->ifa_flags & IFF_UP)) continue;
    const auto* in = reinterpret_cast<const sockaddr_in*>(a->ifa_addr);
    char text[INET_ADDRSTRLEN] = {};
    ::inet_ntop(AF_INET, &in->sin_addr, text, sizeof text);
    out.push_back({a->ifa_name, ntohl(in->sin_addr.s_addr), text});
  }
  ::freeifaddrs(list);
  return out;
}

bool parse_ipv4(const std::string& s, std::uint32_t& out) {
  in_addr a{};
  if (::inet_pton(AF_INET, s.c_str(), &a) != 1) return false;
  out = ntohl(a.s_addr);
  return true;
}

std::string this_host() {
  char name[HOST_NAME_MAX + 1] = {};
  return ::gethostname(name, sizeof name - 1) == 0 ? name : "this host";
}

}  // namespace

InterfaceLookup lookup_interface_address(std::string_view iface_view) {
  const std::string iface(iface_view);
  const auto addresses = local_ipv4_addresses();
  const auto slash = iface.find('/');
  std::uint32_t ip = 0;
  if (slash != std::string::npos) {
    const std::string net = iface.substr(0, slash), bits = iface.substr(slash + 1);
    int prefix = -1;
    try {
      std::size_t used = 0;
      prefix = std::stoi(bits, &used);
      if (used != bits.size()) prefix = -1;
    } catch (const std::exception&) {
    }
    if (!parse_ipv4(net, ip) || prefix < 0 || prefix > 32)
      return {{}, "bad subnet " + quoted_input(iface) + " in --iface/RMPI_IFACE (want a.b.c.d/n)"};
    const std::uint32_t mask = prefix == 0 ? 0 : ~std::uint32_t{0} << (32 - prefix);
    for (const auto& a : addresses)
      if ((a.address & mask) == (ip & mask)) return {a.text, {}};
  } else if (parse_ipv4(iface, ip)) {
    for (const auto& a : addresses)
      if (a.address == ip) return {a.text, {}};
  } else {
    for (const auto& a : addresses)
      if (a.interface == iface) return {a.text, {}};
  }
  std::string have;
  for (const auto& a : addresses) have += (have.empty() ? "" : ", ") + a.interface + " " + a.text;
  return {{}, "no interface or address matching " + quoted_input(iface) + " on " + this_host() +
                 " (it has: " + (have.empty() ? "no IPv4 address" : have) + ")"};
}

std::string resolve_interface_address(std::string_view iface) {
  InterfaceLookup found = lookup_interface_address(iface);
  if (!found.error.empty()) throw ConfigError("rmpi: " + found.error);
  return found.address;
}

}  // namespace rmpi

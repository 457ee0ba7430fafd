// current_node: a place's handle to the node it runs on, reached at the
// address its node put in $RMPI_NODE_ADDR ("host:port", "[v6]:port").
#include <rmpi/remote_node.hpp>

#include <charconv>
#include <cstdlib>
#include <mutex>

#include <rmpi/error.hpp>
#include <rmpi/quoted_input.hpp>

namespace rmpi::places {

namespace {

constexpr const char* kNodeAddrEnv = "RMPI_NODE_ADDR";
constexpr auto kConnectTimeout = std::chrono::seconds(30);

struct NodeAddress {
  std::string host;
  std::uint16_t port = 0;
};

NodeAddress node_address_from_env() {
  const char* v = std::getenv(kNodeAddrEnv);
  if (v == nullptr || *v == '\0')
    throw Error(std::string("current_node: ") + kNodeAddrEnv +
                " is not set (only a place started by a node has a node)");
  const std::string addr = v;
  const auto colon = addr.rfind(':');
  unsigned port = 0;
  const char* first = addr.data() + (colon == std::string::npos ? 0 : colon + 1);
  const char* last = addr.data() + addr.size();
  const auto parsed = std::from_chars(first, last, port);
  if (colon == std::string::npos || colon == 0 || parsed.ec != std::errc() || parsed.ptr != last ||
      port == 0 || port > 65535)
    throw Error(std::string("current_node: ") + kNodeAddrEnv + "=" + quoted_input(addr) +
                " is not host:port");
  std::string host = addr.substr(0, colon);
  if (host.size() > 2 && host.front() == '[' && host.back() == ']')
    host = host.substr(1, host.size() - 2);
  return {host, static_cast<std::uint16_t>(port)};
}

}  // namespace

RemoteNode current_node() {
  static std::mutex mu;
  static RemoteNode node;
  std::lock_guard lock(mu);
  if (!node.valid() || node.lost_reason()) {
    const NodeAddress at = node_address_from_env();
    node = connect_to_node(at.host, at.port, kConnectTimeout);
  }
  return node;
}

}  // namespace rmpi::places

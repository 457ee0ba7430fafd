#include "router_names.hpp"

#include "router_impl.hpp"

namespace rmpi::places::detail {

namespace proto = protocol;

bool RouterNames::add(const std::string& name, std::uint64_t place) {
  return named_.emplace(name, place).second;
}

void RouterNames::remove(const std::string& name, std::uint64_t place) {
  auto n = named_.find(name);
  if (n != named_.end() && n->second == place) named_.erase(n);
}

void RouterNames::connect(RouterPeer& peer, const proto::ConnectNamed& m) {
  if (router_.places.channel_in_use(peer.id, m.channel)) {
    peer.conn->send_control(proto::ChannelFailed{
        m.channel, "channel " + std::to_string(m.channel) + " is already in use"});
    return;
  }
  auto n = named_.find(m.name);
  if (n == named_.end()) {
    peer.conn->send_control(proto::ChannelFailed{
        m.channel, "no place named '" + m.name + "' on " + router_.label(), proto::Failure::no_name});
    return;
  }
  router_.places.open_channel(n->second, peer, m.channel);
  peer.conn->send_control(proto::Connected{m.channel});
}

}  // namespace rmpi::places::detail

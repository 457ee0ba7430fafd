#pragma once
// Named places of a router: the name a place was spawned with, and
// ConnectNamed, which opens a new channel from a peer to that place.
#include <cstdint>
#include <map>
#include <optional>
#include <string>

#include "protocol.hpp"
#include "router.hpp"

namespace rmpi::places::detail {

struct RouterPeer;

class RouterNames {
 public:
  explicit RouterNames(Router::Impl& router) : router_(router) {}
  /// Registers `name` for place `place`; false if the name is taken.
  bool add(const std::string& name, std::uint64_t place);
  bool taken(const std::string& name) const { return named_.count(name) != 0; }
  /// Forgets `name` if it still belongs to `place`.
  void remove(const std::string& name, std::uint64_t place);
  /// Opens the peer's channel to the named place, or answers ChannelFailed naming it.
  void connect(RouterPeer& peer, const protocol::ConnectNamed& request);

 private:
  Router::Impl& router_;
  std::map<std::string, std::uint64_t> named_;
};

}  // namespace rmpi::places::detail

// Router::Impl::dispatch: each control message kind a peer may send, handed
// to the part of the router that owns it; any other kind is logged and ignored.
#include <chrono>

#include "router_impl.hpp"
#include "variant_overload.hpp"

namespace rmpi::places::detail {

namespace proto = protocol;

void Router::Impl::dispatch(RouterPeer& peer, proto::ControlMessage&& message) {
  std::visit(
      Overload{
          [&](const proto::Hello& m) { peers.on_hello(peer, m); },
          [&](const proto::Heartbeat&) {},  // counted by the peer's LinkHeartbeat
          [&](const proto::SpawnPlace& m) { places.spawn(peer, m); },
          [&](const proto::ConnectNamed& m) { names.connect(peer, m); },
          [&](const proto::CloseChannel& m) { places.close_from_peer(peer.id, m.channel); },
          [&](const proto::Exit& m) { supervision.begin_shutdown(m.code); },
          [&](const proto::Log& m) { logs.route(m, peer.id); },
          [&](const proto::SpawnProcess& m) { processes.spawn(peer, m); },
          [&](const proto::KillProcess& m) { processes.kill(peer.id, m.id); },
          [&](const proto::KillPlace& m) { places.kill(peer.id, m.channel); },
          [&](const proto::Terminate& m) {
            supervision.terminate_all(std::chrono::milliseconds(m.grace_ms));
          },
          [&](const auto& m) {
            logs.local("warning", std::string("ignored an unexpected ") + proto::message_name(m) +
                                      " message from " + peer.conn->peer());
          },
      },
      message);
}

}  // namespace rmpi::places::detail

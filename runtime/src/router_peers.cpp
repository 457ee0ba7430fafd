#include "router_peers.hpp"

#include <boost/asio/bind_executor.hpp>
#include <boost/asio/dispatch.hpp>

#include <rmpi/error.hpp>

#include "process.hpp"
#include "router_impl.hpp"

namespace rmpi::places::detail {

namespace asio = boost::asio;
namespace proto = protocol;

RouterPeers::RouterPeers(Router::Impl& router)
    : router_(router), acceptor_(router.strand), parent_timer_(router.strand) {}

void RouterPeers::listen() {
  const RouterOptions& o = router_.options;
  if (o.secret.empty())
    throw ConfigError("the router needs a job secret (" + std::string(auth::kSecretEnv) +
                      ") and has none");
  if (o.listen_port < 0 || o.listen_port > 65535)
    throw ConfigError("router port " + std::to_string(o.listen_port) +
                      " is not a port number (0-65535)");
  boost::system::error_code ec;
  const auto address = asio::ip::make_address(o.listen_address, ec);
  if (ec) throw ConfigError("cannot listen on '" + o.listen_address + "': not an IP address");
  asio::ip::tcp::endpoint ep(address, static_cast<std::uint16_t>(o.listen_port));
  acceptor_.open(ep.protocol());
  acceptor_.set_option(asio::socket_base::reuse_address(true));
  acceptor_.bind(ep, ec);
  if (ec == asio::error::address_in_use)
    throw ConnectError("port " + std::to_string(o.listen_port) + " is in use on " + host_name());
  if (ec)
    throw ConnectError("cannot listen on port " + std::to_string(o.listen_port) + " on " +
                       host_name() + ": " + ec.message());
  acceptor_.listen(asio::socket_base::max_listen_connections, ec);
  if (ec)
    throw ConnectError("cannot listen on port " + std::to_string(o.listen_port) + " on " +
                       host_name() + ": " + ec.message());
  router_.port = acceptor_.local_endpoint().port();
  const auto bound = acceptor_.local_endpoint().address();
  const std::string host =
      bound.is_unspecified() ? (bound.is_v6() ? "::1" : "127.0.0.1") : bound.to_string();
  router_.own_address =
      (bound.is_v6() ? "[" + host + "]" : host) + ":" + std::to_string(router_.port.load());
  router_.label_host = o.advertise.empty() ? host_name() : o.advertise;
}

void RouterPeers::start() {
  asio::dispatch(router_.strand, [self = router_.shared_from_this()] {
    RouterPeers& peers = self->peers;
    const RouterOptions& options = self->options;
    std::weak_ptr<Router::Impl> weak = self;
    peers.accepting_ = transport::AsioAcceptLoop::create(
        self->strand,
        {.secret = options.secret,
         .limits = {.max_unauthenticated = options.max_unauthenticated,
                    .handshake_timeout = options.auth_timeout},
         .first_frame = std::nullopt},
        [weak](const std::string& line) {
          if (auto s = weak.lock()) s->logs.local("warning", line);
        },
        [weak](asio::ip::tcp::socket socket, transport::AcceptedPeer peer) {
          if (auto s = weak.lock(); s && !s->supervision.stopped())
            s->peers.add_peer(std::move(socket), std::move(peer));
        });
    peers.accepting_->listen(std::move(peers.acceptor_));
    const RouterOptions& o = self->options;
    if (o.parent_link && o.parent_timeout.count() > 0) {
      peers.parent_timer_.expires_after(o.parent_timeout);
      peers.parent_timer_.async_wait([self](const boost::system::error_code& ec) {
        if (ec || self->peers.parent_ || self->supervision.exiting()) return;
        self->logs.local("error", "no parent connected within " +
                                      std::to_string(self->options.parent_timeout.count()) +
                                      " ms; exiting");
        self->supervision.begin_shutdown(1);
      });
    }
  });
}

void RouterPeers::stop_accepting() {
  boost::system::error_code ignored;
  acceptor_.close(ignored);
  if (accepting_) accepting_->stop();
  parent_timer_.cancel();
}

void RouterPeers::close_all(const std::string& reason) {
  auto peers = peers_;
  for (auto& [id, p] : peers) p->conn->close(reason);
}

// An authenticated connection (the accept loop proved the job secret).
void RouterPeers::add_peer(asio::ip::tcp::socket tcp, transport::AcceptedPeer accepted) {
  boost::system::error_code ec;
  const int family = tcp.local_endpoint(ec).protocol().family();
  StreamSocket socket(router_.strand);
  socket.assign(asio::generic::stream_protocol(family, IPPROTO_TCP), tcp.release());
  ConnectionOptions copts;
  copts.max_length = router_.options.max_frame_length;
  auto peer = std::make_shared<RouterPeer>();
  peer->id = router_.new_id();
  peer->conn = FramedConnection::create(std::move(socket), accepted.address, copts);
  peer->reached_host = peer->conn->local_endpoint().first;
  peers_[peer->id] = peer;
  std::weak_ptr<Router::Impl> weak = router_.shared_from_this();
  const std::uint64_t id = peer->id;
  ConnectionHandlers h;
  h.on_frame = [weak, id](Frame&& f) {
    if (auto s = weak.lock()) s->peers.on_frame(id, std::move(f));
  };
  h.on_close = [weak, id](const CloseReason& reason) {
    if (auto s = weak.lock()) s->peers.on_closed(id, reason);
  };
  peer->conn->start(AuthRole::trusted, "", std::move(h));
  peer->heartbeat = LinkHeartbeat::start(router_.strand, peer->conn, "peer " + peer->conn->peer(),
                                         router_.options.heartbeat, false);
}

std::shared_ptr<RouterPeer> RouterPeers::find(std::uint64_t id) const {
  auto it = peers_.find(id);
  return it == peers_.end() ? nullptr : it->second;
}

void RouterPeers::send(std::uint64_t id, const proto::ControlMessage& m) {
  if (auto p = find(id)) p->conn->send_control(m);
}

void RouterPeers::on_hello(RouterPeer& peer, const proto::Hello& m) {
  peer.role = m.role;
  const std::string& advertise = router_.options.advertise;
  if (m.role == proto::Role::spawner && !parent_) {
    parent_ = peer.id;
    parent_timer_.cancel();
    if (advertise.empty() && !peer.reached_host.empty()) router_.label_host = peer.reached_host;
  }
  proto::Welcome w{advertise.empty() ? peer.reached_host : advertise, router_.port.load(), {}};
  if (m.role == proto::Role::spawner && router_.options.host_facts)
    w.host_facts = router_.options.host_facts();
  peer.conn->send_control(w);
}

void RouterPeers::on_frame(std::uint64_t id, Frame&& f) {
  auto peer = find(id);
  if (!peer) return;
  switch (f.header.kind) {
    case wire::FrameKind::control: {
      proto::ControlMessage m;
      try {
        m = decode_control(f.payload);
      } catch (const std::exception& e) {
        peer->conn->close("bad control message from " + peer->conn->peer() + ": " + e.what(),
                          CloseKind::bad_frame);
        return;
      }
      if (peer->heartbeat) peer->heartbeat->heard(std::holds_alternative<proto::Heartbeat>(m));
      router_.dispatch(*peer, std::move(m));
      break;
    }
    case wire::FrameKind::data:
      if (peer->heartbeat) peer->heartbeat->heard();
      router_.places.data_from_peer(id, std::move(f));
      break;
    case wire::FrameKind::io:
      if (peer->heartbeat) peer->heartbeat->heard();
      router_.processes.stdin_from_owner(id, f.header.channel, std::move(f.payload));
      break;
    case wire::FrameKind::auth: break;  // handled by the connection
  }
}

void RouterPeers::on_closed(std::uint64_t id, const CloseReason& reason) {
  auto peer = find(id);
  if (!peer) return;
  peers_.erase(id);
  if (peer->heartbeat) peer->heartbeat->stop();
  const bool stopped = router_.supervision.stopped();
  const bool was_parent = parent_ && *parent_ == id;
  if (was_parent) parent_.reset();
  if (!reason.orderly() && !stopped) router_.logs.local("warning", reason.text);
  // What the peer owned: the places it spawned and the processes it launched die,
  // its connections to named places close.
  std::vector<pid_t> doomed = router_.places.peer_gone(id);
  for (pid_t pid : router_.processes.owned_by(id)) doomed.push_back(pid);
  if (was_parent && router_.options.parent_link && !router_.supervision.exiting()) {
    router_.logs.local("error", "the parent connection is gone (" + reason.text + "); exiting");
    router_.supervision.begin_shutdown(0);
    return;
  }
  if (!doomed.empty()) router_.supervision.kill_groups(doomed, router_.options.kill_grace);
}

}  // namespace rmpi::places::detail

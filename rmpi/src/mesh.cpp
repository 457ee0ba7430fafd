#include "mesh.hpp"

#include <sys/epoll.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <variant>

#include <rmpi/error.hpp>
#include <rmpi/incarnation.hpp>

#include "rank_hello.hpp"
#include "shm/context.hpp"
#include "socket_link.hpp"
#include "world.hpp"

namespace rmpi::detail {

Transport transport_from_environment() {
  const char* v = std::getenv(kTransportEnv);
  if (!v || !*v || std::strcmp(v, "auto") == 0) return Transport::automatic;
  if (std::strcmp(v, "tcp") == 0) return Transport::tcp;
  if (std::strcmp(v, "shm") == 0) return Transport::shm;
  std::string shown(v, std::min<std::size_t>(std::strlen(v), 80));
  for (char& c : shown)
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) c = '?';
  throw ConfigError("rmpi: " + std::string(kTransportEnv) + "='" + shown + "' is not one of auto, tcp, shm");
}

Mesh::Mesh(int rank, std::string secret, std::string node_id, Transport transport, std::vector<Endpoint> table,
           std::unique_ptr<RankListener> listener, std::chrono::seconds connect_timeout)
    : rank_(rank), secret_(std::move(secret)), node_id_(std::move(node_id)), transport_(transport),
      table_(std::move(table)), listener_(std::move(listener)), connect_timeout_(connect_timeout),
      ready_(::epoll_create1(EPOLL_CLOEXEC)) {
  if (!ready_) throw Error(std::string("rmpi: epoll_create1 failed: ") + std::strerror(errno));
  watch(listener_->ready_fd());
}

void Mesh::watch(int fd) {
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.fd = fd;
  if (::epoll_ctl(ready_.get(), EPOLL_CTL_ADD, fd, &ev) != 0)
    throw Error(std::string("rmpi: cannot watch for new links: ") + std::strerror(errno));
}

Mesh::~Mesh() = default;

bool Mesh::local_path(int peer) const {
  return transport_ != Transport::tcp && table_[static_cast<std::size_t>(peer)].node_id == node_id_;
}

void Mesh::use_shm(std::unique_ptr<shm::Context> context) {
  shm_ = std::move(context);
  if (!shm_) return;
  std::vector<shm::LocalRank> node;
  if (transport_ != Transport::tcp)
    for (std::size_t r = 0; r < table_.size(); ++r)
      if (table_[r].node_id == node_id_ && !table_[r].shm.empty()) node.push_back({static_cast<int>(r), table_[r].shm});
  shm_->set_node(node, table_[static_cast<std::size_t>(rank_)].host);
  watch(shm_->bell_fd());
}

std::string Mesh::where(int peer) const {
  const Endpoint& e = table_[static_cast<std::size_t>(peer)];
  if (shm_ && shm_->reaches(peer))
    return "shared memory on " + e.host;
  if (local_path(peer)) return "local socket on " + e.host;
  return e.host + ":" + std::to_string(e.port);
}

std::unique_ptr<Link> Mesh::make_link(int peer, Fd fd, FrameSink& sink) const {
  return std::make_unique<SocketLink>(peer, std::move(fd), where(peer), sink);
}

std::vector<std::pair<int, std::unique_ptr<Link>>> Mesh::take_accepted(FrameSink& sink) {
  std::vector<std::pair<int, std::unique_ptr<Link>>> out;
  if (shm_) out = shm_->take_new(sink);
  for (auto& a : listener_->take()) out.emplace_back(a.peer, make_link(a.peer, std::move(a.fd), sink));
  return out;
}

bool Mesh::shm_reaches(int peer) const { return shm_ && shm_->reaches(peer); }
shm::Doorbell* Mesh::shm_doorbell() const { return shm_ ? &shm_->doorbell() : nullptr; }
bool Mesh::shm_has_new() const { return shm_ && shm_->has_new(); }

std::unique_ptr<Link> Mesh::connect(int peer, FrameSink& sink) {
  if (shm_ && shm_->reaches(peer))
    if (auto link = shm_->link(peer, sink)) return link;  // else (logged) a socket
  const auto deadline = Clock::now() + connect_timeout_;
  const Endpoint& e = table_[static_cast<std::size_t>(peer)];
  const bool local = local_path(peer);
  const std::string who = "rank " + std::to_string(peer);
  const std::string at = local ? "local socket @" + e.local_name + " (" + e.host + ":" + std::to_string(e.port) + ")"
                               : e.host + ":" + std::to_string(e.port);
  const auto unreachable = [&](const std::string& why) {
    return ConnectError("rmpi: rank " + std::to_string(rank_) + " cannot reach rank " + std::to_string(peer) +
                        " at " + at + ": " + why);
  };
  bool declined = false;
  if (listener_->claim(peer) == RankListener::Claim::connect) {
    try {
      // The peer listened before it published its endpoint: a refusal means it is gone.
      Fd fd = local ? connect_unix(e.local_name, deadline, who, false)
                    : connect_tcp(e.host, e.port, deadline, who, false);
      auth_as_connector(fd.get(), secret_, deadline);
      const rank_hello::Hello hello{rank_, static_cast<std::uint32_t>(restart_count())};
      write_frame(fd.get(), rank_hello::encode(hello), {}, deadline);
      const auto reply = rank_hello::decode(read_frame(fd.get(), 0, deadline).header);
      const auto* accepted = reply ? std::get_if<rank_hello::Accepted>(&*reply) : nullptr;
      const auto* refused = reply ? std::get_if<rank_hello::Declined>(&*reply) : nullptr;
      if (accepted && accepted->rank == peer) {
        listener_->connected(peer, true);
        return make_link(peer, std::move(fd), sink);
      }
      if (!refused || refused->rank != peer)
        throw ProtocolError("the peer did not answer with rank " + std::to_string(peer) + "'s hello");
      declined = true;  // its own connection to us wins; it is on its way
      listener_->connected(peer, false);
    } catch (const Error& err) {
      listener_->connected(peer, false);
      throw unreachable(err.what());
    }
  }
  auto a = listener_->wait_for(peer, deadline);
  if (!a)
    throw unreachable(std::string(declined ? "it declined our connection and " : "") + "its own connection did not arrive within " +
                      std::to_string(connect_timeout_.count()) + " s");
  return make_link(peer, std::move(a->fd), sink);
}

}  // namespace rmpi::detail

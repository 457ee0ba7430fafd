#include <rmpi/init.hpp>

#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <condition_variable>
#include <cstdlib>
#include <map>
#include <mutex>
#include <set>
#include <string_view>
#include <thread>

#include <cereal/types/string.hpp>

#include <rmpi/error.hpp>
#include <rmpi/launch_env.hpp>
#include <rmpi/message.hpp>
#include <rmpi/rendezvous.hpp>

#include "comm_state.hpp"
#include "net.hpp"

namespace rmpi {
namespace {

using detail::Clock;
using detail::Fd;

/// What each rank publishes through the rendezvous.
struct Endpoint {
  std::string host;
  std::uint16_t port = 0;
  std::string local_name;
  std::string node_id;
  template <class A>
  void serialize(A& ar) {
    ar(host, port, local_name, node_id);
  }
};

std::string describe(const Endpoint& e) { return e.host + ":" + std::to_string(e.port); }

/// RMPI_TRANSPORT: `auto` (default: a local socket between ranks of one node,
/// TCP otherwise) or `tcp` (TCP between every pair, to compare transports).
bool transport_forces_tcp() {
  const char* v = std::getenv("RMPI_TRANSPORT");
  const std::string_view value = v ? v : "";
  if (value.empty() || value == "auto") return false;
  if (value == "tcp") return true;
  std::string shown;
  for (const char c : value.substr(0, 32))
    shown += (c >= 0x20 && c < 0x7f) ? std::string(1, c) : "?";
  throw ConfigError("rmpi: RMPI_TRANSPORT='" + shown + (value.size() > 32 ? "..." : "") +
                    "' is not a transport; valid: auto, tcp");
}

// Accepts connections from lower ranks on both listeners until stopped;
// every accepted connection is authenticated and identified on its own thread.
class Acceptor {
 public:
  Acceptor(int my_rank, std::string secret, Fd tcp, Fd local)
      : rank_(my_rank), secret_(std::move(secret)), tcp_(std::move(tcp)), local_(std::move(local)),
        stop_(::eventfd(0, EFD_CLOEXEC)) {
    thread_ = std::thread([this] { loop(); });
  }
  ~Acceptor() { stop(); }

  /// Waits until ranks 0 .. rank-1 are connected or the deadline passes.
  std::map<int, Fd> wait(Clock::time_point deadline) {
    std::unique_lock lock(mu_);
    cv_.wait_until(lock, deadline, [&] { return static_cast<int>(ready_.size()) == rank_; });
    return std::move(ready_);
  }

  void stop() {
    if (!thread_.joinable()) return;
    const std::uint64_t one = 1;
    (void)!::write(stop_.get(), &one, sizeof one);
    thread_.join();
    std::vector<std::thread> hs;
    {
      std::lock_guard lock(mu_);
      stopping_ = true;
      for (int fd : active_) ::shutdown(fd, SHUT_RDWR);
      hs = std::move(handlers_);
    }
    for (auto& h : hs) h.join();
  }

 private:
  void loop() {
    for (;;) {
      pollfd fds[3] = {{tcp_.get(), POLLIN, 0}, {local_.get(), POLLIN, 0}, {stop_.get(), POLLIN, 0}};
      if (::poll(fds, 3, -1) < 0) {
        if (errno == EINTR) continue;
        return;
      }
      if (fds[2].revents) return;
      for (int i = 0; i < 2; ++i) {
        if (!fds[i].revents) continue;
        const int c = ::accept4(fds[i].fd, nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK);
        if (c < 0) continue;
        if (i == 0) detail::set_nodelay(c);
        std::lock_guard lock(mu_);
        active_.insert(c);
        handlers_.emplace_back([this, c] { serve(c); });
      }
    }
  }

  void serve(int raw) {
    Fd fd(raw);
    const std::string who = detail::peer_name(raw);
    try {
      const auto deadline = Clock::now() + std::chrono::seconds(30);
      detail::auth_as_acceptor(raw, secret_, deadline);
      const detail::Frame hello = detail::read_frame(raw, 0, deadline);
      if (hello.header.kind != wire::FrameKind::control || hello.header.flags != detail::kHelloFrame)
        throw ProtocolError("the first frame after the handshake is not a hello");
      const int peer = static_cast<int>(hello.header.source);
      if (peer < 0 || peer >= rank_)
        throw ProtocolError("a hello from rank " + std::to_string(peer) +
                            ", which should not connect to rank " + std::to_string(rank_));
      detail::write_frame(raw,
                          {.kind = wire::FrameKind::control, .flags = detail::kHelloFrame,
                           .source = static_cast<std::uint32_t>(rank_)},
                          {}, deadline);
      std::unique_lock lock(mu_);
      active_.erase(raw);
      if (stopping_ || ready_.count(peer)) {
        lock.unlock();
        throw ProtocolError("rank " + std::to_string(peer) + " connected twice");
      }
      ready_.emplace(peer, std::move(fd));
      cv_.notify_all();
    } catch (const std::exception& e) {
      detail::log_line("warning", "rank " + std::to_string(rank_),
                       "dropped a connection from " + who + ": " + e.what());
      std::lock_guard lock(mu_);
      active_.erase(raw);
    }
  }

  int rank_;
  std::string secret_;
  Fd tcp_;
  Fd local_;
  Fd stop_;
  std::thread thread_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::map<int, Fd> ready_;
  std::set<int> active_;
  std::vector<std::thread> handlers_;
  bool stopping_ = false;
};

Fd connect_peer(const LaunchEnv& env, int peer, const Endpoint& e, bool local, Clock::time_point deadline) {
  const std::string what = "rank " + std::to_string(peer);
  const std::string where = local ? "local socket @" + e.local_name + " (" + describe(e) + ")" : describe(e);
  try {
    Fd fd = local ? detail::connect_unix(e.local_name, deadline, what)
                  : detail::connect_tcp(e.host, e.port, deadline, what);
    detail::auth_as_connector(fd.get(), env.secret, deadline);
    detail::write_frame(fd.get(),
                        {.kind = wire::FrameKind::control, .flags = detail::kHelloFrame,
                         .source = static_cast<std::uint32_t>(env.rank)},
                        {}, deadline);
    const detail::Frame reply = detail::read_frame(fd.get(), 0, deadline);
    if (reply.header.kind != wire::FrameKind::control || reply.header.flags != detail::kHelloFrame ||
        static_cast<int>(reply.header.source) != peer)
      throw ProtocolError("the peer did not answer with rank " + std::to_string(peer) + "'s hello");
    return fd;
  } catch (const Error& e2) {
    throw ConnectError("rmpi: rank " + std::to_string(env.rank) + " cannot reach rank " +
                       std::to_string(peer) + " at " + where + ": " + e2.what());
  }
}

std::shared_ptr<detail::World> build_world(const LaunchEnv& env) {
  const auto deadline = Clock::now() + env.init_timeout;
  const bool force_tcp = transport_forces_tcp();
  std::vector<std::unique_ptr<detail::Peer>> peers(static_cast<std::size_t>(env.size));
  if (env.size == 1)
    return std::make_shared<detail::World>(0, 1, env.spin, std::move(peers));

  Fd tcp;
  try {
    tcp = detail::listen_tcp(env.advertise, env.port_first, env.port_last);
  } catch (const ConnectError&) {
    tcp = detail::listen_tcp("", env.port_first, env.port_last);
  }
  Endpoint me{env.advertise, detail::local_port(tcp.get()),
              "rmpi-" + env.job_id + "-" + std::to_string(env.rank), env.node_id};
  Acceptor acceptor(env.rank, env.secret, std::move(tcp), detail::listen_unix(me.local_name));

  const places::Message blob = places::encode(me);
  const auto table = rendezvous_exchange(
      env.rendezvous_host, env.rendezvous_port, env.secret, static_cast<std::uint32_t>(env.rank),
      static_cast<std::uint32_t>(env.size),
      std::string_view(reinterpret_cast<const char*>(blob.payload.data()), blob.payload.size()),
      std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()));
  std::vector<Endpoint> ends;
  for (const auto& t : table)
    ends.push_back(places::decode_payload<Endpoint>(
        std::as_bytes(std::span(t.data(), t.size()))));

  const auto make_peer = [&](int r, Fd fd) {
    auto p = std::make_unique<detail::Peer>();
    const Endpoint& e = ends[static_cast<std::size_t>(r)];
    const bool same_node = e.node_id == env.node_id && !force_tcp;
    p->rank = r;
    p->fd = std::move(fd);
    p->where = same_node ? "local socket on " + e.host : describe(e);
    detail::set_nonblocking(p->fd.get());
    peers[static_cast<std::size_t>(r)] = std::move(p);
  };
  for (int r = env.rank + 1; r < env.size; ++r) {
    const Endpoint& e = ends[static_cast<std::size_t>(r)];
    make_peer(r, connect_peer(env, r, e, e.node_id == env.node_id && !force_tcp, deadline));
  }
  auto lower = acceptor.wait(deadline);
  acceptor.stop();
  for (int r = 0; r < env.rank; ++r) {
    auto it = lower.find(r);
    if (it == lower.end())
      throw ConnectError("rmpi: rank " + std::to_string(env.rank) + " was never reached by rank " +
                         std::to_string(r) + " (" + describe(ends[static_cast<std::size_t>(r)]) +
                         ") within " + std::to_string(env.init_timeout.count()) + " s");
    make_peer(r, std::move(it->second));
  }
  return std::make_shared<detail::World>(env.rank, env.size, env.spin, std::move(peers));
}

std::mutex g_mu;
std::shared_ptr<detail::World> g_world;
std::shared_ptr<detail::CommState> g_comm;

void finish_at_exit() {
  try {
    finish();
  } catch (const std::exception& e) {
    detail::log_line("error", "rmpi", std::string("finish at exit failed: ") + e.what());
  }
}

}  // namespace

Comm init(int& argc, char**& argv) {
  (void)argc;
  (void)argv;
  {
    std::lock_guard lock(g_mu);
    if (g_comm) {
      if (g_world->finished()) throw Error("rmpi::init: called again after rmpi::finish");
      return Comm(g_comm);
    }
  }
  return detail::init_from(read_launch_env());
}

Comm detail::init_from(const LaunchEnv& env) {
  std::lock_guard lock(g_mu);
  if (g_comm) {
    if (g_world->finished()) throw Error("rmpi::init: called again after rmpi::finish");
    return Comm(g_comm);
  }
  g_world = build_world(env);
  g_comm = std::make_shared<detail::CommState>();
  g_comm->world = g_world;
  g_comm->context = 0;
  g_comm->id = env.rank;
  for (int r = 0; r < env.size; ++r) g_comm->members.push_back(r);
  std::atexit(finish_at_exit);
  return Comm(g_comm);
}

void finish() {
  std::shared_ptr<detail::World> w;
  {
    std::lock_guard lock(g_mu);
    w = g_world;
  }
  if (w) w->finish();
}

bool initialized() {
  std::lock_guard lock(g_mu);
  return g_world && !g_world->finished();
}

}  // namespace rmpi

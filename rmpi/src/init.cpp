#include <rmpi/init.hpp>

#include <cstdlib>
#include <mutex>

#include <rmpi/detail/endpoint.hpp>

#include <rmpi/error.hpp>
#include <rmpi/failure.hpp>
#include <rmpi/incarnation.hpp>
#include <rmpi/launch_env.hpp>
#include <rmpi/message.hpp>
#include <rmpi/rendezvous.hpp>

#include "comm_state.hpp"
#include "mesh.hpp"
#include "net.hpp"
#include "rank_listener.hpp"
#include "shm/context.hpp"

namespace rmpi {
namespace {

using detail::Clock;
using detail::Fd;

using detail::Endpoint;

std::shared_ptr<detail::World> build_world(const LaunchEnv& env) {
  const auto deadline = Clock::now() + env.init_timeout;
  if (env.size == 1) return std::make_shared<detail::World>(0, 1, env.spin, nullptr);
  const detail::Transport transport = detail::transport_from_environment();
  const detail::ListenerLimits limits = listener::limits_from_environment();

  // Every rank of the job on this node: only loopback needs to reach us.
  const bool all_here = env.local_size == env.size;
  const std::string bind_host = all_here ? "127.0.0.1" : env.advertise;
  Fd tcp = detail::listen_tcp(bind_host, env.port_first, env.port_last);
  Endpoint me{bind_host, detail::local_port(tcp.get()), "rmpi-" + env.job_id + "-" + std::to_string(env.rank),
              env.node_id, {}};
  auto listener = std::make_unique<detail::RankListener>(env.rank, env.size, env.secret, std::move(tcp),
                                                         detail::listen_unix(me.local_name), limits);
  // This rank's shared-memory segment, published beside its sockets.
  std::unique_ptr<detail::shm::Context> shm;
  // A restartable job's links are sockets only: a new incarnation of a rank
  // replaces them, where a shared-memory ring could not be re-attached.
  if (transport != detail::Transport::tcp && !detail::restartable()) {
    shm = detail::shm::Context::create(env.rank, env.local_size > 1 ? env.local_size : env.size, env.job_id);
    if (shm) me.shm = shm->descriptor();
  }

  // The rendezvous hands out every endpoint; pairs connect at their first message.
  const places::Message blob = places::encode(me);
  const auto table = rendezvous_exchange(
      env.rendezvous_host, env.rendezvous_port, env.secret, static_cast<std::uint32_t>(env.rank),
      static_cast<std::uint32_t>(env.size),
      std::string_view(reinterpret_cast<const char*>(blob.payload.data()), blob.payload.size()),
      std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()));
  std::vector<Endpoint> ends;
  for (const auto& t : table)
    ends.push_back(places::decode_payload<Endpoint>(std::as_bytes(std::span(t.data(), t.size()))));
  auto mesh = std::make_unique<detail::Mesh>(env.rank, env.secret, env.node_id, transport, std::move(ends),
                                             std::move(listener), env.init_timeout);
  mesh->use_shm(std::move(shm));
  auto world = std::make_shared<detail::World>(env.rank, env.size, env.spin, std::move(mesh));
  if (env.yield_when_idle) world->set_oversubscribed(*env.yield_when_idle);
  if (restart_count() > 0) world->rejoin();  // the others learn this rank is back
  return world;
}

std::mutex g_mu;
std::shared_ptr<detail::World> g_world;
std::shared_ptr<detail::CommState> g_comm;

// A rank that exits without finish (std::exit, a return from main) never
// waits for the others: it hands over what it sent and goes.
void finish_at_exit() {
  std::shared_ptr<detail::World> w;
  {
    std::lock_guard lock(g_mu);
    w = g_world;
  }
  try {
    if (w) w->finish(detail::World::FinishMode::at_exit);
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
  detail::report_uncaught_exceptions(env.rank);  // an init that fails is reported like any failure
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

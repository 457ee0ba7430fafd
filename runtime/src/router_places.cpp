#include "router_places.hpp"

#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include <boost/asio/post.hpp>

#include "router_impl.hpp"
#include "variant_overload.hpp"

namespace rmpi::places::detail {

namespace asio = boost::asio;
namespace proto = protocol;

namespace {
// A reaped place whose socket stays open (a grandchild holds it) is closed after this.
constexpr auto kPlaceSocketLinger = std::chrono::seconds(2);
// A thread place whose link closed without its PlaceExited waits this long
// for its host's reaping (the host's status is its own) before it is ended
// with status 1, its host living on. Far beyond the time a reap takes.
constexpr auto kThreadLinkLinger = std::chrono::seconds(10);
}  // namespace

std::string RouterPlaces::describe(const Place& p) const {
  return std::string(p.thread ? "thread place '" : "place '") + p.function + "' of " + p.module +
         " (" + (p.thread ? "module host pid " : "pid ") + std::to_string(p.pid) + ") on " +
         router_.label();
}

pid_t RouterPlaces::start(const RouterPeer& peer, const proto::SpawnPlace& m, int place_fd,
                          std::uint64_t id) {
  const RouterOptions& o = router_.options;
  const std::string here = o.advertise.empty() ? peer.reached_host : o.advertise;
  proto::Env env = {{"RMPI_NODE_ADDR", router_.own_address},
                    {"RMPI_LOG_ORIGIN", "PLACE " + (here.empty() ? router_.label_host : here) + ":" +
                                            std::to_string(router_.port.load())},
                    {auth::kSecretEnv, o.secret}};
  if (m.thread) return hosts_.start_place(m.module, env, {m.function, m.thunk, m.name}, place_fd);
  constexpr int kPlaceFd = 3;
  ProcessSpec spec;
  spec.argv = {m.module};
  spec.env = {{"RMPI_PLACE_FUNC", m.function},
              {"RMPI_PLACE_THUNK", m.thunk ? "1" : "0"},
              {"RMPI_PLACE_FD", std::to_string(kPlaceFd)},
              {"RMPI_PLACE_NAME", m.name}};
  spec.env.insert(spec.env.end(), env.begin(), env.end());
  spec.fds = {{place_fd, kPlaceFd}};
  spec.stdin_mode = Stdio::null;
  const pid_t pid = spawn_process(spec).pid;
  std::weak_ptr<Router::Impl> weak = router_.shared_from_this();
  watch_child(
      pid,
      [weak, id](ExitStatus st) {
        if (auto s = weak.lock()) asio::post(s->strand, [s, id, st] { s->places.on_reaped(id, st); });
      },
      [weak, id](RunState state, int sig) {
        if (auto s = weak.lock())
          asio::post(s->strand, [s, id, state, sig] { s->places.on_run_state(id, state, sig); });
      });
  return pid;
}

void RouterPlaces::spawn(RouterPeer& peer, const proto::SpawnPlace& m) {
  auto fail = [&](std::string reason) {
    peer.conn->send_control(proto::ChannelFailed{m.channel, std::move(reason)});
  };
  const std::string label = router_.label();
  if (channel_in_use(peer.id, m.channel))
    return fail("channel " + std::to_string(m.channel) + " is already in use");
  if (!m.name.empty() && router_.names.taken(m.name))
    return fail("a place named '" + m.name + "' already exists on " + label);
  int sv[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0)
    return fail("cannot create a socket pair for place '" + m.function + "' on " + label + ": " +
                std::strerror(errno));
  const std::uint64_t id = router_.new_id();
  pid_t pid = -1;
  try {
    pid = start(peer, m, sv[1], id);
  } catch (const std::exception& e) {
    ::close(sv[0]);
    ::close(sv[1]);
    return fail(std::string("cannot start ") + (m.thread ? "thread place function '" : "place function '") +
                m.function + "' of " + m.module + " on " + label + ": " + e.what());
  }
  ::close(sv[1]);
  auto place = std::make_shared<Place>();
  place->id = id;
  place->pid = pid;
  place->thread = m.thread;
  place->module = m.module;
  place->function = m.function;
  place->name = m.name;
  place->spawner = peer.id;
  place->spawner_channel = m.channel;
  place->channels[0] = {peer.id, m.channel};
  StreamSocket socket(router_.strand);
  socket.assign(asio::generic::stream_protocol(AF_UNIX, 0), sv[0]);
  ConnectionOptions copts;
  copts.max_length = router_.options.max_frame_length;
  place->conn = FramedConnection::create(
      std::move(socket),
      std::string(m.thread ? "thread place '" : "place '") + m.function + "' (pid " +
          std::to_string(pid) + ")",
      copts);
  places_[place->id] = place;
  routes_[{peer.id, m.channel}] = {place->id, 0};
  if (!m.name.empty()) router_.names.add(m.name, place->id);
  std::weak_ptr<Router::Impl> weak = router_.shared_from_this();
  ConnectionHandlers h;
  h.on_frame = [weak, id](Frame&& f) {
    if (auto s = weak.lock()) s->places.on_frame(id, std::move(f));
  };
  h.on_close = [weak, id](const CloseReason& reason) {
    if (auto s = weak.lock()) s->places.on_socket_closed(id, reason);
  };
  place->conn->start(AuthRole::trusted, {}, std::move(h));
}

void RouterPlaces::host_ended(pid_t pid, ExitStatus status) {
  std::vector<std::uint64_t> ended;
  for (auto& [id, p] : places_)
    if (p->thread && p->pid == pid && !p->reaped) ended.push_back(id);
  for (std::uint64_t id : ended) on_reaped(id, status);
}

bool RouterPlaces::channel_in_use(std::uint64_t peer, std::uint32_t channel) const {
  return routes_.count({peer, channel}) != 0;
}

void RouterPlaces::open_channel(std::uint64_t place_id, const RouterPeer& peer,
                                std::uint32_t channel) {
  Place& place = *places_.at(place_id);
  const std::uint32_t pc = place.next_channel++;
  place.channels[pc] = {peer.id, channel};
  routes_[{peer.id, channel}] = {place.id, pc};
  place.conn->send_control(proto::NewConnection{pc});
}

void RouterPlaces::data_from_peer(std::uint64_t peer, Frame&& f) {
  auto r = routes_.find({peer, f.header.channel});
  if (r == routes_.end()) return;  // the channel closed meanwhile
  auto pl = places_.find(r->second.first);
  if (pl == places_.end()) return;
  f.header.channel = r->second.second;
  pl->second->conn->send(f.header, std::move(f.payload));
}

void RouterPlaces::close_from_peer(std::uint64_t peer, std::uint32_t channel) {
  auto r = routes_.find({peer, channel});
  if (r == routes_.end()) return;
  const Route target = r->second;
  routes_.erase(r);
  auto pl = places_.find(target.first);
  if (pl == places_.end()) return;
  pl->second->channels.erase(target.second);
  pl->second->conn->send_control(proto::CloseChannel{target.second});
}

void RouterPlaces::kill(std::uint64_t peer, std::uint32_t channel) {
  auto r = routes_.find({peer, channel});
  if (r == routes_.end() || r->second.second != 0) return;  // not a place this peer spawned
  auto pl = places_.find(r->second.first);
  if (pl == places_.end()) return;
  Place& place = *pl->second;
  if (place.spawner != peer || place.reaped) return;
  if (place.thread) {
    // Its thread cannot be killed: its link closes, and it ends as killed.
    place.closed_by_router = true;
    asio::post(router_.strand, [conn = place.conn] { conn->close("killed by its spawner"); });
    return;
  }
  // SIGKILL ends a stopped place too; what it started goes with it.
  router_.supervision.signal_child(place.pid, SIGKILL);
}

void RouterPlaces::on_run_state(std::uint64_t id, RunState state, int sig) {
  auto it = places_.find(id);
  if (it == places_.end() || it->second->reaped || it->second->spawner == 0) return;
  const Place& place = *it->second;
  const auto run_state =
      state == RunState::stopped ? proto::ProcessRunState::stopped : proto::ProcessRunState::continued;
  router_.peers.send(place.spawner, proto::PlaceRunStateChanged{place.spawner_channel, run_state, sig});
}

std::vector<pid_t> RouterPlaces::peer_gone(std::uint64_t peer) {
  std::vector<pid_t> doomed;
  for (auto it = routes_.lower_bound({peer, 0}); it != routes_.end() && it->first.first == peer;) {
    auto pl = places_.find(it->second.first);
    if (pl != places_.end()) {
      Place& place = *pl->second;
      if (place.spawner == peer && it->second.second == 0) {
        place.spawner = 0;
        place.channels.erase(0);
        if (place.thread && !place.reaped) {
          // Its thread cannot be killed: its link closes (its channels fail).
          place.closed_by_router = true;
          asio::post(router_.strand, [conn = place.conn] { conn->close("its spawner is gone"); });
        } else if (!place.reaped) {
          doomed.push_back(place.pid);
        }
      } else {
        place.channels.erase(it->second.second);
        place.conn->send_control(proto::CloseChannel{it->second.second});
      }
    }
    it = routes_.erase(it);
  }
  return doomed;
}

void RouterPlaces::append_live_pids(std::vector<pid_t>& pids) const {
  for (auto& [id, p] : places_)
    if (!p->reaped && !p->thread) pids.push_back(p->pid);
  hosts_.append_live_pids(pids);
}

bool RouterPlaces::alive(pid_t pid) const {
  if (hosts_.alive(pid)) return true;
  for (auto& [id, p] : places_)
    if (p->pid == pid && !p->thread) return !p->reaped;
  return false;
}

void RouterPlaces::close_all(const std::string& reason) {
  auto places = places_;
  for (auto& [id, p] : places) p->conn->close(reason);
}

void RouterPlaces::on_frame(std::uint64_t id, Frame&& f) {
  auto it = places_.find(id);
  if (it == places_.end()) return;
  Place& place = *it->second;
  if (f.header.kind == wire::FrameKind::data) {
    auto c = place.channels.find(f.header.channel);
    if (c == place.channels.end()) return;
    if (auto p = router_.peers.find(c->second.first)) {
      f.header.channel = c->second.second;
      p->conn->send(f.header, std::move(f.payload));
    }
    return;
  }
  if (f.header.kind != wire::FrameKind::control) return;
  proto::ControlMessage m;
  try {
    m = decode_control(f.payload);
  } catch (const std::exception& e) {
    router_.logs.local("error", "bad control message from " + describe(place) + ": " + e.what());
    place.conn->close("bad control message", CloseKind::bad_frame);
    return;
  }
  on_control(place, std::move(m));
}

void RouterPlaces::on_control(Place& place, proto::ControlMessage&& m) {
  std::visit(
      Overload{
          [&](const proto::PlaceReady& ready) {
            if (place.ready || place.failed_reported) return;
            if (ready.ok) {
              place.ready = true;
              router_.peers.send(place.spawner, proto::PlaceStarted{place.spawner_channel, place.pid});
            } else {
              place.failed_reported = true;
              router_.peers.send(place.spawner, proto::ChannelFailed{place.spawner_channel,
                                                                     ready.reason, ready.failure});
            }
          },
          [&](const proto::Log& log) { router_.logs.route(log, 0); },
          [&](const proto::PlaceExited& exited) {
            // A thread place's end (a process place's is its reaping).
            if (!place.thread || place.reaped) return;
            on_reaped(place.id, ExitStatus{exited.status, 0});
          },
          [&](const proto::CloseChannel& close) {
            auto c = place.channels.find(close.channel);
            if (c == place.channels.end()) return;
            const Route target = c->second;
            place.channels.erase(c);
            routes_.erase(target);
            router_.peers.send(target.first, proto::CloseChannel{target.second});
          },
          [&](const auto& other) {
            router_.logs.local("warning", std::string("ignored an unexpected ") +
                                              message_name(other) + " message from " +
                                              describe(place));
          },
      },
      m);
}

void RouterPlaces::on_socket_closed(std::uint64_t id, const CloseReason& reason) {
  auto it = places_.find(id);
  if (it == places_.end()) return;
  Place& place = *it->second;
  place.socket_closed = true;
  if (place.thread && !place.reaped) {
    if (place.closed_by_router) return on_reaped(id, ExitStatus{128 + SIGKILL, SIGKILL});
    // The link of a thread closed without its PlaceExited: its host is
    // ending, and host_ended gives the status.
    place.linger = std::make_unique<asio::steady_timer>(router_.strand, kThreadLinkLinger);
    place.linger->async_wait([weak = router_.weak_from_this(), id](const boost::system::error_code& ec) {
      if (auto s = ec ? nullptr : weak.lock()) s->places.on_reaped(id, ExitStatus{1, 0});
    });
    return;
  }
  if (!reason.orderly() && !place.reaped && !router_.supervision.stopped())
    router_.logs.local("warning", describe(place) + ": " + reason.text);
  maybe_finish(id);
}

void RouterPlaces::on_reaped(std::uint64_t id, ExitStatus st) {
  auto it = places_.find(id);
  if (it == places_.end()) return;
  Place& place = *it->second;
  if (place.reaped) return;
  place.reaped = true;
  place.status = st;
  if (place.linger) place.linger->cancel();
  if (!place.socket_closed) {
    // Everything the place wrote is read before its end is reported; a
    // socket kept open by a grandchild is cut after a short linger.
    place.linger = std::make_unique<asio::steady_timer>(router_.strand, kPlaceSocketLinger);
    place.linger->async_wait([conn = place.conn](const boost::system::error_code& ec) {
      if (!ec) conn->close("closed at the place's exit");
    });
  }
  maybe_finish(id);
  router_.supervision.children_changed();
}

void RouterPlaces::maybe_finish(std::uint64_t id) {
  auto it = places_.find(id);
  if (it == places_.end()) return;
  auto place = it->second;
  if (!place->reaped || !place->socket_closed) return;
  if (place->linger) place->linger->cancel();
  places_.erase(it);
  if (place->thread) hosts_.place_ended(place->pid);
  if (!place->name.empty()) router_.names.remove(place->name, place->id);
  const std::string desc = place->status.description();
  for (auto& [pc, target] : place->channels) {
    routes_.erase(target);
    if (pc == 0 && place->spawner == target.first) continue;
    // A named connection hears the exit status too (distributed_place_wait on it).
    if (place->ready)
      router_.peers.send(target.first, proto::PlaceExited{target.second, place->status.status, desc});
    else
      router_.peers.send(target.first, proto::CloseChannel{target.second});
  }
  if (place->spawner != 0) {
    if (place->ready) {
      router_.peers.send(place->spawner,
                         proto::PlaceExited{place->spawner_channel, place->status.status, desc});
    } else if (!place->failed_reported) {
      router_.peers.send(place->spawner,
                         proto::ChannelFailed{place->spawner_channel,
                                              describe(*place) + " " + desc +
                                                  " before it was ready (is it an rmpi program "
                                                  "that calls rmpi::places::init?)"});
    }
  }
  if (place->ready && place->status.status != 0 && !router_.supervision.stopped() &&
      !router_.supervision.exiting())
    router_.logs.local("error", describe(*place) + " " + desc);
}

}  // namespace rmpi::places::detail

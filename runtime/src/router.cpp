#include "router.hpp"

#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <deque>
#include <future>
#include <map>
#include <optional>
#include <set>
#include <vector>

#include <boost/asio/bind_executor.hpp>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/write.hpp>

#include <rmpi/error.hpp>

#include "framed_connection.hpp"
#include "process.hpp"
#include "process_containment.hpp"

namespace rmpi::places::detail {

namespace asio = boost::asio;
namespace proto = protocol;

namespace {

constexpr std::size_t kReadChunk = 64 * 1024;
// A reaped place whose socket stays open (a grandchild holds it) is closed after this.
constexpr auto kPlaceSocketLinger = std::chrono::seconds(2);
// How long the listener pauses when accept runs out of descriptors or memory.
constexpr auto kAcceptPause = std::chrono::milliseconds(100);

bool out_of_resources(const boost::system::error_code& ec) {
  return ec == asio::error::no_descriptors || ec.value() == ENFILE ||
         ec == asio::error::no_buffer_space || ec == asio::error::no_memory;
}
// A reaped process's output pipes still open (held by something that escaped
// the kill of its container) are closed after this, and its exit reported.
constexpr auto kProcessOutputLinger = std::chrono::milliseconds(500);

constexpr std::array<const char*, std::variant_size_v<proto::ControlMessage>> kMessageNames = {
    "Hello",        "Welcome",        "SpawnPlace",    "PlaceStarted", "ChannelFailed",
    "PlaceExited",  "ConnectNamed",   "Connected",     "CloseChannel", "NewConnection",
    "PlaceReady",   "Exit",           "Log",           "SpawnProcess", "ProcessStarted",
    "ProcessFailed", "ProcessExited", "Terminate",     "RankAddress",  "RankTable",
    "StdinWritten"};

std::int64_t now_us() {
  return std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

void default_exit(int code) {
  std::fflush(nullptr);
  ::_exit(code);
}

void default_log(const proto::Log& log) {
  const std::string line = format_log_line(log) + "\n";
  std::fwrite(line.data(), 1, line.size(), stderr);
  std::fflush(stderr);
}

}  // namespace

std::string format_log_line(const proto::Log& log) {
  const std::int64_t us = log.unix_time_us ? log.unix_time_us : now_us();
  const std::time_t secs = static_cast<std::time_t>(us / 1000000);
  std::tm tm{};
  ::localtime_r(&secs, &tm);
  char buf[32];
  std::snprintf(buf, sizeof buf, "[%02d:%02d:%02d.%03d]", tm.tm_hour, tm.tm_min, tm.tm_sec,
                static_cast<int>((us / 1000) % 1000));
  return std::string(buf) + " " + log.origin + " " + log.severity + ": " + log.text;
}

struct Router::Impl : std::enable_shared_from_this<Router::Impl> {
  using Key = std::pair<std::uint64_t, std::uint32_t>;  // (peer or place id, channel)

  struct Peer {
    std::uint64_t id = 0;
    std::shared_ptr<FramedConnection> conn;
    std::string role = "client";
    std::uint32_t rank = 0;
    std::string reached_host;  // our address as this peer reached it
    bool holds_slot = false;   // counted by unauthenticated_ until it authenticates
  };

  struct Place {
    std::uint64_t id = 0;
    pid_t pid = -1;
    std::shared_ptr<FramedConnection> conn;
    std::string module, function, name;
    std::uint64_t spawner = 0;
    std::uint32_t spawner_channel = 0;
    bool ready = false;
    bool failed_reported = false;
    bool reaped = false;
    bool socket_closed = false;
    ExitStatus status;
    std::uint32_t next_channel = 1;
    std::map<std::uint32_t, Key> channels;  // place channel → (peer, peer channel)
    std::unique_ptr<asio::steady_timer> linger;
  };

  struct Stream {
    std::unique_ptr<asio::posix::stream_descriptor> fd;
    bool eof = false;
    bool paused = false;  // flow control: waiting for the owner's queue to drain
  };

  struct Process {
    std::uint64_t owner = 0;
    std::uint32_t id = 0;
    pid_t pid = -1;
    Stream out, err;
    std::unique_ptr<asio::posix::stream_descriptor> in;
    std::deque<std::vector<std::byte>> stdin_queue;
    bool stdin_writing = false;
    bool stdin_close_pending = false;
    bool reaped = false;
    ExitStatus status;
    Container container;
    std::unique_ptr<asio::steady_timer> linger;
    bool output_cut = false;  // pipes given up after the linger
  };

  Impl(asio::any_io_executor ex, RouterOptions opts)
      : strand_(asio::make_strand(ex)),
        options_(std::move(opts)),
        acceptor_(strand_),
        accept_pause_(strand_),
        parent_timer_(strand_),
        shutdown_timer_(strand_),
        bad_log_timer_(strand_),
        unauthenticated_(options_.max_unauthenticated),
        bad_peers_([this](const std::string& line) { local_log("warning", line); }) {
    if (!options_.on_exit) options_.on_exit = default_exit;
    if (!options_.on_log) options_.on_log = default_log;
  }

  // ---- setup ------------------------------------------------------------

  void listen() {
    if (options_.secret.empty())
      throw ConfigError("the router needs a job secret (" + std::string(auth::kSecretEnv) +
                        ") and has none");
    if (options_.listen_port < 0 || options_.listen_port > 65535)
      throw ConfigError("router port " + std::to_string(options_.listen_port) +
                        " is not a port number (0-65535)");
    boost::system::error_code ec;
    const auto address = asio::ip::make_address(options_.listen_address, ec);
    if (ec)
      throw ConfigError("cannot listen on '" + options_.listen_address + "': not an IP address");
    asio::ip::tcp::endpoint ep(address, static_cast<std::uint16_t>(options_.listen_port));
    acceptor_.open(ep.protocol());
    acceptor_.set_option(asio::socket_base::reuse_address(true));
    acceptor_.bind(ep, ec);
    if (ec == asio::error::address_in_use)
      throw ConnectError("port " + std::to_string(options_.listen_port) + " is in use on " +
                         host_name());
    if (ec)
      throw ConnectError("cannot listen on port " + std::to_string(options_.listen_port) +
                         " on " + host_name() + ": " + ec.message());
    acceptor_.listen(asio::socket_base::max_listen_connections, ec);
    if (ec)
      throw ConnectError("cannot listen on port " + std::to_string(options_.listen_port) +
                         " on " + host_name() + ": " + ec.message());
    port_ = acceptor_.local_endpoint().port();
    const auto bound = acceptor_.local_endpoint().address();
    const std::string host = bound.is_unspecified() ? (bound.is_v6() ? "::1" : "127.0.0.1")
                                                    : bound.to_string();
    own_address_ = (bound.is_v6() ? "[" + host + "]" : host) + ":" + std::to_string(port_);
    label_host_ = options_.advertise.empty() ? host_name() : options_.advertise;
  }

  void start() {
    asio::dispatch(strand_, [self = shared_from_this()] {
      self->accept();
      if (self->options_.parent_link && self->options_.parent_timeout.count() > 0) {
        self->parent_timer_.expires_after(self->options_.parent_timeout);
        self->parent_timer_.async_wait([self](const boost::system::error_code& ec) {
          if (ec || self->parent_ || self->exiting_) return;
          self->local_log("error", "no parent connected within " +
                                       std::to_string(self->options_.parent_timeout.count()) +
                                       " ms; exiting");
          self->begin_shutdown(1);
        });
      }
    });
  }

  void accept() {
    acceptor_.async_accept(
        asio::bind_executor(strand_, [self = shared_from_this()](
                                         const boost::system::error_code& ec,
                                         asio::ip::tcp::socket socket) {
          if (!self->acceptor_.is_open() || self->stopped_) return;
          if (!ec) {
            self->add_peer(std::move(socket));
          } else if (out_of_resources(ec)) {
            // Out of descriptors: pause instead of spinning on a full backlog.
            self->report_bad_peer("?", "cannot accept a connection: " + ec.message() +
                                           "; pausing the listener");
            self->accept_pause_.expires_after(kAcceptPause);
            self->accept_pause_.async_wait([self](const boost::system::error_code& e) {
              if (!e && self->acceptor_.is_open() && !self->stopped_) self->accept();
            });
            return;
          }
          self->accept();
        }));
  }

  // A peer that failed or never tried the handshake: one line a second at most.
  void report_bad_peer(const std::string& peer, const std::string& what) {
    bad_peers_.report(peer, what);
    arm_bad_log_timer();
  }

  void arm_bad_log_timer() {
    const auto due = bad_peers_.flush_due();
    if (!due || bad_log_armed_) return;
    bad_log_armed_ = true;
    bad_log_timer_.expires_at(*due);
    bad_log_timer_.async_wait([self = shared_from_this()](const boost::system::error_code& ec) {
      self->bad_log_armed_ = false;
      if (ec) return;
      self->bad_peers_.flush();
      self->arm_bad_log_timer();
    });
  }

  void add_peer(asio::ip::tcp::socket tcp) {
    boost::system::error_code ec;
    if (!unauthenticated_.try_admit()) {
      const auto remote = tcp.remote_endpoint(ec);
      const std::string who = ec ? "?" : remote.address().to_string() + ":" + std::to_string(remote.port());
      tcp.close(ec);
      report_bad_peer(who, "refused a connection: " + std::to_string(unauthenticated_.max()) +
                               " connections are in their handshake already (" +
                               listener::kMaxUnauthenticatedEnv + ")");
      return;
    }
    tcp.set_option(asio::ip::tcp::no_delay(true), ec);
    const int family = tcp.local_endpoint(ec).protocol().family();
    StreamSocket socket(strand_);
    socket.assign(asio::generic::stream_protocol(family, IPPROTO_TCP), tcp.release());
    const std::string remote = describe_remote(socket);
    ConnectionOptions copts;
    copts.max_length = options_.max_frame_length;
    copts.auth_timeout = options_.auth_timeout;
    auto peer = std::make_shared<Peer>();
    peer->id = next_id_++;
    peer->conn = FramedConnection::create(std::move(socket), remote, copts);
    peer->reached_host = peer->conn->local_endpoint().first;
    peer->holds_slot = true;
    peers_[peer->id] = peer;
    std::weak_ptr<Impl> weak = shared_from_this();
    const std::uint64_t id = peer->id;
    ConnectionHandlers h;
    h.on_ready = [weak, id] {
      if (auto s = weak.lock()) s->peer_authenticated(id);
    };
    h.on_frame = [weak, id](Frame&& f) {
      if (auto s = weak.lock()) s->peer_frame(id, std::move(f));
    };
    h.on_close = [weak, id](const std::string& reason) {
      if (auto s = weak.lock()) s->peer_closed(id, reason);
    };
    peer->conn->start(AuthRole::acceptor, options_.secret, std::move(h));
  }

  // ---- logging ----------------------------------------------------------

  std::string label() const { return label_host_ + ":" + std::to_string(port_); }

  // host:port at which a process of this host reaches the router.
  const std::string& own_address() const { return own_address_; }

  void route_log(const proto::Log& log, std::uint64_t from_peer) {
    if (parent_ && *parent_ != from_peer) {
      if (auto p = find_peer(*parent_)) {
        p->conn->send_control(log);
        return;
      }
    }
    options_.on_log(log);
  }

  void local_log(std::string severity, std::string text) {
    route_log(proto::Log{std::move(severity), "NODE " + label(), std::move(text), now_us()}, 0);
  }

  // ---- peers ------------------------------------------------------------

  std::shared_ptr<Peer> find_peer(std::uint64_t id) {
    auto it = peers_.find(id);
    return it == peers_.end() ? nullptr : it->second;
  }

  void send_to_peer(std::uint64_t id, const proto::ControlMessage& m) {
    if (auto p = find_peer(id)) p->conn->send_control(m);
  }

  void peer_frame(std::uint64_t id, Frame&& f) {
    auto peer = find_peer(id);
    if (!peer) return;
    switch (f.header.kind) {
      case wire::FrameKind::control: {
        proto::ControlMessage m;
        try {
          m = decode_control(f.payload);
        } catch (const std::exception& e) {
          peer->conn->close("bad control message from " + peer->conn->peer() + ": " + e.what());
          return;
        }
        std::visit([&](auto& msg) { on_peer_message(*peer, msg); }, m);
        break;
      }
      case wire::FrameKind::data: {
        auto r = routes_.find({id, f.header.channel});
        if (r == routes_.end()) return;  // the channel closed meanwhile
        auto pl = places_.find(r->second.first);
        if (pl == places_.end()) return;
        f.header.channel = r->second.second;
        pl->second->conn->send(f.header, std::move(f.payload));
        break;
      }
      case wire::FrameKind::io: process_stdin(id, f.header.channel, std::move(f.payload)); break;
      case wire::FrameKind::auth: break;  // handled by the connection
    }
  }

  template <class M>
  void unexpected(Peer& peer, const M&) {
    local_log("warning", std::string("ignored an unexpected ") +
                             kMessageNames[proto::ControlMessage(M{}).index()] + " message from " +
                             peer.conn->peer());
  }

  void on_peer_message(Peer& peer, const proto::Hello& m) {
    peer.role = m.role;
    peer.rank = m.id;
    if (m.role == "spawner" && !parent_) {
      parent_ = peer.id;
      parent_timer_.cancel();
      if (options_.advertise.empty() && !peer.reached_host.empty()) label_host_ = peer.reached_host;
    }
    proto::Welcome w;
    w.host = options_.advertise.empty() ? peer.reached_host : options_.advertise;
    w.port = port_;
    if (m.role == "spawner" && options_.host_facts) w.host_facts = options_.host_facts();
    peer.conn->send_control(w);
  }
  void on_peer_message(Peer& peer, const proto::Welcome& m) { unexpected(peer, m); }
  void on_peer_message(Peer& peer, const proto::SpawnPlace& m) { spawn_place(peer, m); }
  void on_peer_message(Peer& peer, const proto::PlaceStarted& m) { unexpected(peer, m); }
  void on_peer_message(Peer& peer, const proto::ChannelFailed& m) { unexpected(peer, m); }
  void on_peer_message(Peer& peer, const proto::PlaceExited& m) { unexpected(peer, m); }
  void on_peer_message(Peer& peer, const proto::ConnectNamed& m) { connect_named(peer, m); }
  void on_peer_message(Peer& peer, const proto::Connected& m) { unexpected(peer, m); }
  void on_peer_message(Peer& peer, const proto::CloseChannel& m) {
    auto r = routes_.find({peer.id, m.channel});
    if (r == routes_.end()) return;
    const Key target = r->second;
    routes_.erase(r);
    auto pl = places_.find(target.first);
    if (pl == places_.end()) return;
    pl->second->channels.erase(target.second);
    pl->second->conn->send_control(proto::CloseChannel{target.second});
  }
  void on_peer_message(Peer& peer, const proto::NewConnection& m) { unexpected(peer, m); }
  void on_peer_message(Peer& peer, const proto::PlaceReady& m) { unexpected(peer, m); }
  void on_peer_message(Peer&, const proto::Exit& m) { begin_shutdown(m.code); }
  void on_peer_message(Peer& peer, const proto::Log& m) { route_log(m, peer.id); }
  void on_peer_message(Peer& peer, const proto::SpawnProcess& m) { spawn_child_process(peer, m); }
  void on_peer_message(Peer& peer, const proto::ProcessStarted& m) { unexpected(peer, m); }
  void on_peer_message(Peer& peer, const proto::ProcessFailed& m) { unexpected(peer, m); }
  void on_peer_message(Peer& peer, const proto::ProcessExited& m) { unexpected(peer, m); }
  void on_peer_message(Peer&, const proto::Terminate& m) {
    terminate_all(std::chrono::milliseconds(m.grace_ms));
  }
  void on_peer_message(Peer& peer, const proto::RankAddress& m) {
    if (parent_ && *parent_ != peer.id) {
      send_to_peer(*parent_, m);
    } else {
      local_log("warning", "rank " + std::to_string(m.rank) +
                               " sent its address but this node has no parent to forward it to");
    }
  }
  void on_peer_message(Peer& peer, const proto::StdinWritten& m) { unexpected(peer, m); }
  void on_peer_message(Peer& peer, const proto::RankTable& m) {
    for (auto& [id, p] : peers_)
      if (p->role == "rank" && id != peer.id) p->conn->send_control(m);
  }

  void peer_authenticated(std::uint64_t id) {
    auto peer = find_peer(id);
    if (!peer || !peer->holds_slot) return;
    peer->holds_slot = false;
    unauthenticated_.release();
  }

  void peer_closed(std::uint64_t id, const std::string& reason) {
    auto peer = find_peer(id);
    if (!peer) return;
    peers_.erase(id);
    if (peer->holds_slot) {
      // Never authenticated: nothing of it to clean up, one rate-limited line.
      peer->holds_slot = false;
      unauthenticated_.release();
      if (!stopped_) report_bad_peer(peer->conn->peer(), reason);
      return;
    }
    const bool was_parent = parent_ && *parent_ == id;
    if (was_parent) parent_.reset();
    if (reason.rfind("connection closed by", 0) != 0 && !stopped_)
      local_log("warning", reason);
    // Sub-channels of this peer: its own places die, named connections close.
    std::vector<std::uint64_t> owned_places;
    for (auto it = routes_.lower_bound({id, 0}); it != routes_.end() && it->first.first == id;) {
      auto pl = places_.find(it->second.first);
      if (pl != places_.end()) {
        Place& place = *pl->second;
        if (place.spawner == id && it->second.second == 0) {
          owned_places.push_back(place.id);
        } else {
          place.channels.erase(it->second.second);
          place.conn->send_control(proto::CloseChannel{it->second.second});
        }
      }
      it = routes_.erase(it);
    }
    std::vector<pid_t> doomed;
    for (auto pid : owned_places) {
      auto& place = *places_[pid];
      place.spawner = 0;
      place.channels.erase(0);
      if (!place.reaped) doomed.push_back(place.pid);
    }
    for (auto& [key, proc] : processes_)
      if (key.first == id && !proc->reaped) doomed.push_back(proc->pid);
    if (was_parent && options_.parent_link && !exiting_) {
      local_log("error", "the parent connection is gone (" + reason + "); exiting");
      begin_shutdown(0);
      return;
    }
    if (!doomed.empty()) kill_groups(doomed, options_.kill_grace);
  }

  // ---- places -----------------------------------------------------------

  void spawn_place(Peer& peer, const proto::SpawnPlace& m) {
    auto fail = [&](std::string reason) {
      peer.conn->send_control(proto::ChannelFailed{m.channel, std::move(reason)});
    };
    if (routes_.count({peer.id, m.channel}))
      return fail("channel " + std::to_string(m.channel) + " is already in use");
    if (m.thread)
      return fail("cannot run place function '" + m.function + "' of " + m.module +
                  " on a thread of node " + label() + ": threads not supported yet");
    if (!m.name.empty() && named_.count(m.name))
      return fail("a place named '" + m.name + "' already exists on " + label());
    int sv[2];
    if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0)
      return fail("cannot create a socket pair for place '" + m.function + "' on " + label() +
                  ": " + std::strerror(errno));
    constexpr int kPlaceFd = 3;
    const std::string here = (options_.advertise.empty() ? peer.reached_host : options_.advertise);
    ProcessSpec spec;
    spec.argv = {m.module};
    spec.env = {{"RMPI_PLACE_FUNC", m.function},
                {"RMPI_PLACE_THUNK", m.thunk ? "1" : "0"},
                {"RMPI_PLACE_FD", std::to_string(kPlaceFd)},
                {"RMPI_PLACE_NAME", m.name},
                {"RMPI_NODE_ADDR", own_address()},
                {"RMPI_LOG_ORIGIN", "PLACE " + (here.empty() ? label_host_ : here) + ":" +
                                        std::to_string(port_)},
                {auth::kSecretEnv, options_.secret}};
    spec.fds = {{sv[1], kPlaceFd}};
    spec.stdin_mode = Stdio::null;
    ChildProcess child;
    try {
      child = spawn_process(spec);
    } catch (const std::exception& e) {
      ::close(sv[0]);
      ::close(sv[1]);
      return fail(std::string("cannot start place function '") + m.function + "': " + e.what());
    }
    ::close(sv[1]);
    auto place = std::make_shared<Place>();
    place->id = next_id_++;
    place->pid = child.pid;
    place->module = m.module;
    place->function = m.function;
    place->name = m.name;
    place->spawner = peer.id;
    place->spawner_channel = m.channel;
    place->channels[0] = {peer.id, m.channel};
    StreamSocket socket(strand_);
    socket.assign(asio::generic::stream_protocol(AF_UNIX, 0), sv[0]);
    ConnectionOptions copts;
    copts.max_length = options_.max_frame_length;
    place->conn = FramedConnection::create(
        std::move(socket), "place '" + m.function + "' (pid " + std::to_string(child.pid) + ")",
        copts);
    places_[place->id] = place;
    routes_[{peer.id, m.channel}] = {place->id, 0};
    if (!m.name.empty()) named_[m.name] = place->id;
    std::weak_ptr<Impl> weak = shared_from_this();
    const std::uint64_t id = place->id;
    ConnectionHandlers h;
    h.on_frame = [weak, id](Frame&& f) {
      if (auto s = weak.lock()) s->place_frame(id, std::move(f));
    };
    h.on_close = [weak, id](const std::string& reason) {
      if (auto s = weak.lock()) s->place_socket_closed(id, reason);
    };
    place->conn->start(AuthRole::trusted, {}, std::move(h));
    watch_child(child.pid, [weak, id](ExitStatus st) {
      if (auto s = weak.lock())
        asio::post(s->strand_, [s, id, st] { s->place_reaped(id, st); });
    });
  }

  std::string describe_place(const Place& p) const {
    return "place '" + p.function + "' of " + p.module + " (pid " + std::to_string(p.pid) +
           ") on " + label();
  }

  void place_frame(std::uint64_t id, Frame&& f) {
    auto it = places_.find(id);
    if (it == places_.end()) return;
    Place& place = *it->second;
    if (f.header.kind == wire::FrameKind::data) {
      auto c = place.channels.find(f.header.channel);
      if (c == place.channels.end()) return;
      if (auto p = find_peer(c->second.first)) {
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
      local_log("error", "bad control message from " + describe_place(place) + ": " + e.what());
      place.conn->close("bad control message");
      return;
    }
    if (auto* ready = std::get_if<proto::PlaceReady>(&m)) {
      if (place.ready || place.failed_reported) return;
      if (ready->ok) {
        place.ready = true;
        send_to_peer(place.spawner, proto::PlaceStarted{place.spawner_channel, place.pid});
      } else {
        place.failed_reported = true;
        send_to_peer(place.spawner, proto::ChannelFailed{place.spawner_channel, ready->reason});
      }
    } else if (auto* log = std::get_if<proto::Log>(&m)) {
      route_log(*log, 0);
    } else if (auto* close = std::get_if<proto::CloseChannel>(&m)) {
      auto c = place.channels.find(close->channel);
      if (c == place.channels.end()) return;
      const Key target = c->second;
      place.channels.erase(c);
      routes_.erase(target);
      send_to_peer(target.first, proto::CloseChannel{target.second});
    } else {
      local_log("warning", std::string("ignored an unexpected ") + kMessageNames[m.index()] +
                               " message from " + describe_place(place));
    }
  }

  void place_socket_closed(std::uint64_t id, const std::string& reason) {
    auto it = places_.find(id);
    if (it == places_.end()) return;
    Place& place = *it->second;
    place.socket_closed = true;
    if (reason.rfind("connection closed by", 0) != 0 && !place.reaped && !stopped_)
      local_log("warning", describe_place(place) + ": " + reason);
    maybe_finish_place(id);
  }

  void place_reaped(std::uint64_t id, ExitStatus st) {
    auto it = places_.find(id);
    if (it == places_.end()) return;
    Place& place = *it->second;
    place.reaped = true;
    place.status = st;
    if (!place.socket_closed) {
      // Everything the place wrote is read before its end is reported; a
      // socket kept open by a grandchild is cut after a short linger.
      place.linger = std::make_unique<asio::steady_timer>(strand_, kPlaceSocketLinger);
      place.linger->async_wait([conn = place.conn](const boost::system::error_code& ec) {
        if (!ec) conn->close("connection closed by the place's exit");
      });
    }
    maybe_finish_place(id);
    children_changed();
  }

  void maybe_finish_place(std::uint64_t id) {
    auto it = places_.find(id);
    if (it == places_.end()) return;
    auto place = it->second;
    if (!place->reaped || !place->socket_closed) return;
    if (place->linger) place->linger->cancel();
    places_.erase(it);
    if (!place->name.empty()) {
      auto n = named_.find(place->name);
      if (n != named_.end() && n->second == place->id) named_.erase(n);
    }
    for (auto& [pc, target] : place->channels) {
      routes_.erase(target);
      if (pc == 0 && place->spawner == target.first) continue;
      send_to_peer(target.first, proto::CloseChannel{target.second});
    }
    const std::string desc = place->status.description();
    if (place->spawner != 0) {
      if (place->ready) {
        send_to_peer(place->spawner, proto::PlaceExited{place->spawner_channel,
                                                        place->status.status, desc});
      } else if (!place->failed_reported) {
        send_to_peer(place->spawner,
                     proto::ChannelFailed{place->spawner_channel,
                                          describe_place(*place) + " " + desc +
                                              " before it was ready (is it an rmpi program that "
                                              "calls rmpi::places::init?)"});
      }
    }
    if (place->ready && place->status.status != 0 && !stopped_ && !exiting_)
      local_log("error", describe_place(*place) + " " + desc);
  }

  void connect_named(Peer& peer, const proto::ConnectNamed& m) {
    if (routes_.count({peer.id, m.channel})) {
      peer.conn->send_control(
          proto::ChannelFailed{m.channel, "channel " + std::to_string(m.channel) + " is already in use"});
      return;
    }
    auto n = named_.find(m.name);
    if (n == named_.end()) {
      peer.conn->send_control(
          proto::ChannelFailed{m.channel, "no place named '" + m.name + "' on " + label()});
      return;
    }
    Place& place = *places_.at(n->second);
    const std::uint32_t pc = place.next_channel++;
    place.channels[pc] = {peer.id, m.channel};
    routes_[{peer.id, m.channel}] = {place.id, pc};
    place.conn->send_control(proto::NewConnection{pc});
    peer.conn->send_control(proto::Connected{m.channel});
  }

  // ---- processes --------------------------------------------------------

  // Highest CPU index a process may be bound to, plus one (Linux's own limit is 8192).
  static constexpr std::uint32_t kMaxCpuIndex = 1u << 16;

  void spawn_child_process(Peer& peer, const proto::SpawnProcess& m) {
    const Key key{peer.id, m.id};
    if (processes_.count(key)) {
      peer.conn->send_control(proto::ProcessFailed{
          m.id, "process id " + std::to_string(m.id) + " is already in use on " + label()});
      return;
    }
    for (const std::uint32_t cpu : m.cpus) {
      if (cpu >= kMaxCpuIndex) {
        peer.conn->send_control(proto::ProcessFailed{
            m.id, "CPU " + std::to_string(cpu) + " is out of range on " + label()});
        return;
      }
    }
    ProcessSpec spec;
    spec.argv = m.argv;
    spec.env = m.env;
    spec.env.emplace_back("RMPI_NODE_ADDR", own_address());
    spec.env.emplace_back(auth::kSecretEnv, options_.secret);
    spec.cwd = m.cwd;
    spec.cpus.assign(m.cpus.begin(), m.cpus.end());
    spec.stdin_mode = m.forward_stdin ? Stdio::pipe : Stdio::null;
    spec.stdout_mode = Stdio::pipe;
    spec.stderr_mode = Stdio::pipe;
    // The process and all it starts stay in one container (cgroup, marker).
    Container container = Containment::instance().create();
    spec.cgroup = container.cgroup;
    if (container.id != 0) spec.env.push_back(container.marker);
    ChildProcess child;
    try {
      child = spawn_process(spec);
    } catch (const std::exception& e) {
      Containment::instance().release(container);
      peer.conn->send_control(proto::ProcessFailed{m.id, e.what()});
      return;
    }
    auto proc = std::make_shared<Process>();
    proc->container = std::move(container);
    proc->owner = peer.id;
    proc->id = m.id;
    proc->pid = child.pid;
    proc->out.fd = std::make_unique<asio::posix::stream_descriptor>(strand_, child.stdout_fd);
    proc->err.fd = std::make_unique<asio::posix::stream_descriptor>(strand_, child.stderr_fd);
    if (child.stdin_fd >= 0)
      proc->in = std::make_unique<asio::posix::stream_descriptor>(strand_, child.stdin_fd);
    processes_[key] = proc;
    peer.conn->send_control(proto::ProcessStarted{m.id, child.pid});
    read_output(key, proto::IoStream::stdout_);
    read_output(key, proto::IoStream::stderr_);
    std::weak_ptr<Impl> weak = shared_from_this();
    watch_child(child.pid, [weak, key](ExitStatus st) {
      if (auto s = weak.lock())
        asio::post(s->strand_, [s, key, st] { s->process_reaped(key, st); });
    });
  }

  void read_output(Key key, proto::IoStream which) {
    auto it = processes_.find(key);
    if (it == processes_.end()) return;
    auto proc = it->second;
    Stream& stream = which == proto::IoStream::stdout_ ? proc->out : proc->err;
    auto owner = find_peer(proc->owner);
    stream.paused = false;
    if (owner && owner->conn->queued_bytes() > options_.output_high_water) {
      // Flow control: resume once the owner's socket has drained to half.
      stream.paused = true;
      std::weak_ptr<Impl> weak = shared_from_this();
      owner->conn->when_queue_below(options_.output_high_water / 2, [weak, key, which] {
        if (auto s = weak.lock())
          asio::post(s->strand_, [s, key, which] { s->read_output(key, which); });
      });
      return;
    }
    auto buf = std::make_shared<std::vector<std::byte>>(kReadChunk);
    stream.fd->async_read_some(
        asio::buffer(*buf),
        asio::bind_executor(strand_, [self = shared_from_this(), key, which, buf, proc](
                                         const boost::system::error_code& ec, std::size_t n) {
          Stream& s = which == proto::IoStream::stdout_ ? proc->out : proc->err;
          wire::FrameHeader h;
          h.kind = wire::FrameKind::io;
          h.channel = proc->id;
          h.flags = static_cast<std::uint16_t>(which);
          auto owner = self->find_peer(proc->owner);
          if (ec || n == 0 || proc->output_cut) {
            s.eof = true;
            boost::system::error_code ignored;
            s.fd->close(ignored);
            if (owner) owner->conn->send(h, {});
            self->maybe_finish_process(key);
            return;
          }
          buf->resize(n);
          if (owner) owner->conn->send(h, std::move(*buf));
          if (proc->reaped) self->arm_output_linger(proc);
          self->read_output(key, which);
        }));
  }

  /// After the process is reaped: output pipes idle (and not held back by
  /// flow control) for kProcessOutputLinger are given up, so a descendant
  /// that escaped and holds them cannot delay the exit report.
  void arm_output_linger(const std::shared_ptr<Process>& proc) {
    if (!proc->linger) proc->linger = std::make_unique<asio::steady_timer>(strand_);
    proc->linger->expires_after(kProcessOutputLinger);
    proc->linger->async_wait(asio::bind_executor(
        strand_, [self = shared_from_this(), proc](const boost::system::error_code& ec) {
          if (ec || (proc->out.eof && proc->err.eof)) return;
          if (proc->out.paused || proc->err.paused) return self->arm_output_linger(proc);
          proc->output_cut = true;
          boost::system::error_code ignored;
          for (Stream* s : {&proc->out, &proc->err})
            if (!s->eof && s->fd) s->fd->cancel(ignored);
        }));
  }

  void process_stdin(std::uint64_t owner, std::uint32_t id, std::vector<std::byte> data) {
    auto it = processes_.find({owner, id});
    if (it == processes_.end() || !it->second->in) {
      // Nobody reads it: dropped, and acknowledged so that the sender's window stays open.
      if (!data.empty()) send_to_peer(owner, proto::StdinWritten{id, data.size()});
      return;
    }
    auto proc = it->second;
    if (data.empty()) proc->stdin_close_pending = true;
    else proc->stdin_queue.push_back(std::move(data));
    write_stdin(proc);
  }

  void write_stdin(const std::shared_ptr<Process>& proc) {
    if (proc->stdin_writing || !proc->in) return;
    if (proc->stdin_queue.empty()) {
      if (proc->stdin_close_pending) {
        boost::system::error_code ignored;
        proc->in->close(ignored);
        proc->in.reset();
      }
      return;
    }
    proc->stdin_writing = true;
    asio::async_write(*proc->in, asio::buffer(proc->stdin_queue.front()),
                      asio::bind_executor(strand_, [self = shared_from_this(), proc](
                                                       const boost::system::error_code& ec,
                                                       std::size_t) {
                        proc->stdin_writing = false;
                        std::uint64_t done = 0;
                        if (ec) {
                          // The process closed its stdin: drop what it will never read.
                          for (const auto& chunk : proc->stdin_queue) done += chunk.size();
                          self->send_to_peer(proc->owner, proto::StdinWritten{proc->id, done});
                          proc->stdin_queue.clear();
                          if (proc->in) {
                            boost::system::error_code ignored;
                            proc->in->close(ignored);
                            proc->in.reset();
                          }
                          return;
                        }
                        done = proc->stdin_queue.front().size();
                        proc->stdin_queue.pop_front();
                        self->send_to_peer(proc->owner, proto::StdinWritten{proc->id, done});
                        self->write_stdin(proc);
                      }));
  }

  void process_reaped(Key key, ExitStatus st) {
    auto it = processes_.find(key);
    if (it == processes_.end()) return;
    auto proc = it->second;
    proc->reaped = true;
    proc->status = st;
    // What the process started ends with it (its group, cgroup and marked
    // descendants); its exit is reported now, not when a holder of its
    // stdout lets go: pipes still open after a short linger are closed.
    Containment::instance().signal(proc->container, proc->pid, SIGKILL);
    if (!proc->out.eof || !proc->err.eof) arm_output_linger(proc);
    maybe_finish_process(key);
    children_changed();
  }

  void maybe_finish_process(Key key) {
    auto it = processes_.find(key);
    if (it == processes_.end()) return;
    auto proc = it->second;
    if (!proc->reaped || !proc->out.eof || !proc->err.eof) return;
    processes_.erase(it);
    if (proc->linger) proc->linger->cancel();
    Containment::instance().release(proc->container);
    if (proc->in) {
      boost::system::error_code ignored;
      proc->in->close(ignored);
    }
    send_to_peer(proc->owner,
                 proto::ProcessExited{proc->id, proc->status.status, proc->status.signal});
  }

  // ---- termination ------------------------------------------------------

  std::vector<pid_t> live_pids() const {
    std::vector<pid_t> pids;
    for (auto& [id, p] : places_)
      if (!p->reaped) pids.push_back(p->pid);
    for (auto& [key, p] : processes_)
      if (!p->reaped) pids.push_back(p->pid);
    return pids;
  }

  bool alive(pid_t pid) const {
    for (auto& [id, p] : places_)
      if (p->pid == pid) return !p->reaped;
    for (auto& [key, p] : processes_)
      if (p->pid == pid) return !p->reaped;
    return false;
  }

  /// Signals a child's process group and its container (when it has one).
  void signal_child(pid_t pid, int sig) {
    for (auto& [key, p] : processes_)
      if (p->pid == pid) Containment::instance().signal(p->container, -1, sig);
    ::kill(-pid, sig);
    ::kill(pid, sig);
  }

  // SIGTERM to each group now, SIGKILL after `grace` to those not yet reaped.
  void kill_groups(const std::vector<pid_t>& pids, std::chrono::milliseconds grace) {
    for (pid_t pid : pids) signal_child(pid, SIGTERM);
    auto timer = std::make_shared<asio::steady_timer>(strand_, grace);
    timer->async_wait([self = shared_from_this(), pids, timer](const boost::system::error_code&) {
      for (pid_t pid : pids)
        if (self->alive(pid)) self->signal_child(pid, SIGKILL);
    });
  }

  void terminate_all(std::chrono::milliseconds grace) {
    auto pids = live_pids();
    if (!pids.empty()) kill_groups(pids, grace);
  }

  void begin_shutdown(int code) {
    if (exiting_) return;
    exiting_ = true;
    exit_code_ = code;
    boost::system::error_code ignored;
    acceptor_.close(ignored);
    bad_peers_.flush(std::chrono::steady_clock::time_point::max());  // the held-back count
    terminate_all(options_.kill_grace);
    // Give up waiting for reaps well after SIGKILL.
    shutdown_timer_.expires_after(options_.kill_grace + std::chrono::seconds(2));
    shutdown_timer_.async_wait([self = shared_from_this()](const boost::system::error_code& ec) {
      if (!ec) self->finish_exit();
    });
    children_changed();
  }

  void children_changed() {
    if (exiting_ && live_pids().empty()) finish_exit();
  }

  void finish_exit() {
    if (exited_) return;
    exited_ = true;
    shutdown_timer_.cancel();
    options_.on_exit(exit_code_);
  }

  void stop() {
    if (stopped_) return;
    stopped_ = true;
    boost::system::error_code ignored;
    acceptor_.close(ignored);
    parent_timer_.cancel();
    shutdown_timer_.cancel();
    accept_pause_.cancel();
    bad_log_timer_.cancel();
    bad_peers_.flush(std::chrono::steady_clock::time_point::max());
    for (pid_t pid : live_pids()) signal_child(pid, SIGKILL);
    auto peers = peers_;
    for (auto& [id, p] : peers) p->conn->close("router stopped");
    auto places = places_;
    for (auto& [id, p] : places) p->conn->close("router stopped");
  }

  asio::strand<asio::any_io_executor> strand_;
  RouterOptions options_;
  asio::ip::tcp::acceptor acceptor_;
  asio::steady_timer accept_pause_;
  asio::steady_timer parent_timer_;
  asio::steady_timer shutdown_timer_;
  asio::steady_timer bad_log_timer_;
  bool bad_log_armed_ = false;
  listener::UnauthenticatedCap unauthenticated_;
  std::atomic<std::uint16_t> port_{0};
  std::string own_address_;
  std::string label_host_;
  std::uint64_t next_id_ = 1;
  std::map<std::uint64_t, std::shared_ptr<Peer>> peers_;
  std::map<std::uint64_t, std::shared_ptr<Place>> places_;
  std::map<Key, Key> routes_;  // (peer, peer channel) → (place, place channel)
  std::map<std::string, std::uint64_t> named_;
  std::map<Key, std::shared_ptr<Process>> processes_;  // (owner peer, process id)
  std::optional<std::uint64_t> parent_;
  bool exiting_ = false;
  bool exited_ = false;
  bool stopped_ = false;
  int exit_code_ = 0;
  listener::BadPeerLog bad_peers_;  // last: its sink uses the members above
};

Router::Router(asio::any_io_executor executor, RouterOptions options) {
  // Writes to a pipe whose reader died must be an error code, not a dead node.
  ::signal(SIGPIPE, SIG_IGN);
  impl_ = std::make_shared<Impl>(std::move(executor), std::move(options));
  impl_->listen();
  impl_->start();
}

Router::~Router() {
  auto impl = impl_;
  if (impl->strand_.running_in_this_thread()) {
    impl->stop();
    return;
  }
  auto done = std::make_shared<std::promise<void>>();
  auto f = done->get_future();
  asio::post(impl->strand_, [impl, done] {
    impl->stop();
    done->set_value();
  });
  f.wait_for(std::chrono::seconds(5));
}

std::uint16_t Router::port() const { return impl_->port_; }

std::size_t Router::unauthenticated() const { return impl_->unauthenticated_.in_use(); }

void Router::log(std::string severity, std::string text) {
  asio::post(impl_->strand_, [impl = impl_, severity = std::move(severity),
                              text = std::move(text)]() mutable {
    impl->local_log(std::move(severity), std::move(text));
  });
}

void Router::shutdown(int code) {
  asio::post(impl_->strand_, [impl = impl_, code] { impl->begin_shutdown(code); });
}

void Router::terminate_children(std::chrono::milliseconds grace) {
  asio::post(impl_->strand_, [impl = impl_, grace] { impl->terminate_all(grace); });
}

std::size_t Router::live_children() const {
  std::promise<std::size_t> p;
  auto f = p.get_future();
  if (impl_->strand_.running_in_this_thread()) return impl_->live_pids().size();
  asio::post(impl_->strand_, [impl = impl_, &p] { p.set_value(impl->live_pids().size()); });
  return f.get();
}

}  // namespace rmpi::places::detail

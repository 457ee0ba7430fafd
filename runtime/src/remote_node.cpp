#include <rmpi/remote_node.hpp>

#include <unistd.h>

#include <cerrno>
#include <future>
#include <thread>

#include <rmpi/auth.hpp>
#include <rmpi/error.hpp>

#include "io_thread.hpp"
#include "remote_impl.hpp"

namespace rmpi::places {

namespace {
void write_all(int fd, const std::vector<std::byte>& bytes) {
  std::size_t done = 0;
  while (done < bytes.size()) {
    const ssize_t n = ::write(fd, bytes.data() + done, bytes.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;  // our stdout is gone: the output is dropped
    done += static_cast<std::size_t>(n);
  }
}

constexpr auto kAnswerTimeout = std::chrono::seconds(60);

/// Waits for a node's answer delivered to the callback made by `answer()`.
struct Answer {
  std::shared_ptr<std::promise<std::optional<Refusal>>> p =
      std::make_shared<std::promise<std::optional<Refusal>>>();
  AnswerHandler callback() {
    return [p = p](std::optional<Refusal> e) { p->set_value(std::move(e)); };
  }
  std::optional<Refusal> wait(const std::string& what) {
    auto f = p->get_future();
    if (f.wait_for(kAnswerTimeout) != std::future_status::ready)
      throw SpawnError(what + ": no answer from the node within 60 s");
    return f.get();
  }
};
}  // namespace

void throw_node_error(const std::string& what, const Refusal& refusal) {
  if (refusal.failure != protocol::Failure::other) throw NameError(what + ": " + refusal.reason);
  throw SpawnError(what + ": " + refusal.reason);
}

// ---- RemoteNode::Impl ------------------------------------------------------

void RemoteNode::Impl::connect(protocol::Role role, std::chrono::seconds timeout) {
  std::weak_ptr<Impl> weak = shared_from_this();
  detail::ConnectionHandlers h;
  h.on_frame = [weak](detail::Frame&& f) {
    if (auto s = weak.lock()) s->on_frame(std::move(f));
  };
  h.on_close = [weak](const detail::CloseReason& reason) {
    if (auto s = weak.lock()) s->on_close(reason.text);
  };
  detail::ConnectOptions copts;
  auto link = detail::connect_and_authenticate(detail::io_context().get_executor(), address, port,
                                               auth::job_secret(), std::move(h), copts);
  {
    std::lock_guard lock(mu);
    conn = link;
    heartbeat = detail::LinkHeartbeat::start(
        detail::io_context().get_executor(), link,
        "node " + address + ":" + std::to_string(port) + " on " + host, detail::heartbeat_bound(),
        true);
  }
  link->send_control(protocol::Hello{role});
  std::unique_lock lock(mu);
  if (!cv.wait_for(lock, timeout, [&] { return welcome.has_value() || lost.has_value(); }))
    throw ConnectError("node " + address + ":" + std::to_string(port) + " on " + host +
                       " did not answer Hello within " + std::to_string(timeout.count()) + " s");
  if (!welcome)
    throw ConnectError("node " + address + ":" + std::to_string(port) + " on " + host +
                       " closed the connection: " + *lost);
  log_host = welcome->host;
}

void RemoteNode::Impl::on_frame(detail::Frame&& f) {
  auto find = [&](std::uint32_t ch) -> std::shared_ptr<RemoteConnection::Impl> {
    std::lock_guard lock(mu);
    auto it = conns.find(ch);
    return it == conns.end() ? nullptr : it->second;
  };
  auto take_pending = [&](std::uint32_t ch) -> AnswerHandler {
    std::lock_guard lock(mu);
    auto it = pending.find(ch);
    if (it == pending.end()) return {};
    auto fn = std::move(it->second);
    pending.erase(it);
    return fn;
  };
  auto drop = [&](std::uint32_t ch) {
    std::lock_guard lock(mu);
    conns.erase(ch);
  };
  auto find_process = [&](std::uint32_t id, bool remove) -> std::shared_ptr<SpawnedProcess::Impl> {
    std::lock_guard lock(mu);
    auto it = processes.find(id);
    if (it == processes.end()) return nullptr;
    auto p = it->second;
    if (remove) processes.erase(it);
    return p;
  };
  {
    std::lock_guard lock(mu);
    if (heartbeat) heartbeat->heard();
  }
  if (f.header.kind == wire::FrameKind::data) {
    if (auto c = find(f.header.channel)) c->ep->deliver(Message{f.header.type_tag, std::move(f.payload)});
    return;
  }
  if (f.header.kind == wire::FrameKind::io) {
    // A supervised process's output goes to ours, unchanged.
    const int fd = f.header.flags == static_cast<std::uint16_t>(protocol::IoStream::stderr_) ? 2 : 1;
    write_all(fd, f.payload);
    return;
  }
  if (f.header.kind != wire::FrameKind::control) return;
  std::visit(
      [&](auto&& m) {
        using T = std::decay_t<decltype(m)>;
        if constexpr (std::is_same_v<T, protocol::Welcome>) {
          {
            std::lock_guard lock(mu);
            welcome = m;
          }
          cv.notify_all();
        } else if constexpr (std::is_same_v<T, protocol::PlaceStarted>) {
          if (auto c = find(m.channel)) {
            std::lock_guard lock(c->mu);
            c->pid = m.pid;
          }
          if (auto fn = take_pending(m.channel)) fn(std::nullopt);
        } else if constexpr (std::is_same_v<T, protocol::Connected>) {
          if (auto fn = take_pending(m.channel)) fn(std::nullopt);
        } else if constexpr (std::is_same_v<T, protocol::ChannelFailed>) {
          auto fn = take_pending(m.channel);
          auto c = find(m.channel);
          drop(m.channel);
          if (fn) fn(Refusal{m.reason, m.failure});
          else if (c) c->on_closed(m.reason);
        } else if constexpr (std::is_same_v<T, protocol::PlaceExited>) {
          auto fn = take_pending(m.channel);
          auto c = find(m.channel);
          drop(m.channel);
          if (fn) fn(Refusal{"the place " + m.description + " before it started"});
          else if (c) c->on_exited(m.status, m.description);
        } else if constexpr (std::is_same_v<T, protocol::PlaceRunStateChanged>) {
          const bool stopped = m.state == protocol::ProcessRunState::stopped;
          if (auto c = find(m.channel)) c->on_run_state(stopped ? m.signal : 0);
        } else if constexpr (std::is_same_v<T, protocol::CloseChannel>) {
          auto c = find(m.channel);
          drop(m.channel);
          if (c) c->on_closed("the place ended or closed this channel (" + log_prefix() + ")");
        } else if constexpr (std::is_same_v<T, protocol::Log>) {
          detail::emit_log(m);
        } else if constexpr (std::is_same_v<T, protocol::ProcessStarted>) {
          if (auto p = find_process(m.id, false)) p->on_started(m.pid);
        } else if constexpr (std::is_same_v<T, protocol::ProcessFailed>) {
          if (auto p = find_process(m.id, true)) p->on_refused(m.reason);
        } else if constexpr (std::is_same_v<T, protocol::ProcessExited>) {
          if (auto p = find_process(m.id, true)) p->on_exited(m.status);
        }
      },
      detail::decode_control(f.payload));
}

void RemoteNode::Impl::on_close(const std::string& reason) {
  std::map<std::uint32_t, std::shared_ptr<RemoteConnection::Impl>> cs;
  std::map<std::uint32_t, AnswerHandler> ps;
  std::map<std::uint32_t, std::shared_ptr<SpawnedProcess::Impl>> procs;
  std::vector<std::function<void(const std::string&)>> observers;
  const std::string why = "connection to node " + log_prefix() + " lost: " + reason;
  bool expected;
  {
    std::lock_guard lock(mu);
    if (heartbeat) heartbeat->stop();
    lost = why;
    expected = exit_sent;
    cs.swap(conns);
    ps.swap(pending);
    procs.swap(processes);
    observers = on_lost_handlers;
  }
  cv.notify_all();
  for (auto& [ch, fn] : ps) fn(Refusal{why});
  if (options.restart_on_exit && !expected) {
    // Started again off the I/O thread (it blocks); supervised places follow it.
    std::vector<std::shared_ptr<RemoteConnection::Impl>> supervised;
    for (auto& [ch, c] : cs) {
      if (c->spawned && c->options.restart_on_exit.enabled()) supervised.push_back(c);
      else c->on_lost(why);
    }
    for (auto& [id, p] : procs) p->on_lost(why);
    std::thread([self = shared_from_this(), why, supervised = std::move(supervised)]() mutable {
      self->restart(why, std::move(supervised));
    }).detach();
    return;
  }
  for (auto& [ch, c] : cs) c->on_lost(why);
  for (auto& [id, p] : procs) p->on_lost(why);
  // The program hears of a node it did not end itself.
  if (!expected)
    for (auto& fn : observers) detail::run_handler([fn, why] { fn(why); });
}

std::optional<std::uint32_t> RemoteNode::Impl::open_channel(
    const std::shared_ptr<RemoteConnection::Impl>& c,
    AnswerHandler& done) {
  std::lock_guard lock(mu);
  if (lost) {
    done(Refusal{*lost});
    return std::nullopt;
  }
  const std::uint32_t ch = next_channel++;
  c->ep->set_id(ch);
  conns[ch] = c;
  pending[ch] = std::move(done);
  return ch;
}

void RemoteNode::Impl::spawn(const std::shared_ptr<RemoteConnection::Impl>& c,
                             AnswerHandler done) {
  if (const auto ch = open_channel(c, done))
    link()->send_control(protocol::SpawnPlace{*ch, c->exec.module, c->exec.func, c->exec.thunk,
                                            c->thread, c->options.named});
}

void RemoteNode::Impl::restart(const std::string& why,
                               std::vector<std::shared_ptr<RemoteConnection::Impl>> supervised) {
  detail::emit_log({"warning", detail::log_origin(), why + "; starting the node again",
                    detail::unix_time_us()});
  if (process) {
    // Whatever is left of the old node (a cut link, a stopped process) ends first.
    ::kill(-process->pid, SIGKILL);
    ::kill(process->pid, SIGKILL);
    if (process->stdin_fd >= 0) ::close(process->stdin_fd);
    process->exited_future.wait_for(std::chrono::seconds(5));
    process.reset();
  }
  try {
    start_node_process(*this, options);
    {
      std::lock_guard lock(mu);
      welcome.reset();
      lost.reset();
    }
    connect(protocol::Role::spawner, options.connect_timeout);
  } catch (const std::exception& e) {
    const std::string failed = why + "; starting it again failed: " + e.what();
    std::vector<std::function<void(const std::string&)>> observers;
    {
      std::lock_guard lock(mu);
      lost = failed;
      observers = on_lost_handlers;
    }
    cv.notify_all();
    for (auto& c : supervised) c->on_lost(failed);
    for (auto& fn : observers) detail::run_handler([fn, failed] { fn(failed); });
    return;
  }
  const auto link_now = link();
  for (auto& c : supervised) {
    c->ep->set_connection(link_now);
    c->respawn();
  }
}

void RemoteNode::Impl::spawn_process(const std::shared_ptr<SpawnedProcess::Impl>& p,
                                      const std::vector<std::string>& argv) {
  std::uint32_t id;
  {
    std::lock_guard lock(mu);
    if (lost) {
      p->on_refused(*lost);
      return;
    }
    id = next_channel++;
    processes[id] = p;
  }
  link()->send_control(protocol::SpawnProcess{id, argv, {}, {}, false});
}

void RemoteNode::Impl::close_channel(std::uint32_t channel) {
  {
    std::lock_guard lock(mu);
    conns.erase(channel);
    pending.erase(channel);
  }
  if (auto l = link(); l && l->is_open()) l->send_control(protocol::CloseChannel{channel});
}

void RemoteNode::Impl::kill_place(std::uint32_t channel) {
  if (auto l = link(); l && l->is_open()) l->send_control(protocol::KillPlace{channel});
}

void RemoteNode::Impl::connect_named(const std::shared_ptr<RemoteConnection::Impl>& c,
                                     const std::string& name,
                                     AnswerHandler done) {
  if (const auto ch = open_channel(c, done)) link()->send_control(protocol::ConnectNamed{*ch, name});
}

void RemoteNode::Impl::exit_node(std::chrono::milliseconds grace) {
  {
    std::lock_guard lock(mu);
    if (exit_sent) return;
    exit_sent = true;
  }
  const auto l = link();
  if (l && l->is_open()) l->send_control(protocol::Exit{0});
  const auto deadline = std::chrono::steady_clock::now() + grace;
  if (process && process->exited_future.valid()) {
    if (process->exited_future.wait_until(deadline) != std::future_status::ready) {
      ::kill(-process->pid, SIGKILL);
      ::kill(process->pid, SIGKILL);
      process->exited_future.wait_until(deadline + std::chrono::seconds(2));
    }
  }
  std::unique_lock lock(mu);
  cv.wait_until(lock, deadline, [&] { return lost.has_value(); });
  lock.unlock();
  if (l) l->close("node exit");
}

// ---- RemoteNode ------------------------------------------------------------

namespace {
RemoteNode::Impl& checked(const std::shared_ptr<RemoteNode::Impl>& impl) {
  if (!impl) throw Error("use of an empty RemoteNode");
  return *impl;
}

RemoteConnection launch(const std::shared_ptr<RemoteNode::Impl>& node, const PlaceExec& exec,
                        const PlaceOptions& options, bool thread) {
  auto c = std::make_shared<RemoteConnection::Impl>();
  c->node = node;
  c->exec = exec;
  c->options = options;
  c->spawned = true;
  c->thread = thread;
  c->label = std::string(thread ? "thread " : "place ") + exec.func + " on " + node->log_prefix();
  c->ep = std::make_shared<detail::LinkEndpoint>(node->link(), 0, c->label);
  Answer a;
  node->spawn(c, a.callback());
  if (auto error = a.wait("starting " + c->label))
    throw_node_error("cannot start " + c->label + " (" + exec.module + ")", *error);
  RemoteConnection rc(c, PlaceChannel(c->ep));
  if (!options.initial_message.is_null()) rc.put(options.initial_message);
  std::lock_guard lock(node->mu);
  if (!node->first_place) node->first_place = rc;
  return rc;
}
}  // namespace

RemoteConnection RemoteNode::get_first_place() const {
  auto& n = checked(impl_);
  std::lock_guard lock(n.mu);
  if (!n.first_place) throw Error("no place was launched on node " + n.log_prefix());
  return *n.first_place;
}

PlaceChannel RemoteNode::get_first_place_channel() const { return get_first_place().channel(); }

std::string RemoteNode::get_log_prefix() const { return checked(impl_).log_prefix(); }

RemoteConnection RemoteNode::launch_place(const PlaceExec& exec, const PlaceOptions& options) {
  checked(impl_);
  return launch(impl_, exec, options, false);
}

RemoteConnection RemoteNode::remote_connect(const std::string& name) {
  auto& n = checked(impl_);
  auto c = std::make_shared<RemoteConnection::Impl>();
  c->node = impl_;
  c->label = "named place '" + name + "' on " + n.log_prefix();
  c->ep = std::make_shared<detail::LinkEndpoint>(n.link(), 0, c->label);
  Answer a;
  n.connect_named(c, name, a.callback());
  if (auto error = a.wait("connecting to " + c->label))
    throw_node_error("cannot connect to " + c->label, *error);
  return RemoteConnection(c, PlaceChannel(c->ep));
}

void RemoteNode::set_on_lost(std::function<void(const std::string& reason)> fn) {
  auto& n = checked(impl_);
  std::optional<std::string> already;
  {
    std::lock_guard lock(n.mu);
    n.on_lost_handlers.push_back(fn);
    if (n.lost && !n.exit_sent) already = n.lost;
  }
  if (already) detail::run_handler([fn, why = *already] { fn(why); });
}

std::optional<std::string> RemoteNode::lost_reason() const {
  auto& n = checked(impl_);
  std::lock_guard lock(n.mu);
  return n.lost;
}

void RemoteNode::send_exit() { checked(impl_).exit_node(std::chrono::seconds(5)); }

const std::string& RemoteNode::host() const { return checked(impl_).host; }

std::uint16_t RemoteNode::port() const { return checked(impl_).port; }

const std::string& RemoteNode::address() const { return checked(impl_).address; }

std::string RemoteNode::local_address() const {
  const auto l = checked(impl_).link();
  return l ? l->local_endpoint().first : std::string();
}

// ---- free functions ----------------------------------------------------------

RemoteNode spawn_remote_node(const std::string& host, const NodeOptions& options) {
  if (!port_no(options.listen_port))
    throw ConfigError("listen port " + std::to_string(options.listen_port) + " for a node on " +
                      host + " is not a port number (0..65535)");
  auto impl = std::make_shared<RemoteNode::Impl>();
  impl->host = host;
  impl->options = options;
  start_node_process(*impl, options);
  register_spawned_node(impl);
  try {
    impl->connect(protocol::Role::spawner, options.connect_timeout);
  } catch (...) {
    impl->exit_node(std::chrono::milliseconds(0));
    throw;
  }
  return RemoteNode(impl);
}

RemoteNode connect_to_node(const std::string& host, std::uint16_t port, std::chrono::seconds timeout) {
  if (port == 0) throw ConfigError("connect_to_node " + host + ": port 0 is not a node's port");
  auto impl = std::make_shared<RemoteNode::Impl>();
  impl->host = host;
  impl->address = host;
  impl->port = port;
  impl->connect(protocol::Role::client, timeout);
  return RemoteNode(impl);
}

RemoteNode create_place_node(const std::string& host, const NodeOptions& options) {
  return spawn_remote_node(host, options);
}

RemoteNode spawn_node_with_place_at(const std::string& host, const std::string& module,
                                    const std::string& func, const NodeOptions& node_options,
                                    const PlaceOptions& place_options) {
  RemoteNode node = spawn_remote_node(host, node_options);
  node.launch_place({module, func, place_options.thunk}, place_options);
  return node;
}

std::pair<RemoteNode, RemoteConnection> spawn_node_supervise_place_at(
    const std::string& host, const std::string& module, const std::string& func,
    const NodeOptions& node_options, const PlaceOptions& place_options) {
  RemoteNode node = spawn_remote_node(host, node_options);
  RemoteConnection conn = node.launch_place({module, func, place_options.thunk}, place_options);
  return {node, conn};
}

RemoteConnection supervise_place_at(RemoteNode& node, const std::string& module,
                                    const std::string& func, const PlaceOptions& options) {
  return node.launch_place({module, func, options.thunk}, options);
}

RemoteConnection supervise_thread_at(RemoteNode& node, const std::string& module,
                                     const std::string& func, const PlaceOptions& options) {
  checked(node.impl());
  return launch(node.impl(), {module, func, options.thunk}, options, true);
}

RemoteConnection connect_to_named_place(RemoteNode& node, const std::string& name) {
  return node.remote_connect(name);
}

void node_send_exit(RemoteNode& node) { node.send_exit(); }

RemoteConnection node_get_first_place(const RemoteNode& node) { return node.get_first_place(); }

std::future<RemoteNode> spawn_node_at(const std::string& host, const NodeOptions& options) {
  return std::async(std::launch::async, [host, options] { return spawn_remote_node(host, options); });
}

std::vector<RemoteNode> spawn_nodes_join(const std::vector<NodeSpec>& specs) {
  std::vector<std::future<RemoteNode>> futures;
  futures.reserve(specs.size());
  for (const auto& s : specs) futures.push_back(spawn_node_at(s.host, s.options));
  std::vector<RemoteNode> nodes;
  std::exception_ptr first_error;
  for (auto& f : futures) {
    try {
      nodes.push_back(f.get());
    } catch (...) {
      if (!first_error) first_error = std::current_exception();
    }
  }
  if (first_error) {
    for (auto& n : nodes) n.send_exit();
    std::rethrow_exception(first_error);
  }
  return nodes;
}

}  // namespace rmpi::places

#include <rmpi/process_host.hpp>

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <future>
#include <mutex>

#include <rmpi/auth.hpp>
#include <rmpi/error.hpp>

#include "framed_connection.hpp"
#include "heartbeat.hpp"
#include "io_thread.hpp"
#include "node_launch.hpp"
#include "process.hpp"

namespace rmpi::places {

namespace proto = protocol;
using detail::Frame;

struct ProcessHost::Impl {
  std::string host;
  std::string address;
  std::string local_address;
  std::uint16_t port = 0;
  ProcessHostEvents events;
  ProcessHostOptions options;
  detail::LaunchedNode node;
  std::shared_ptr<detail::FramedConnection> conn;
  std::atomic<std::shared_ptr<detail::LinkHeartbeat>> heartbeat;  // set once connected
  std::atomic<bool> lost{false};
  std::promise<void> child_gone;
  std::shared_future<void> child_gone_future = child_gone.get_future().share();
  std::string host_facts;
  std::promise<void> welcomed;  // set by the node's Welcome (host_facts written before)
  std::atomic<bool> welcome_seen{false};
  std::string lost_before_welcome;  // why the link went before the Welcome came

  void report_lost(const std::string& reason) {
    if (lost.exchange(true)) return;
    if (!welcome_seen.exchange(true)) {  // the constructor stops waiting for the Welcome
      lost_before_welcome = reason;
      welcomed.set_value();
    }
    if (events.on_lost) events.on_lost(reason);
  }

  void on_frame(Frame&& f) {
    using wire::FrameKind;
    if (auto hb = heartbeat.load()) hb->heard();
    if (f.header.kind == FrameKind::io) {
      const auto stream = static_cast<proto::IoStream>(f.header.flags);
      if (events.on_output && stream != proto::IoStream::stdin_)
        events.on_output(f.header.channel,
                         stream == proto::IoStream::stdout_ ? OutputStream::out : OutputStream::err,
                         f.payload);
      return;
    }
    if (f.header.kind != FrameKind::control) return;
    std::visit(
        [&](auto&& m) {
          using M = std::decay_t<decltype(m)>;
          if constexpr (std::is_same_v<M, proto::ProcessStarted>) {
            if (events.on_started) events.on_started(m.id, m.pid);
          } else if constexpr (std::is_same_v<M, proto::ProcessFailed>) {
            if (events.on_failed) events.on_failed(m.id, m.reason);
          } else if constexpr (std::is_same_v<M, proto::StdinWritten>) {
            if (events.on_stdin_written)
              events.on_stdin_written(m.id, static_cast<std::size_t>(m.bytes));
          } else if constexpr (std::is_same_v<M, proto::ProcessRunStateChanged>) {
            if (m.state == proto::ProcessRunState::stopped) {
              if (events.on_stopped) events.on_stopped(m.id, m.signal);
            } else if (events.on_continued) {
              events.on_continued(m.id);
            }
          } else if constexpr (std::is_same_v<M, proto::ProcessExited>) {
            if (events.on_exited) events.on_exited(m.id, m.status, m.signal);
          } else if constexpr (std::is_same_v<M, proto::Welcome>) {
            if (!welcome_seen.exchange(true)) {
              host_facts = m.host_facts;
              welcomed.set_value();
            }
          } else if constexpr (std::is_same_v<M, proto::Log>) {
            const std::string line = "[" + m.origin + "] " + m.severity + ": " + m.text + "\n";
            (void)!::write(2, line.data(), line.size());
          }
        },
        detail::decode_control(f.payload));
  }
};

ProcessHost::ProcessHost(std::string host, const ProcessHostOptions& o, ProcessHostEvents events)
    : impl_(std::make_shared<Impl>()) {
  Impl& im = *impl_;
  im.host = std::move(host);
  im.events = std::move(events);
  im.options = o;
  detail::NodeLaunchOptions lo;
  lo.node_path = o.node_path;
  lo.ssh_path = o.ssh_path;
  lo.ssh_args = o.ssh_args;
  lo.prefix = o.prefix;
  lo.listen_port = o.listen_port;
  lo.start_timeout = o.start_timeout;
  lo.node_args = {"--kill-grace", std::to_string(o.kill_grace.count() / 1000.0)};
  if (!o.check_iface.empty()) lo.node_args.insert(lo.node_args.end(), {"--check-iface", o.check_iface});
  if (!o.port_range.empty()) lo.env.emplace_back("RMPI_PORT_RANGE", o.port_range);
  im.node = detail::launch_node(im.host, lo);
  im.port = im.node.port;
  im.address = im.node.address;

  std::weak_ptr<Impl> weak = impl_;
  detail::watch_child(im.node.child.pid, [weak](detail::ExitStatus st) {
    if (auto self = weak.lock()) {
      self->report_lost((self->node.remote ? "ssh session " : "node ") + st.description());
      self->child_gone.set_value();
    }
  });

  detail::ConnectionHandlers h;
  h.on_frame = [weak](Frame&& f) {
    if (auto self = weak.lock()) self->on_frame(std::move(f));
  };
  h.on_close = [weak](const detail::CloseReason& reason) {
    if (auto self = weak.lock()) self->report_lost(reason.text);
  };
  try {
    im.conn = detail::connect_and_authenticate(detail::io_context().get_executor(), im.address,
                                               im.port, auth::job_secret(), std::move(h));
  } catch (const std::exception& e) {
    ::kill(im.node.child.pid, SIGKILL);
    im.child_gone_future.wait();
    throw ConnectError("cannot reach the node on " + im.host + " at " + im.address + ":" +
                       std::to_string(im.port) + ": " + e.what());
  }
  im.heartbeat = detail::LinkHeartbeat::start(
      detail::io_context().get_executor(), im.conn,
      "node on " + im.host + " at " + im.address + ":" + std::to_string(im.port),
      detail::heartbeat_bound(), true);
  im.local_address = im.conn->local_endpoint().first;
  auto welcomed = im.welcomed.get_future();
  im.conn->send_control(proto::Hello{proto::Role::spawner});
  // The node is up once it has welcomed us; its Welcome carries the host's facts.
  if (welcomed.wait_for(o.start_timeout) != std::future_status::ready) {
    ::kill(im.node.child.pid, SIGKILL);
    im.child_gone_future.wait();
    throw ConnectError("the node on " + im.host + " at " + im.address + ":" +
                       std::to_string(im.port) + " did not answer Hello within " +
                       std::to_string(o.start_timeout.count() / 1000) + " s");
  }
  if (!im.lost_before_welcome.empty()) {
    ::kill(im.node.child.pid, SIGKILL);
    im.child_gone_future.wait();
    throw ConnectError("lost the node on " + im.host + " before it answered: " +
                       im.lost_before_welcome);
  }
}

ProcessHost::~ProcessHost() {
  if (!impl_) return;
  Impl& im = *impl_;
  im.lost = true;  // no events after this point: the owner is going away
  // Dropping the parent link (and ssh's stdin) makes the node end its
  // processes and exit; we wait for that, then make sure.
  if (im.conn) {
    im.conn->send_control(proto::Exit{0});
    im.conn->close_after_flush("launcher done");
  }
  if (im.node.child.stdin_fd >= 0) ::close(im.node.child.stdin_fd);
  const auto wait = im.options.kill_grace + std::chrono::seconds(3);
  if (im.child_gone_future.wait_for(wait) != std::future_status::ready) {
    ::kill(im.node.child.pid, SIGKILL);
    im.child_gone_future.wait_for(std::chrono::seconds(5));
  }
}

ProcessHost::ProcessHost(ProcessHost&&) noexcept = default;
ProcessHost& ProcessHost::operator=(ProcessHost&&) noexcept = default;

const std::string& ProcessHost::host() const { return impl_->host; }
const std::string& ProcessHost::address() const { return impl_->address; }
const std::string& ProcessHost::local_address() const { return impl_->local_address; }
std::uint16_t ProcessHost::port() const { return impl_->port; }
const std::string& ProcessHost::host_facts() const { return impl_->host_facts; }

void ProcessHost::launch(const ProcessLaunch& p) {
  impl_->conn->send_control(proto::SpawnProcess{p.id, p.argv, p.env, p.cwd, p.forward_stdin, p.cpus});
}

void ProcessHost::write_stdin(std::uint32_t id, std::span<const std::byte> bytes) {
  wire::FrameHeader h;
  h.kind = wire::FrameKind::io;
  h.channel = id;
  h.flags = static_cast<std::uint16_t>(proto::IoStream::stdin_);
  impl_->conn->send(h, std::vector<std::byte>(bytes.begin(), bytes.end()));
}

void ProcessHost::kill(std::uint32_t id) { impl_->conn->send_control(proto::KillProcess{id}); }

void ProcessHost::terminate(std::chrono::milliseconds grace) {
  impl_->conn->send_control(proto::Terminate{static_cast<std::int32_t>(grace.count())});
}

}  // namespace rmpi::places

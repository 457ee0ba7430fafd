#include "router_processes.hpp"

#include <signal.h>

#include <boost/asio/bind_executor.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/write.hpp>

#include "router_impl.hpp"

namespace rmpi::places::detail {

namespace asio = boost::asio;
namespace proto = protocol;

namespace {
constexpr std::size_t kReadChunk = 64 * 1024;
// A reaped process's output pipes still open (held by something that escaped
// the kill of its container) are closed after this, and its exit reported.
constexpr auto kProcessOutputLinger = std::chrono::milliseconds(500);
// Highest CPU index a process may be bound to, plus one (Linux's own limit is 8192).
constexpr std::uint32_t kMaxCpuIndex = 1u << 16;
}  // namespace

void RouterProcesses::spawn(RouterPeer& peer, const proto::SpawnProcess& m) {
  const Key key{peer.id, m.id};
  if (processes_.count(key)) {
    peer.conn->send_control(proto::ProcessFailed{
        m.id, "process id " + std::to_string(m.id) + " is already in use on " + router_.label()});
    return;
  }
  for (const std::uint32_t cpu : m.cpus) {
    if (cpu >= kMaxCpuIndex) {
      peer.conn->send_control(proto::ProcessFailed{
          m.id, "CPU " + std::to_string(cpu) + " is out of range on " + router_.label()});
      return;
    }
  }
  ProcessSpec spec;
  spec.argv = m.argv;
  spec.env = m.env;
  spec.env.emplace_back("RMPI_NODE_ADDR", router_.own_address);
  spec.env.emplace_back(auth::kSecretEnv, router_.options.secret);
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
  proc->out.fd = std::make_unique<asio::posix::stream_descriptor>(router_.strand, child.stdout_fd);
  proc->err.fd = std::make_unique<asio::posix::stream_descriptor>(router_.strand, child.stderr_fd);
  if (child.stdin_fd >= 0)
    proc->in = std::make_unique<asio::posix::stream_descriptor>(router_.strand, child.stdin_fd);
  processes_[key] = proc;
  peer.conn->send_control(proto::ProcessStarted{m.id, child.pid});
  read_output(key, proto::IoStream::stdout_);
  read_output(key, proto::IoStream::stderr_);
  std::weak_ptr<Router::Impl> weak = router_.shared_from_this();
  watch_child(
      child.pid,
      [weak, key](ExitStatus st) {
        if (auto s = weak.lock())
          asio::post(s->strand, [s, key, st] { s->processes.on_reaped(key, st); });
      },
      [weak, key](RunState state, int sig) {
        const auto run_state = state == RunState::stopped ? proto::ProcessRunState::stopped
                                                          : proto::ProcessRunState::continued;
        if (auto s = weak.lock())
          asio::post(s->strand, [s, key, run_state, sig] {
            s->peers.send(key.first, proto::ProcessRunStateChanged{key.second, run_state, sig});
          });
      });
}

void RouterProcesses::kill(std::uint64_t owner, std::uint32_t id) {
  auto it = processes_.find({owner, id});
  if (it == processes_.end() || it->second->reaped) return;
  // SIGKILL ends a stopped process too; what it started goes with it.
  Containment::instance().signal(it->second->container, it->second->pid, SIGKILL);
}

void RouterProcesses::read_output(Key key, proto::IoStream which) {
  auto it = processes_.find(key);
  if (it == processes_.end()) return;
  auto proc = it->second;
  Stream& stream = which == proto::IoStream::stdout_ ? proc->out : proc->err;
  auto owner = router_.peers.find(proc->owner);
  stream.paused = false;
  const std::size_t high_water = router_.options.output_high_water;
  if (owner && owner->conn->queued_bytes() > high_water) {
    // Flow control: resume once the owner's socket has drained to half.
    stream.paused = true;
    std::weak_ptr<Router::Impl> weak = router_.shared_from_this();
    owner->conn->when_queue_below(high_water / 2, [weak, key, which] {
      if (auto s = weak.lock())
        asio::post(s->strand, [s, key, which] { s->processes.read_output(key, which); });
    });
    return;
  }
  auto buf = std::make_shared<std::vector<std::byte>>(kReadChunk);
  stream.fd->async_read_some(
      asio::buffer(*buf),
      asio::bind_executor(router_.strand, [self = router_.shared_from_this(), key, which, buf,
                                           proc](const boost::system::error_code& ec,
                                                 std::size_t n) {
        RouterProcesses& processes = self->processes;
        Stream& s = which == proto::IoStream::stdout_ ? proc->out : proc->err;
        wire::FrameHeader h;
        h.kind = wire::FrameKind::io;
        h.channel = proc->id;
        h.flags = static_cast<std::uint16_t>(which);
        auto owner = self->peers.find(proc->owner);
        if (ec || n == 0 || proc->output_cut) {
          s.eof = true;
          boost::system::error_code ignored;
          s.fd->close(ignored);
          if (owner) owner->conn->send(h, {});
          processes.maybe_finish(key);
          return;
        }
        buf->resize(n);
        if (owner) owner->conn->send(h, std::move(*buf));
        if (proc->reaped) processes.arm_output_linger(proc);
        processes.read_output(key, which);
      }));
}

/// After the process is reaped: output pipes idle (and not held back by
/// flow control) for kProcessOutputLinger are given up, so a descendant
/// that escaped and holds them cannot delay the exit report.
void RouterProcesses::arm_output_linger(const std::shared_ptr<Process>& proc) {
  if (!proc->linger) proc->linger = std::make_unique<asio::steady_timer>(router_.strand);
  proc->linger->expires_after(kProcessOutputLinger);
  proc->linger->async_wait(asio::bind_executor(
      router_.strand,
      [self = router_.shared_from_this(), proc](const boost::system::error_code& ec) {
        if (ec || (proc->out.eof && proc->err.eof)) return;
        if (proc->out.paused || proc->err.paused) return self->processes.arm_output_linger(proc);
        proc->output_cut = true;
        boost::system::error_code ignored;
        for (Stream* s : {&proc->out, &proc->err})
          if (!s->eof && s->fd) s->fd->cancel(ignored);
      }));
}

void RouterProcesses::stdin_from_owner(std::uint64_t owner, std::uint32_t id,
                                       std::vector<std::byte> data) {
  auto it = processes_.find({owner, id});
  if (it == processes_.end() || !it->second->in) {
    // Nobody reads it: dropped, and acknowledged so that the sender's window stays open.
    if (!data.empty()) router_.peers.send(owner, proto::StdinWritten{id, data.size()});
    return;
  }
  auto proc = it->second;
  if (data.empty())
    proc->stdin_close_pending = true;
  else
    proc->stdin_queue.push_back(std::move(data));
  write_stdin(proc);
}

void RouterProcesses::write_stdin(const std::shared_ptr<Process>& proc) {
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
  asio::async_write(
      *proc->in, asio::buffer(proc->stdin_queue.front()),
      asio::bind_executor(router_.strand, [self = router_.shared_from_this(), proc](
                                              const boost::system::error_code& ec, std::size_t) {
        proc->stdin_writing = false;
        std::uint64_t done = 0;
        if (ec) {
          // The process closed its stdin: drop what it will never read.
          for (const auto& chunk : proc->stdin_queue) done += chunk.size();
          self->peers.send(proc->owner, proto::StdinWritten{proc->id, done});
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
        self->peers.send(proc->owner, proto::StdinWritten{proc->id, done});
        self->processes.write_stdin(proc);
      }));
}

void RouterProcesses::on_reaped(Key key, ExitStatus st) {
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
  maybe_finish(key);
  router_.supervision.children_changed();
}

void RouterProcesses::maybe_finish(Key key) {
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
  router_.peers.send(proc->owner,
                     proto::ProcessExited{proc->id, proc->status.status, proc->status.signal});
}

std::vector<pid_t> RouterProcesses::owned_by(std::uint64_t owner) const {
  std::vector<pid_t> pids;
  for (auto& [key, proc] : processes_)
    if (key.first == owner && !proc->reaped) pids.push_back(proc->pid);
  return pids;
}

void RouterProcesses::append_live_pids(std::vector<pid_t>& pids) const {
  for (auto& [key, p] : processes_)
    if (!p->reaped) pids.push_back(p->pid);
}

bool RouterProcesses::alive(pid_t pid) const {
  for (auto& [key, p] : processes_)
    if (p->pid == pid) return !p->reaped;
  return false;
}

void RouterProcesses::signal_container(pid_t pid, int sig) {
  for (auto& [key, p] : processes_)
    if (p->pid == pid) Containment::instance().signal(p->container, -1, sig);
}

}  // namespace rmpi::places::detail

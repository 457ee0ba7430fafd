// Starting rmpi-node: directly (fork/exec) for the local host, through ssh
// for any other. The job secret goes in the environment (local) or on ssh's
// stdin (--secret-stdin), never argv. The node prints "RMPI-NODE <port>
// [<address>]" once it listens; after that line its stdout and stderr (and
// so its places' output) are copied to ours unchanged. At exit, every node
// this program started is told to exit and waited for (bounded), so nothing
// outlives the program.
#include <poll.h>
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <future>
#include <thread>

#include <boost/asio/post.hpp>

#include <rmpi/auth.hpp>
#include <rmpi/error.hpp>
#include <rmpi/ssh.hpp>

#include "io_thread.hpp"
#include "remote_impl.hpp"

namespace rmpi::places {

namespace {

std::string trim(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r' || s.back() == ' ')) s.pop_back();
  return s;
}

bool is_local(const std::string& host) {
  if (host == "localhost" || host == "127.0.0.1" || host == "::1") return true;
  const std::string own = detail::host_name();
  return host == own || host == own.substr(0, own.find('.'));
}

// Copy threads of node output; at exit we wait (bounded) for them to reach EOF.
std::mutex copy_mu;
std::condition_variable copy_cv;
int copies_running = 0;

void copy_stream(int from, int to, std::string already) {
  {
    std::lock_guard lock(copy_mu);
    ++copies_running;
  }
  std::thread([from, to, already = std::move(already)] {
    auto put = [to](const char* p, std::size_t n) {
      while (n > 0) {
        const ssize_t w = ::write(to, p, n);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) return;
        p += w;
        n -= static_cast<std::size_t>(w);
      }
    };
    put(already.data(), already.size());
    char buf[4096];
    for (;;) {
      const ssize_t n = ::read(from, buf, sizeof buf);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) break;
      put(buf, static_cast<std::size_t>(n));
    }
    ::close(from);
    {
      std::lock_guard lock(copy_mu);
      --copies_running;
    }
    copy_cv.notify_all();
  }).detach();
}

// Forks from the I/O thread: PR_SET_PDEATHSIG follows the forking thread,
// and that one lives as long as the process.
detail::ChildProcess spawn_from_io_thread(const detail::ProcessSpec& spec) {
  if (detail::on_io_thread()) return detail::spawn_process(spec);
  std::promise<detail::ChildProcess> p;
  auto f = p.get_future();
  boost::asio::post(detail::io_context(), [&] {
    try {
      p.set_value(detail::spawn_process(spec));
    } catch (...) {
      p.set_exception(std::current_exception());
    }
  });
  return f.get();
}

std::mutex nodes_mu;
std::vector<std::weak_ptr<RemoteNode::Impl>>* spawned_nodes = nullptr;

void end_spawned_nodes() {
  std::vector<std::shared_ptr<RemoteNode::Impl>> live;
  {
    std::lock_guard lock(nodes_mu);
    if (!spawned_nodes) return;
    for (auto& w : *spawned_nodes)
      if (auto n = w.lock()) live.push_back(n);
    spawned_nodes->clear();
  }
  std::vector<std::thread> enders;
  for (auto& n : live) enders.emplace_back([n] { n->exit_node(std::chrono::seconds(3)); });
  for (auto& t : enders) t.join();
  std::cout.flush();
  std::unique_lock lock(copy_mu);
  copy_cv.wait_for(lock, std::chrono::seconds(2), [] { return copies_running == 0; });
}

}  // namespace

std::string node_path() {
  if (const char* p = std::getenv("RMPI_NODE_PATH"); p && *p) return p;
  std::error_code ec;
  const auto self = std::filesystem::read_symlink("/proc/self/exe", ec);
  if (!ec) {
    const auto beside = self.parent_path() / "rmpi-node";
    if (std::filesystem::exists(beside, ec)) return beside.string();
  }
  return "rmpi-node";  // searched in PATH when started
}

std::string distributed_launch_path() { return node_path(); }

std::string build_distributed_launch_path(const std::string& prefix) {
  return (std::filesystem::path(prefix) / "bin" / "rmpi-node").string();
}

void register_spawned_node(const std::shared_ptr<RemoteNode::Impl>& node) {
  std::lock_guard lock(nodes_mu);
  if (!spawned_nodes) {
    spawned_nodes = new std::vector<std::weak_ptr<RemoteNode::Impl>>();  // leaked: used at exit
    std::atexit(end_spawned_nodes);
  }
  spawned_nodes->push_back(node);
}

void start_node_process(RemoteNode::Impl& node, const NodeOptions& o) {
  const std::string& host = node.host;
  const bool remote = !is_local(host);
  const std::string secret = auth::job_secret();
  const std::string program = o.launch_path.empty() ? o.node_path : o.launch_path;
  std::vector<std::string> node_argv = {program, "--listen-port", std::to_string(o.listen_port),
                                        "--parent-link"};
  detail::ProcessSpec spec;
  spec.stdin_mode = detail::Stdio::pipe;  // kept open while we live
  spec.stdout_mode = detail::Stdio::pipe;
  spec.stderr_mode = o.use_current_ports ? detail::Stdio::inherit : detail::Stdio::pipe;
  if (remote) {
    node_argv.push_back("--secret-stdin");
    spec.argv = ssh_argv(host, node_argv,
                         SshOptions{.ssh_path = o.ssh_path, .extra_args = o.ssh_args, .prefix = o.prefix});
    spec.unset_env.push_back(auth::kSecretEnv);
  } else {
    spec.argv = node_argv;
    spec.env.emplace_back(auth::kSecretEnv, secret);
  }
  detail::ChildProcess child = spawn_from_io_thread(spec);
  NodeProcess proc;
  proc.pid = child.pid;
  proc.stdin_fd = child.stdin_fd;
  proc.exited = std::make_shared<std::promise<void>>();
  proc.exited_future = proc.exited->get_future().share();
  detail::watch_child(child.pid, [p = proc.exited](detail::ExitStatus) { p->set_value(); });
  if (remote) {
    const std::string line = secret + "\n";
    (void)!::write(child.stdin_fd, line.data(), line.size());
  }

  // Read stdout up to the ready line, collecting stderr for an error message.
  std::string out, err;
  const auto deadline = std::chrono::steady_clock::now() + o.connect_timeout;
  bool out_open = true, err_open = child.stderr_fd >= 0;
  auto fail = [&](const std::string& why) {
    ::kill(child.pid, SIGKILL);
    proc.exited_future.wait_for(std::chrono::seconds(2));
    for (int fd : {child.stdin_fd, child.stdout_fd, child.stderr_fd})
      if (fd >= 0) ::close(fd);
    std::string msg = "cannot start rmpi-node (" + program + ") on " + host + ": " + why;
    if (const std::string e = trim(err); !e.empty()) msg += ": " + e;
    return SpawnError(msg);
  };
  for (;;) {
    if (const auto nl = out.find('\n'); nl != std::string::npos) {
      const std::string line = trim(out.substr(0, nl));
      out.erase(0, nl + 1);
      char addr[128] = {};
      unsigned port = 0;
      const int got = std::sscanf(line.c_str(), "RMPI-NODE %u %127s", &port, addr);
      if (got < 1 || port == 0 || port > 65535) throw fail("unexpected first line '" + line + "'");
      node.port = static_cast<std::uint16_t>(port);
      node.address = got == 2 ? addr : (remote ? host : "127.0.0.1");
      break;
    }
    if (!out_open)
      throw fail(remote ? "ssh or the node exited before the node was up"
                        : "the node exited before it was up");
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0)
      throw fail("no RMPI-NODE line within " + std::to_string(o.connect_timeout.count()) + " s");
    pollfd fds[2] = {{child.stdout_fd, POLLIN, 0}, {err_open ? child.stderr_fd : -1, POLLIN, 0}};
    if (::poll(fds, 2, static_cast<int>(left.count())) < 0 && errno != EINTR)
      throw fail(std::string("poll: ") + std::strerror(errno));
    char buf[4096];
    if (fds[0].revents) {
      const ssize_t n = ::read(child.stdout_fd, buf, sizeof buf);
      if (n > 0) out.append(buf, static_cast<std::size_t>(n));
      else if (n == 0) out_open = false;
    }
    if (err_open && fds[1].revents) {
      const ssize_t n = ::read(child.stderr_fd, buf, sizeof buf);
      if (n > 0) err.append(buf, static_cast<std::size_t>(n));
      else if (n == 0) err_open = false;
    }
    if (!out_open && err_open) {
      for (ssize_t n; (n = ::read(child.stderr_fd, buf, sizeof buf)) > 0;)
        err.append(buf, static_cast<std::size_t>(n));
      err_open = false;
    }
  }
  copy_stream(child.stdout_fd, 1, out);
  if (child.stderr_fd >= 0) copy_stream(child.stderr_fd, 2, err);
  node.process = proc;
}

}  // namespace rmpi::places

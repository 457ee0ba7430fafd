#include "node_launch.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <condition_variable>
#include <mutex>
#include <string_view>
#include <thread>

#include <rmpi/auth.hpp>
#include <rmpi/listener_guard.hpp>
#include <rmpi/error.hpp>
#include <rmpi/quoted_input.hpp>
#include <rmpi/node.hpp>
#include <rmpi/ssh.hpp>

namespace rmpi::places::detail {
namespace {

std::string trim(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r' || s.back() == ' ')) s.pop_back();
  return s;
}

// Copy threads of node output, counted so that exit can wait for them.
std::mutex copy_mu;
std::condition_variable copy_cv;
int copies_running = 0;

void write_all(int fd, std::string_view s) {
  while (!s.empty()) {
    const ssize_t n = ::write(fd, s.data(), s.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;
    s.remove_prefix(static_cast<std::size_t>(n));
  }
}

/// Writes the whole lines of `pending` to `to`, each prefixed; keeps the rest.
void write_prefixed_lines(int to, const std::string& prefix, std::string& pending) {
  for (std::size_t nl; (nl = pending.find('\n')) != std::string::npos;) {
    write_all(to, prefix + pending.substr(0, nl + 1));
    pending.erase(0, nl + 1);
  }
}

/// Copies the rest of `from` (after `pending`, already read) to `to`: raw
/// when `prefix` is empty, else line by line with each line prefixed.
void copy_output(int from, int to, std::string prefix, std::string pending) {
  {
    std::lock_guard lock(copy_mu);
    ++copies_running;
  }
  std::thread([from, to, prefix = std::move(prefix), pending = std::move(pending)]() mutable {
    auto emit = [&] {
      if (prefix.empty()) {
        write_all(to, pending);
        pending.clear();
      } else {
        write_prefixed_lines(to, prefix, pending);
      }
    };
    emit();
    char buf[4096];
    for (;;) {
      const ssize_t n = ::read(from, buf, sizeof buf);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) break;
      pending.append(buf, static_cast<std::size_t>(n));
      emit();
    }
    if (!pending.empty()) {
      pending += '\n';
      emit();
    }
    ::close(from);
    {
      std::lock_guard lock(copy_mu);
      --copies_running;
    }
    copy_cv.notify_all();
  }).detach();
}

}  // namespace

LaunchedNode launch_node(const std::string& host, const NodeLaunchOptions& o) {
  LaunchedNode node;
  node.remote = !is_local_host(host);
  const std::string secret = auth::job_secret();

  std::vector<std::string> node_argv = {
      // Remote hosts are assumed to share the local layout unless told (--node-path, --prefix).
      o.node_path.empty() ? (o.prefix.empty() || !node.remote ? node_path() : "rmpi-node")
                          : o.node_path,
      "--listen-port", std::to_string(o.listen_port), "--parent-link"};
  node_argv.insert(node_argv.end(), o.node_args.begin(), o.node_args.end());
  // The listener limits reach remote nodes too, where the environment does not.
  const listener::ListenerLimits limits = listener::limits_from_environment();
  if (std::getenv(listener::kMaxUnauthenticatedEnv))
    node_argv.insert(node_argv.end(), {"--max-unauthenticated", std::to_string(limits.max_unauthenticated)});
  if (std::getenv(listener::kHandshakeTimeoutEnv))
    node_argv.insert(node_argv.end(),
                     {"--handshake-timeout", std::to_string(limits.handshake_timeout.count())});

  ProcessSpec spec;
  spec.stdout_mode = Stdio::pipe;
  spec.stderr_mode = o.output == NodeOutput::raw_stdout_only ? Stdio::inherit : Stdio::pipe;
  if (node.remote) {
    node_argv.push_back("--secret-stdin");
    spec.argv = ssh_argv(host, node_argv, {.ssh_path = o.ssh_path, .extra_args = o.ssh_args,
                                           .prefix = o.prefix});
    spec.stdin_mode = Stdio::pipe;
    spec.unset_env.push_back(auth::kSecretEnv);
  } else {
    spec.argv = node_argv;
    spec.env = o.env;
    spec.env.emplace_back(auth::kSecretEnv, secret);
    spec.stdin_mode = Stdio::pipe;  // kept open: its EOF is one more sign the parent is gone
  }
  node.child = spawn_process(spec);
  if (node.remote) {
    const std::string line = secret + "\n";
    (void)!::write(node.child.stdin_fd, line.data(), line.size());
  }

  // Read stdout up to the ready line, collecting stderr for the error message.
  std::string out, err;
  const auto deadline = std::chrono::steady_clock::now() + o.start_timeout;
  bool out_open = true, err_open = node.child.stderr_fd >= 0;
  auto fail = [&](const std::string& why) -> SpawnError {
    ::kill(node.child.pid, SIGKILL);
    ::waitpid(node.child.pid, nullptr, 0);
    for (int fd : {node.child.stdin_fd, node.child.stdout_fd, node.child.stderr_fd})
      if (fd >= 0) ::close(fd);
    std::string msg = "cannot start a node on " + host + ": " + why;
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
      if (got < 1 || port == 0 || port > 65535) throw fail("unexpected first line " + quoted_input(line));
      node.port = static_cast<std::uint16_t>(port);
      node.address = got == 2 ? addr : (node.remote ? host : "127.0.0.1");
      break;
    }
    if (!out_open) throw fail(node.remote ? "ssh or the node exited before the node was up"
                                          : "the node exited before it was up");
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0)
      throw fail("no answer within " + std::to_string(o.start_timeout.count() / 1000) + " s");
    pollfd fds[2] = {{node.child.stdout_fd, POLLIN, 0}, {err_open ? node.child.stderr_fd : -1, POLLIN, 0}};
    if (::poll(fds, 2, static_cast<int>(left.count())) < 0 && errno != EINTR)
      throw fail(std::string("poll: ") + std::strerror(errno));
    char buf[4096];
    if (fds[0].revents) {
      const ssize_t n = ::read(node.child.stdout_fd, buf, sizeof buf);
      if (n > 0) out.append(buf, static_cast<std::size_t>(n));
      else if (n == 0) out_open = false;
    }
    if (err_open && fds[1].revents) {
      const ssize_t n = ::read(node.child.stderr_fd, buf, sizeof buf);
      if (n > 0) err.append(buf, static_cast<std::size_t>(n));
      else if (n == 0) err_open = false;
    }
    if (!out_open && err_open) {
      // Drain what stderr still holds so the error shows ssh's own words.
      for (ssize_t n; (n = ::read(node.child.stderr_fd, buf, sizeof buf)) > 0;)
        err.append(buf, static_cast<std::size_t>(n));
      err_open = false;
    }
  }
  if (o.output == NodeOutput::prefixed) {
    const std::string prefix = "rmpi-node@" + host + ": ";
    copy_output(node.child.stdout_fd, 2, prefix, out);
    copy_output(node.child.stderr_fd, 2, prefix, err);
  } else {
    copy_output(node.child.stdout_fd, 1, "", out);
    if (node.child.stderr_fd >= 0) copy_output(node.child.stderr_fd, 2, "", err);
  }
  node.child.stdout_fd = node.child.stderr_fd = -1;
  return node;
}

void drain_node_output(std::chrono::milliseconds timeout) {
  std::unique_lock lock(copy_mu);
  copy_cv.wait_for(lock, timeout, [] { return copies_running == 0; });
}

}  // namespace rmpi::places::detail

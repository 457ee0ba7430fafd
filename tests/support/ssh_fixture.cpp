#include "ssh_fixture.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <rmpi/error.hpp>

#include <array>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <utility>

extern char** environ;

namespace rmpi::testing {
namespace {

std::string errno_text(int e) { return std::strerror(e); }

/// A file descriptor closed on scope exit.
class Fd {
 public:
  Fd() = default;
  explicit Fd(int fd) : fd_(fd) {}
  Fd(Fd&& o) noexcept : fd_(o.release()) {}
  Fd& operator=(Fd&& o) noexcept {
    reset(o.release());
    return *this;
  }
  ~Fd() { reset(); }
  int get() const { return fd_; }
  int release() { return std::exchange(fd_, -1); }
  void reset(int fd = -1) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = fd;
  }

 private:
  int fd_ = -1;
};

/// A pipe whose both ends are close-on-exec in this process.
std::pair<Fd, Fd> make_pipe(const char* what) {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) {
    throw SpawnError(std::string(__FILE__) + ":" + std::to_string(__LINE__) + ": pipe for " + what +
                     ": " + errno_text(errno));
  }
  return {Fd(fds[0]), Fd(fds[1])};
}

/// A connected socket pair used as a child's stdin: writing to it with
/// MSG_NOSIGNAL cannot raise SIGPIPE in the test process when the child exits
/// without reading.
std::pair<Fd, Fd> make_stdin_pair() {
  int fds[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) != 0) {
    throw SpawnError(std::string(__FILE__) + ":" + std::to_string(__LINE__) +
                     ": socketpair for stdin: " + errno_text(errno));
  }
  ::shutdown(fds[0], SHUT_WR);
  ::shutdown(fds[1], SHUT_RD);
  return {Fd(fds[0]), Fd(fds[1])};
}

/// posix_spawnp with the given fds as the child's 0, 1, 2; throws SpawnError.
pid_t spawn(const std::vector<std::string>& argv, int in, int out, int err, bool new_session) {
  if (argv.empty()) throw SpawnError(std::string(__FILE__) + ": spawn: empty argv");
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, in, 0);
  posix_spawn_file_actions_adddup2(&actions, out, 1);
  posix_spawn_file_actions_adddup2(&actions, err, 2);
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  sigset_t all;
  sigemptyset(&all);
  posix_spawnattr_setsigmask(&attr, &all);
  sigset_t defaults;
  sigemptyset(&defaults);
  sigaddset(&defaults, SIGPIPE);
  sigaddset(&defaults, SIGINT);
  sigaddset(&defaults, SIGTERM);
  sigaddset(&defaults, SIGALRM);
  posix_spawnattr_setsigdefault(&attr, &defaults);
  short flags = POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF;
  if (new_session) flags |= POSIX_SPAWN_SETSID;
  posix_spawnattr_setflags(&attr, flags);

  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  pid_t pid = -1;
  const int rc = ::posix_spawnp(&pid, args[0], &actions, &attr, args.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attr);
  if (rc != 0) {
    throw SpawnError(std::string(__FILE__) + ":" + std::to_string(__LINE__) + ": cannot start " +
                     argv[0] + ": " + errno_text(rc));
  }
  return pid;
}

/// waitpid that retries on EINTR; returns the raw status, or -1.
int wait_for(pid_t pid) {
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR) return -1;
  }
  return status;
}

std::string join(const std::vector<std::string>& words) {
  std::string s;
  for (const auto& w : words) {
    if (!s.empty()) s += ' ';
    s += w;
  }
  return s;
}

std::string read_file(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

/// The last `n` lines of a file, for error messages.
std::string tail_of(const std::string& path, std::size_t n) {
  std::string text = read_file(path);
  std::size_t pos = text.size();
  for (std::size_t lines = 0; pos > 0 && lines <= n;) {
    --pos;
    if (text[pos] == '\n') ++lines;
  }
  return text.substr(pos == 0 ? 0 : pos + 1);
}

}  // namespace

ProcessResult run_process(const std::vector<std::string>& argv, const std::string& input,
                          std::chrono::milliseconds timeout) {
  auto [in_r, in_w] = make_stdin_pair();
  auto [out_r, out_w] = make_pipe("stdout");
  auto [err_r, err_w] = make_pipe("stderr");
  const pid_t pid = spawn(argv, in_r.get(), out_w.get(), err_w.get(), false);
  in_r.reset();
  out_w.reset();
  err_w.reset();
  if (input.empty()) in_w.reset();

  ProcessResult result;
  std::size_t written = 0;
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  std::array<char, 4096> buf{};
  while (out_r.get() >= 0 || err_r.get() >= 0) {
    std::array<pollfd, 3> fds{};
    nfds_t n = 0;
    for (int fd : {out_r.get(), err_r.get()}) {
      if (fd >= 0) fds[n++] = {fd, POLLIN, 0};
    }
    if (in_w.get() >= 0) fds[n++] = {in_w.get(), POLLOUT, 0};
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      ::kill(pid, SIGKILL);
      result.timed_out = true;
      break;
    }
    const int ready = ::poll(fds.data(), n, static_cast<int>(left.count()));
    if (ready < 0 && errno != EINTR) break;
    for (nfds_t i = 0; i < n && ready > 0; ++i) {
      if (fds[i].revents == 0) continue;
      if (fds[i].fd == in_w.get()) {
        const ssize_t k = ::send(in_w.get(), input.data() + written, input.size() - written,
                                 MSG_NOSIGNAL | MSG_DONTWAIT);
        if (k > 0) written += static_cast<std::size_t>(k);
        if (k < 0 && errno != EAGAIN && errno != EINTR) in_w.reset();
        if (written == input.size()) in_w.reset();
        continue;
      }
      const ssize_t k = ::read(fds[i].fd, buf.data(), buf.size());
      if (k > 0) {
        (fds[i].fd == out_r.get() ? result.out : result.err)
            .append(buf.data(), static_cast<std::size_t>(k));
      } else if (k == 0 || (errno != EAGAIN && errno != EINTR)) {
        (fds[i].fd == out_r.get() ? out_r : err_r).reset();
      }
    }
  }
  in_w.reset();
  const int status = wait_for(pid);
  if (status >= 0 && WIFEXITED(status)) result.exit_code = WEXITSTATUS(status);
  if (status >= 0 && WIFSIGNALED(status)) result.term_signal = WTERMSIG(status);
  return result;
}

SshFixture::SshFixture() : script_(RMPI_SOURCE_DIR "/tests/support/ssh-fixture") {
  std::string tmpl = "/tmp/rmpi-ssh-XXXXXX";
  if (::mkdtemp(tmpl.data()) == nullptr) {
    throw SpawnError(std::string(__FILE__) + ":" + std::to_string(__LINE__) +
                     ": SshFixture: mkdtemp /tmp/rmpi-ssh-XXXXXX: " + errno_text(errno));
  }
  dir_ = tmpl;
  const std::string err_path = dir_ + "/fixture.err";
  try {
    Fd err(::open(err_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600));
    if (err.get() < 0) {
      throw SpawnError("SshFixture: cannot create " + err_path + ": " + errno_text(errno));
    }
    auto [in_r, in_w] = make_pipe("ssh-fixture stdin");
    auto [out_r, out_w] = make_pipe("ssh-fixture stdout");
    // A session of its own: a signal to the test's process group leaves the
    // server alive to see EOF on its stdin and stop sshd.
    server_pid_ = spawn({"bash", script_, "serve", dir_}, in_r.get(), out_w.get(), err.get(), true);
    server_stdin_ = in_w.release();
    out_w.reset();

    // The server prints KEY=VALUE lines, then READY; it bounds its own start
    // to ~10 s, this deadline only guards against a hung script.
    std::string text;
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
    std::array<char, 1024> buf{};
    while (text.find("\nREADY\n") == std::string::npos && text.rfind("READY\n", 0) != 0) {
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          deadline - std::chrono::steady_clock::now());
      pollfd pfd{out_r.get(), POLLIN, 0};
      const int ready = left.count() > 0 ? ::poll(&pfd, 1, static_cast<int>(left.count())) : 0;
      if (ready < 0 && errno == EINTR) continue;
      if (ready <= 0) throw SpawnError("SshFixture: " + script_ + " serve " + dir_ + " hung");
      const ssize_t k = ::read(out_r.get(), buf.data(), buf.size());
      if (k < 0 && errno == EINTR) continue;
      if (k <= 0) {
        throw SpawnError("SshFixture: " + script_ + " serve " + dir_ +
                         " failed: " + tail_of(err_path, 30));
      }
      text.append(buf.data(), static_cast<std::size_t>(k));
    }

    std::map<std::string, std::string> env;
    std::istringstream lines(text);
    for (std::string line; std::getline(lines, line);) {
      const auto eq = line.find('=');
      if (eq != std::string::npos) env[line.substr(0, eq)] = line.substr(eq + 1);
    }
    ssh_config_ = env["SSH_CONFIG"];
    user_ = env["SSH_USER"];
    identity_file_ = env["SSH_KEY"];
    port_ = std::atoi(env["SSH_PORT"].c_str());
    sshd_pid_ = static_cast<pid_t>(std::atol(env["SSHD_PID"].c_str()));
    if (ssh_config_.empty() || port_ <= 0 || sshd_pid_ <= 0) {
      throw SpawnError("SshFixture: " + script_ +
                       " printed no SSH_CONFIG/SSH_PORT/SSHD_PID: " + text);
    }
  } catch (...) {
    stop();
    throw;
  }
}

SshFixture::~SshFixture() { stop(); }

void SshFixture::stop() noexcept {
  if (server_stdin_ >= 0) {
    ::close(server_stdin_);
    server_stdin_ = -1;
  }
  if (server_pid_ > 0) {
    wait_for(server_pid_);
    server_pid_ = -1;
  }
  // The server stopped sshd on EOF; a second stop is a no-op unless the
  // server itself died early.
  if (!dir_.empty()) {
    try {
      run_process({"bash", script_, "stop", dir_});
    } catch (...) {
    }
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
    dir_.clear();
  }
}

std::vector<std::string> SshFixture::hosts() const { return {"host1", "host2", "host3", "host4"}; }

std::vector<std::string> SshFixture::ssh_args() const { return {"-F", ssh_config_}; }

std::string SshFixture::run(const std::string& host, const std::string& command) const {
  const std::vector<std::string> argv{"ssh", "-F", ssh_config_, "--", host, command};
  const ProcessResult r = run_process(argv);
  if (!r.ok()) {
    throw ConnectError(
        "SshFixture::run: `" + join(argv) + "` on " + host + " port " + std::to_string(port_) +
        (r.timed_out ? " timed out" : " exited " + std::to_string(r.exit_code)) + ": " + r.err);
  }
  return r.out;
}

}  // namespace rmpi::testing

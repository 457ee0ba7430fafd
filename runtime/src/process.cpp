#include "process.hpp"

#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <map>
#include <memory>
#include <condition_variable>
#include <deque>
#include <future>
#include <mutex>
#include <thread>

#include <boost/asio/post.hpp>
#include <boost/asio/signal_set.hpp>

#include <rmpi/error.hpp>

#include "io_thread.hpp"

extern char** environ;

namespace rmpi::places::detail {

namespace {

// What the child reports through the error pipe before _exit(127).
struct ChildError {
  int stage;  // 1 = chdir, 2 = exec, 3 = setup (dup2), 4 = CPU affinity
  int err;
};

void write_all(int fd, const void* p, std::size_t n) {
  const char* c = static_cast<const char*>(p);
  while (n > 0) {
    ssize_t w = ::write(fd, c, n);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return;
    c += w;
    n -= static_cast<std::size_t>(w);
  }
}

void close_fd(int& fd) {
  if (fd >= 0) ::close(fd);
  fd = -1;
}

std::string resolve_executable(const std::string& name, const std::string& path_env) {
  if (name.find('/') != std::string::npos) return name;
  std::size_t start = 0;
  while (start <= path_env.size()) {
    std::size_t end = path_env.find(':', start);
    if (end == std::string::npos) end = path_env.size();
    std::string dir = path_env.substr(start, end - start);
    if (dir.empty()) dir = ".";
    std::string candidate = dir + "/" + name;
    if (::access(candidate.c_str(), X_OK) == 0) {
      struct stat st {};
      if (::stat(candidate.c_str(), &st) == 0 && S_ISREG(st.st_mode)) return candidate;
    }
    start = end + 1;
  }
  return {};
}

// The reaper: one SIGCHLD signal_set on the shared loop, a table of watched pids.
class Reaper {
 public:
  static Reaper& instance() {
    static Reaper* r = new Reaper();  // leaked with the io_context it lives on
    return *r;
  }

  void watch_nothing() { reap(); }
  void reap_unwatched(bool on) { reap_unwatched_ = on; }

  void watch(pid_t pid, std::function<void(ExitStatus)> fn, std::function<void(RunState, int)> on_run_state) {
    {
      std::lock_guard lock(mu_);
      watched_[pid] = Watched{std::move(fn), std::move(on_run_state)};
    }
    // The child may have ended before it was registered: check now as well.
    boost::asio::post(io_context(), [this] { reap(); });
  }

 private:
  Reaper() : signals_(io_context(), SIGCHLD) { wait(); }

  void wait() {
    signals_.async_wait([this](const boost::system::error_code& ec, int) {
      if (ec) return;
      reap();
      wait();
    });
  }

  // A watched child and what to call for it.
  struct Watched {
    std::function<void(ExitStatus)> on_exit;
    std::function<void(RunState, int)> on_run_state;  // empty: stops are not watched
  };

  void reap() {
    std::vector<std::pair<std::function<void(ExitStatus)>, ExitStatus>> done;
    std::vector<std::function<void()>> run_state_changes;
    {
      std::lock_guard lock(mu_);
      if (reap_unwatched_) {
        // Every child that ended, watched or not: peek at it, then reap it.
        for (;;) {
          siginfo_t info{};
          if (::waitid(P_ALL, 0, &info, WEXITED | WNOHANG | WNOWAIT) != 0 || info.si_pid == 0) break;
          const pid_t pid = info.si_pid;
          int st = 0;
          if (::waitpid(pid, &st, WNOHANG) != pid) break;
          if (auto it = watched_.find(pid); it != watched_.end()) {
            done.emplace_back(std::move(it->second.on_exit), exit_status_from_wait(st));
            watched_.erase(it);
          }
        }
      }
      for (auto it = watched_.begin(); it != watched_.end();) {
        int st = 0;
        const int flags = WNOHANG | (it->second.on_run_state ? WUNTRACED | WCONTINUED : 0);
        pid_t r = ::waitpid(it->first, &st, flags);
        if (r == it->first && (WIFSTOPPED(st) || WIFCONTINUED(st))) {
          // Reported, and the child looked at again: it may have changed since.
          const RunState state = WIFSTOPPED(st) ? RunState::stopped : RunState::continued;
          const int sig = WIFSTOPPED(st) ? WSTOPSIG(st) : 0;
          run_state_changes.push_back([fn = it->second.on_run_state, state, sig] { fn(state, sig); });
          continue;
        }
        if (r == it->first) {
          done.emplace_back(std::move(it->second.on_exit), exit_status_from_wait(st));
          it = watched_.erase(it);
        } else if (r < 0 && errno == ECHILD) {
          done.emplace_back(std::move(it->second.on_exit), ExitStatus{255, 0});
          it = watched_.erase(it);
        } else {
          ++it;
        }
      }
    }
    for (auto& change : run_state_changes) change();
    for (auto& [fn, status] : done)
      if (fn) fn(status);
  }

  std::mutex mu_;
  std::map<pid_t, Watched> watched_;
  std::atomic<bool> reap_unwatched_{false};
  boost::asio::signal_set signals_;
};

}  // namespace

std::string host_name() {
  char buf[256] = {};
  if (::gethostname(buf, sizeof buf - 1) != 0) return "localhost";
  return buf;
}

std::string signal_name(int sig) {
  const char* abbrev = ::sigabbrev_np(sig);
  return abbrev ? std::string("SIG") + abbrev : "signal " + std::to_string(sig);
}

ExitStatus exit_status_from_wait(int st) {
  if (WIFSIGNALED(st)) return {128 + WTERMSIG(st), WTERMSIG(st)};
  if (WIFEXITED(st)) return {WEXITSTATUS(st), 0};
  return {255, 0};
}

std::string ExitStatus::description() const {
  if (signal != 0)
    return "killed by signal " + std::to_string(signal) + " (" + signal_name(signal) + ")";
  return "exited with status " + std::to_string(status);
}

void set_reap_unwatched(bool on) {
  Reaper::instance().reap_unwatched(on);
  // Re-parented orphans may already be waiting.
  boost::asio::post(io_context(), [] { Reaper::instance().watch_nothing(); });
}

void watch_child(pid_t pid, std::function<void(ExitStatus)> on_exit,
                 std::function<void(RunState, int)> on_run_state) {
  Reaper::instance().watch(pid, std::move(on_exit), std::move(on_run_state));
}

namespace {
ChildProcess spawn_process_here(const ProcessSpec& spec);

// PR_SET_PDEATHSIG fires when the *thread* that forked the child ends, not
// the process. Children that must die with us are therefore forked by one
// thread that lives as long as the process.
class Forker {
 public:
  static Forker& instance() {
    static Forker* f = new Forker;  // never destroyed: the thread outlives static destructors
    return *f;
  }
  ChildProcess spawn(const ProcessSpec& spec) {
    if (std::this_thread::get_id() == thread_.get_id()) return spawn_process_here(spec);
    std::packaged_task<ChildProcess()> task([&spec] { return spawn_process_here(spec); });
    auto result = task.get_future();
    {
      std::lock_guard lock(mu_);
      tasks_.push_back(std::move(task));
    }
    cv_.notify_one();
    return result.get();
  }

 private:
  Forker() : thread_([this] { run(); }) { thread_.detach(); }
  void run() {
    for (;;) {
      std::packaged_task<ChildProcess()> task;
      {
        std::unique_lock lock(mu_);
        cv_.wait(lock, [&] { return !tasks_.empty(); });
        task = std::move(tasks_.front());
        tasks_.pop_front();
      }
      task();
    }
  }
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::packaged_task<ChildProcess()>> tasks_;
  std::thread thread_;
};
}  // namespace

ChildProcess spawn_process(const ProcessSpec& spec) {
  return spec.die_with_parent ? Forker::instance().spawn(spec) : spawn_process_here(spec);
}

namespace {
ChildProcess spawn_process_here(const ProcessSpec& spec) {
  // Make sure the reaper's SIGCHLD handler exists before any child can end.
  Reaper::instance();
  if (spec.argv.empty()) throw SpawnError("cannot start a process with an empty command line");

  // Everything the child needs is prepared here: after fork only
  // async-signal-safe calls are allowed.
  std::map<std::string, std::string> env_map;
  for (char** e = environ; *e; ++e) {
    std::string kv = *e;
    auto eq = kv.find('=');
    if (eq == std::string::npos) continue;
    env_map[kv.substr(0, eq)] = kv.substr(eq + 1);
  }
  for (const auto& name : spec.unset_env) env_map.erase(name);
  for (const auto& [k, v] : spec.env) env_map[k] = v;
  std::vector<std::string> env_strings;
  for (const auto& [k, v] : env_map) env_strings.push_back(k + "=" + v);
  std::vector<char*> envp;
  for (auto& s : env_strings) envp.push_back(s.data());
  envp.push_back(nullptr);

  const std::string path_env = env_map.count("PATH") ? env_map["PATH"] : "/usr/bin:/bin";
  const std::string exe = resolve_executable(spec.argv[0], path_env);
  if (exe.empty())
    throw SpawnError("cannot execute " + spec.argv[0] + " on " + host_name() +
                     ": not found in PATH");
  std::vector<std::string> args = spec.argv;
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);

  ChildProcess child;
  // (source fd in the parent, target fd in the child); sources closed in the parent after fork.
  std::vector<std::pair<int, int>> moves;
  std::vector<int> parent_close;
  auto cleanup = [&] {
    for (int fd : parent_close) ::close(fd);
    close_fd(child.stdin_fd);
    close_fd(child.stdout_fd);
    close_fd(child.stderr_fd);
  };
  auto make_pipe = [&](int p[2]) {
    if (::pipe2(p, O_CLOEXEC) != 0) {
      const int err = errno;
      cleanup();
      throw SpawnError("cannot start " + spec.argv[0] + " on " + host_name() +
                       ": pipe: " + std::strerror(err));
    }
  };
  auto setup_stdio = [&](Stdio mode, int target, int& ours) {
    if (mode == Stdio::inherit) return;
    if (mode == Stdio::null) {
      int fd = ::open("/dev/null", (target == 0 ? O_RDONLY : O_WRONLY) | O_CLOEXEC);
      if (fd < 0) {
        cleanup();
        throw SpawnError("cannot open /dev/null on " + host_name());
      }
      moves.emplace_back(fd, target);
      parent_close.push_back(fd);
      return;
    }
    int p[2];
    make_pipe(p);
    const int child_end = target == 0 ? p[0] : p[1];
    ours = target == 0 ? p[1] : p[0];
    moves.emplace_back(child_end, target);
    parent_close.push_back(child_end);
  };
  setup_stdio(spec.stdin_mode, 0, child.stdin_fd);
  setup_stdio(spec.stdout_mode, 1, child.stdout_fd);
  setup_stdio(spec.stderr_mode, 2, child.stderr_fd);
  for (const auto& m : spec.fds) moves.push_back(m);
  int highest_target = 2;
  for (const auto& m : moves) highest_target = std::max(highest_target, m.second);

  int err_pipe[2];
  make_pipe(err_pipe);

  const pid_t parent_pid = ::getpid();
  const char* cwd = spec.cwd.empty() ? nullptr : spec.cwd.c_str();
  const bool new_group = spec.new_process_group;
  const bool pdeathsig = spec.die_with_parent;
  const std::string cgroup_procs = spec.cgroup.empty() ? "" : spec.cgroup + "/cgroup.procs";
  std::vector<int> temps(moves.size(), -1);
  cpu_set_t* affinity = nullptr;  // built here: CPU_ALLOC is not async-signal-safe
  std::size_t affinity_size = 0;
  if (!spec.cpus.empty()) {
    const int count = *std::max_element(spec.cpus.begin(), spec.cpus.end()) + 1;
    affinity = CPU_ALLOC(count);
    affinity_size = CPU_ALLOC_SIZE(count);
    CPU_ZERO_S(affinity_size, affinity);
    for (const int cpu : spec.cpus) CPU_SET_S(static_cast<std::size_t>(cpu), affinity_size, affinity);
  }
  struct AffinityFree {
    cpu_set_t* set;
    ~AffinityFree() { if (set) CPU_FREE(set); }
  } affinity_free{affinity};

  sigset_t all, old;
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, &old);
  const pid_t pid = ::fork();
  if (pid == 0) {
    // Child: async-signal-safe calls only.
    auto die = [&](int stage) {
      ChildError e{stage, errno};
      write_all(err_pipe[1], &e, sizeof e);
      _exit(127);
    };
    // Signal dispositions set to handlers do not survive exec; reset ignored ones.
    for (int s = 1; s < NSIG; ++s) ::signal(s, SIG_DFL);
    pthread_sigmask(SIG_SETMASK, &old, nullptr);
    sigset_t none;
    sigemptyset(&none);
    pthread_sigmask(SIG_SETMASK, &none, nullptr);
    if (new_group) ::setpgid(0, 0);
    if (!cgroup_procs.empty()) {
      // "0" moves the writer itself; a failure leaves us where we are.
      const int cg = ::open(cgroup_procs.c_str(), O_WRONLY | O_CLOEXEC);
      if (cg >= 0) {
        (void)!::write(cg, "0", 1);
        ::close(cg);
      }
    }
    if (pdeathsig) {
      ::prctl(PR_SET_PDEATHSIG, SIGKILL);
      // The parent may have died before prctl: then we were re-parented already.
      if (::getppid() != parent_pid) _exit(127);
    }
    // Move every source above the targets first so that no dup2 clobbers a later source.
    for (std::size_t i = 0; i < moves.size(); ++i) {
      temps[i] = ::fcntl(moves[i].first, F_DUPFD_CLOEXEC, highest_target + 1);
      if (temps[i] < 0) die(3);
    }
    if (err_pipe[1] <= highest_target) {
      int moved = ::fcntl(err_pipe[1], F_DUPFD_CLOEXEC, highest_target + 1);
      if (moved < 0) die(3);
      err_pipe[1] = moved;
    }
    // Close-on-exec for everything except stdio, then dup2 the targets (dup2 clears it).
    if (::close_range(3, ~0u, CLOSE_RANGE_CLOEXEC) != 0) {
      for (int fd = 3; fd < 65536; ++fd) ::fcntl(fd, F_SETFD, FD_CLOEXEC);
    }
    for (std::size_t i = 0; i < moves.size(); ++i) {
      if (::dup2(temps[i], moves[i].second) < 0) die(3);
    }
    if (cwd && ::chdir(cwd) != 0) die(1);
    if (affinity && ::sched_setaffinity(0, affinity_size, affinity) != 0) die(4);
    ::execve(exe.c_str(), argv.data(), envp.data());
    die(2);
  }
  const int fork_errno = errno;
  pthread_sigmask(SIG_SETMASK, &old, nullptr);
  ::close(err_pipe[1]);
  for (int fd : parent_close) ::close(fd);
  parent_close.clear();
  if (pid < 0) {
    ::close(err_pipe[0]);
    cleanup();
    throw SpawnError("cannot start " + spec.argv[0] + " on " + host_name() +
                     ": fork: " + std::strerror(fork_errno));
  }
  ChildError report{};
  ssize_t n;
  do {
    n = ::read(err_pipe[0], &report, sizeof report);
  } while (n < 0 && errno == EINTR);
  ::close(err_pipe[0]);
  if (n == static_cast<ssize_t>(sizeof report)) {
    int st = 0;
    while (::waitpid(pid, &st, 0) < 0 && errno == EINTR) {
    }
    cleanup();
    const std::string where = " on " + host_name();
    if (report.stage == 1) {
      if (report.err == ENOENT)
        throw SpawnError("working directory " + spec.cwd + " does not exist" + where);
      throw SpawnError("cannot change to working directory " + spec.cwd + where + ": " +
                       std::strerror(report.err));
    }
    if (report.stage == 2)
      throw SpawnError("cannot execute " + exe + where + ": " + std::strerror(report.err));
    if (report.stage == 4)
      throw SpawnError("cannot bind " + exe + where + " to its " +
                       std::to_string(spec.cpus.size()) + " CPUs: " + std::strerror(report.err));
    throw SpawnError("cannot set up the file descriptors of " + exe + where + ": " +
                     std::strerror(report.err));
  }
  child.pid = pid;
  return child;
}

}  // namespace

}  // namespace rmpi::places::detail

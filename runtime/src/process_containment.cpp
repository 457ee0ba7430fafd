#include "process_containment.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <mutex>
#include <random>
#include <sstream>
#include <string_view>
#include <thread>
#include <vector>

#include "process.hpp"

namespace rmpi::places::detail {
namespace {

constexpr int kKillPasses = 50;  // bounded: a fork bomb must not keep us here

std::mutex containment_mu;

std::string read_small_file(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return {};
  std::string text;
  char buf[4096];
  for (;;) {
    const ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    text.append(buf, static_cast<std::size_t>(n));
  }
  ::close(fd);
  return text;
}

bool write_file(const std::string& path, const char* text) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CLOEXEC);
  if (fd < 0) return false;
  const auto len = static_cast<ssize_t>(std::strlen(text));
  const bool ok = ::write(fd, text, static_cast<std::size_t>(len)) == len;
  ::close(fd);
  return ok;
}

/// Every numeric entry of /proc but ours.
template <class F>
void for_each_pid(F&& f) {
  DIR* d = ::opendir("/proc");
  if (!d) return;
  const pid_t self = ::getpid();
  while (dirent* e = ::readdir(d)) {
    char* end = nullptr;
    const long pid = std::strtol(e->d_name, &end, 10);
    if (pid <= 0 || *end != '\0' || pid == self) continue;
    f(static_cast<pid_t>(pid));
  }
  ::closedir(d);
}

/// Our children (every thread's), from /proc/self/task/*/children: cheap, no /proc scan.
std::vector<pid_t> children_of_self() {
  std::vector<pid_t> out;
  DIR* d = ::opendir("/proc/self/task");
  if (!d) return out;
  while (dirent* e = ::readdir(d)) {
    if (e->d_name[0] == '.') continue;
    std::istringstream pids(read_small_file(std::string("/proc/self/task/") + e->d_name + "/children"));
    for (long pid; pids >> pid;) out.push_back(static_cast<pid_t>(pid));
  }
  ::closedir(d);
  return out;
}

/// Whether a process's environment holds `name=value` exactly.
bool has_entry(pid_t pid, const std::string& entry) {
  const std::string env = read_small_file("/proc/" + std::to_string(pid) + "/environ");
  for (std::size_t pos = 0; pos < env.size();) {
    std::size_t end = env.find('\0', pos);
    if (end == std::string::npos) end = env.size();
    if (std::string_view(env.data() + pos, end - pos) == entry) return true;
    pos = end + 1;
  }
  return false;
}

/// (state, ppid) of a process from /proc/<pid>/stat; state 0 if gone.
std::pair<char, pid_t> state_and_parent(pid_t pid) {
  const std::string stat = read_small_file("/proc/" + std::to_string(pid) + "/stat");
  const auto paren = stat.rfind(')');
  if (paren == std::string::npos) return {0, 0};
  char state = 0;
  int ppid = 0;
  if (std::sscanf(stat.c_str() + paren + 1, " %c %d", &state, &ppid) != 2) return {0, 0};
  return {state, ppid};
}

/// The cgroup v2 directory this process is in, or "" when there is none we can see.
std::string own_cgroup_v2_dir() {
  std::string path;
  std::istringstream lines(read_small_file("/proc/self/cgroup"));
  for (std::string line; std::getline(lines, line);)
    if (line.rfind("0::", 0) == 0) path = line.substr(3);
  if (path.empty()) return {};
  // mountinfo: id parent major:minor root mount-point options ... - fstype source options
  std::istringstream mounts(read_small_file("/proc/self/mountinfo"));
  for (std::string line; std::getline(mounts, line);) {
    const auto dash = line.find(" - ");
    if (dash == std::string::npos || line.compare(dash + 3, 8, "cgroup2 ") != 0) continue;
    std::istringstream f(line.substr(0, dash));
    std::string id, parent, dev, root, mount_point;
    if (!(f >> id >> parent >> dev >> root >> mount_point) || root != "/") continue;
    return path == "/" ? mount_point : mount_point + path;
  }
  return {};
}

/// Kills what a cgroup holds: cgroup.kill where the kernel has it, else each pid.
void signal_cgroup(const std::string& dir, int sig) {
  if (dir.empty()) return;
  if (sig == SIGKILL && write_file(dir + "/cgroup.kill", "1")) return;
  std::istringstream pids(read_small_file(dir + "/cgroup.procs"));
  for (long pid; pids >> pid;)
    if (pid != ::getpid()) ::kill(static_cast<pid_t>(pid), sig);
}

bool cgroup_populated(const std::string& dir) {
  const std::string events = read_small_file(dir + "/cgroup.events");
  return events.find("populated 1") != std::string::npos;
}

/// Removes a cgroup tree (children first), waiting a little for killed processes to leave.
void remove_cgroup_tree(const std::string& dir) {
  if (dir.empty()) return;
  if (DIR* d = ::opendir(dir.c_str())) {
    std::vector<std::string> subdirs;
    while (dirent* e = ::readdir(d))
      if (e->d_type == DT_DIR && e->d_name[0] != '.') subdirs.push_back(dir + "/" + e->d_name);
    ::closedir(d);
    for (const auto& s : subdirs) remove_cgroup_tree(s);
  }
  for (int i = 0; i < kKillPasses && ::rmdir(dir.c_str()) != 0 && errno == EBUSY; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
}

/// SIGKILL to every process carrying the marker, until a scan finds none.
void kill_marked(const std::string& value, bool prefix, pid_t spare) {
  for (int pass = 0; pass < kKillPasses; ++pass) {
    auto pids = processes_marked(kContainerEnv, value, prefix);
    std::erase(pids, spare);
    if (pids.empty()) return;
    for (pid_t pid : pids) ::kill(pid, SIGKILL);
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
}

/// SIGKILL to our live children but `spare`, until none is left (re-parented
/// grandchildren come next). Zombies are left to the reaper.
void kill_children(pid_t spare) {
  const pid_t self = ::getpid();
  for (int pass = 0; pass < kKillPasses; ++pass) {
    bool found = false;
    for_each_pid([&](pid_t pid) {
      if (pid == spare) return;
      const auto [state, ppid] = state_and_parent(pid);
      if (ppid != self || state == 'Z' || state == 'X' || state == 0) return;
      found = true;
      ::kill(pid, SIGKILL);
    });
    if (!found) return;
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
}

/// The watchdog: waits for the node to end however it ends (EOF on the
/// pipe), then kills everything of the node. Runs in a fork of the
/// single-threaded node, with no descriptor of the node but its pipe.
[[noreturn]] void run_watchdog(int pipe_fd, const std::string& tag, const std::string& cgroup) {
  ::setsid();  // out of the node's process group: a kill of that group spares us
  ::prctl(PR_SET_NAME, "rmpi-watchdog");
  for (int s : {SIGINT, SIGTERM, SIGHUP, SIGPIPE, SIGQUIT}) ::signal(s, SIG_IGN);
  // Hold nothing of the node's: its stdout/stderr pipes and ssh session must close with it.
  const int null_fd = ::open("/dev/null", O_RDWR);
  for (int fd = 0; fd < 3; ++fd) ::dup2(null_fd, fd);
  const int keep = ::fcntl(pipe_fd, F_DUPFD_CLOEXEC, 3);
  if (keep != 3) ::close_range(3, static_cast<unsigned>(keep) - 1, 0);
  ::close_range(static_cast<unsigned>(keep) + 1, ~0u, 0);
  char c;
  for (;;) {
    const ssize_t n = ::read(keep, &c, 1);
    if (n < 0 && errno == EINTR) continue;
    break;
  }
  signal_cgroup(cgroup, SIGKILL);
  kill_marked(tag, true, -1);
  remove_cgroup_tree(cgroup);
  ::_exit(0);
}

}  // namespace

std::vector<pid_t> processes_marked(const std::string& name, const std::string& value,
                                    bool prefix) {
  const std::string entry = name + "=" + value;
  std::vector<pid_t> found;
  for_each_pid([&](pid_t pid) {
    const std::string env = read_small_file("/proc/" + std::to_string(pid) + "/environ");
    for (std::size_t pos = 0; pos < env.size();) {
      std::size_t end = env.find('\0', pos);
      if (end == std::string::npos) end = env.size();
      const std::string_view kv(env.data() + pos, end - pos);
      if (kv == entry || (prefix && kv.size() > entry.size() && kv.starts_with(entry) &&
                          kv[entry.size()] == '/')) {
        found.push_back(pid);
        break;
      }
      pos = end + 1;
    }
  });
  return found;
}

Containment& Containment::instance() {
  static Containment* c = new Containment;  // used until _exit
  return *c;
}

void Containment::enable_for_node() {
  std::lock_guard lock(containment_mu);
  if (active_) return;
  std::random_device rd;
  char tag[64];
  std::snprintf(tag, sizeof tag, "%d.%08x", static_cast<int>(::getpid()), rd());
  tag_ = tag;
  // RMPI_NODE_CGROUPS=0 turns cgroups off (the fallback alone: tests, or a
  // cgroup tree managed by someone else).
  const char* allow = std::getenv("RMPI_NODE_CGROUPS");
  const bool cgroups = !allow || std::strcmp(allow, "0") != 0;
  if (const std::string parent = cgroups ? own_cgroup_v2_dir() : ""; !parent.empty()) {
    const std::string dir = parent + "/rmpi-node-" + tag_;
    if (::mkdir(dir.c_str(), 0755) == 0) {
      if (::access((dir + "/cgroup.procs").c_str(), W_OK) == 0) cgroup_ = dir;
      else ::rmdir(dir.c_str());
    }
  }
  // The watchdog is a plain fork (no exec): safe only while we have one thread.
  const bool single_threaded = read_small_file("/proc/self/status").find("\nThreads:\t1\n") != std::string::npos;
  int p[2];
  if (single_threaded && ::pipe2(p, O_CLOEXEC) == 0) {
    const pid_t pid = ::fork();
    if (pid == 0) {
      ::close(p[1]);
      run_watchdog(p[0], tag_, cgroup_);
    }
    ::close(p[0]);
    if (pid > 0) watchdog_ = pid;
    else ::close(p[1]);
    // p[1] stays open (close-on-exec) for as long as we live: its EOF is our end.
  }
  ::setenv(kContainerEnv, tag_.c_str(), 1);  // places and ranks inherit it
  ::prctl(PR_SET_CHILD_SUBREAPER, 1);
  set_reap_unwatched(true);
  active_ = true;
}

Container Containment::create() {
  std::lock_guard lock(containment_mu);
  Container c;
  if (!active_) return c;
  c.id = next_id_++;
  c.marker = {kContainerEnv, tag_ + "/" + std::to_string(c.id)};
  if (!cgroup_.empty()) {
    const std::string dir = cgroup_ + "/c" + std::to_string(c.id);
    if (::mkdir(dir.c_str(), 0755) == 0) c.cgroup = dir;
  }
  return c;
}

void Containment::signal(const Container& c, pid_t pgid, int sig) {
  if (pgid > 0) ::kill(-pgid, sig);
  if (c.id == 0) return;
  if (!c.cgroup.empty()) {
    signal_cgroup(c.cgroup, sig);
    return;
  }
  // Without a cgroup: what the process left behind (setsid, double fork) was
  // re-parented to us, the subreaper, one generation per pass; its marker
  // tells whose it is. No scan of /proc: rank exits stay cheap.
  const std::string entry = c.marker.first + "=" + c.marker.second;
  for (int pass = 0; pass < kKillPasses; ++pass) {
    bool found = false;
    for (pid_t child : children_of_self()) {
      if (child == watchdog_ || !has_entry(child, entry)) continue;
      ::kill(child, sig);
      found = true;
    }
    if (!found || sig != SIGKILL) return;
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
}

void Containment::release(const Container& c) {
  if (!c.cgroup.empty() && !cgroup_populated(c.cgroup)) ::rmdir(c.cgroup.c_str());
}

void Containment::kill_everything() {
  if (!active_) return;
  signal_cgroup(cgroup_, SIGKILL);
  kill_marked(tag_, true, watchdog_);
  kill_children(watchdog_);
  // The node's own cgroup is left to the watchdog: it goes when we are gone.
  if (!cgroup_.empty()) {
    if (DIR* d = ::opendir(cgroup_.c_str())) {
      std::vector<std::string> subdirs;
      while (dirent* e = ::readdir(d))
        if (e->d_type == DT_DIR && e->d_name[0] != '.') subdirs.push_back(cgroup_ + "/" + e->d_name);
      ::closedir(d);
      for (const auto& s : subdirs) remove_cgroup_tree(s);
    }
  }
}

}  // namespace rmpi::places::detail

#include "job_harness.hpp"

#include <fcntl.h>
#include <poll.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <stdexcept>

#include <rmpi/auth.hpp>
#include <rmpi/launch_env.hpp>

extern char** environ;

namespace rmpi::test {
namespace {

std::string slurp(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string temp_file(const char* what) {
  std::string t = std::string("/tmp/rmpi-test-") + what + "-XXXXXX";
  const int fd = ::mkstemp(t.data());
  if (fd < 0) throw std::runtime_error("mkstemp failed");
  ::close(fd);
  return t;
}

}  // namespace

bool JobResult::all_exited_zero() const {
  if (timed_out || !no_child_left) return false;
  for (const auto& r : ranks)
    if (r.exit_code != 0) return false;
  return true;
}

std::string JobResult::summary() const {
  std::string s = timed_out ? "TIMED OUT\n" : "";
  for (std::size_t i = 0; i < ranks.size(); ++i) {
    s += "rank " + std::to_string(i) + ": exit " + std::to_string(ranks[i].exit_code) + " signal " +
         std::to_string(ranks[i].signal) + "\n  stdout: " + ranks[i].out + "\n  stderr: " + ranks[i].err +
         "\n";
  }
  return s;
}

Job::Job(JobSpec spec) : spec_(std::move(spec)), secret_(auth::make_secret()) {
  static std::atomic<int> counter{0};
  job_id_ = "t" + std::to_string(::getpid()) + "-" + std::to_string(counter++);
  server_ = std::make_unique<RendezvousServer>("127.0.0.1", 0, secret_,
                                               static_cast<std::uint32_t>(spec_.ranks));
  pids_.assign(static_cast<std::size_t>(spec_.ranks), -1);
  out_files_.resize(pids_.size());
  err_files_.resize(pids_.size());
}

Job::~Job() {
  if (!waited_) {
    for (pid_t p : pids_)
      if (p > 0) ::kill(p, SIGKILL);
    for (pid_t p : pids_)
      if (p > 0) ::waitpid(p, nullptr, 0);
  }
  for (auto& f : out_files_)
    if (!f.empty()) ::unlink(f.c_str());
  for (auto& f : err_files_)
    if (!f.empty()) ::unlink(f.c_str());
}

void Job::start(int rank) {
  const auto i = static_cast<std::size_t>(rank);
  if (pids_.at(i) > 0) return;
  LaunchEnv env;
  env.rank = rank;
  env.size = spec_.ranks;
  env.node_id = spec_.node_id ? spec_.node_id(rank) : "n0";
  env.secret = secret_;
  env.rendezvous_host = "127.0.0.1";
  env.rendezvous_port = server_->port();
  env.advertise = "127.0.0.1";
  env.job_id = job_id_;
  auto vars = launch_env_vars(env);
  if (auto it = spec_.extra_env.find(rank); it != spec_.extra_env.end())
    for (const auto& [k, v] : it->second) vars[k] = v;

  std::vector<std::string> envs;
  for (char** e = environ; *e; ++e) {
    const std::string kv = *e;
    if (!vars.count(kv.substr(0, kv.find('=')))) envs.push_back(kv);
  }
  for (const auto& [k, v] : vars) envs.push_back(k + "=" + v);
  std::vector<char*> envp;
  for (auto& s : envs) envp.push_back(s.data());
  envp.push_back(nullptr);
  std::vector<std::string> args{spec_.program};
  args.insert(args.end(), spec_.args.begin(), spec_.args.end());
  std::vector<char*> argv;
  for (auto& s : args) argv.push_back(s.data());
  argv.push_back(nullptr);

  out_files_[i] = temp_file("out");
  err_files_[i] = temp_file("err");
  const int out = ::open(out_files_[i].c_str(), O_WRONLY | O_TRUNC | O_CLOEXEC);
  const int err = ::open(err_files_[i].c_str(), O_WRONLY | O_TRUNC | O_CLOEXEC);
  const pid_t pid = ::fork();
  if (pid == 0) {
    ::dup2(out, 1);
    ::dup2(err, 2);
    ::execve(argv[0], argv.data(), envp.data());
    _exit(127);
  }
  ::close(out);
  ::close(err);
  if (pid < 0) throw std::runtime_error("fork failed");
  pids_[i] = pid;
}

void Job::start_all() {
  for (int r = 0; r < spec_.ranks; ++r) start(r);
}

JobResult Job::wait() {
  waited_ = true;
  JobResult res;
  res.ranks.resize(pids_.size());
  const auto deadline = std::chrono::steady_clock::now() + spec_.timeout;
  std::vector<int> pidfds(pids_.size(), -1);
  for (std::size_t i = 0; i < pids_.size(); ++i)
    if (pids_[i] > 0) pidfds[i] = static_cast<int>(::syscall(SYS_pidfd_open, pids_[i], 0));
  std::vector<bool> done(pids_.size(), false);
  const auto reap = [&](std::size_t i) {
    int st = 0;
    ::waitpid(pids_[i], &st, 0);
    if (WIFEXITED(st)) res.ranks[i].exit_code = WEXITSTATUS(st);
    if (WIFSIGNALED(st)) res.ranks[i].signal = WTERMSIG(st);
    done[i] = true;
    ::close(pidfds[i]);
  };
  for (;;) {
    std::vector<pollfd> fds;
    std::vector<std::size_t> idx;
    for (std::size_t i = 0; i < pids_.size(); ++i)
      if (pids_[i] > 0 && !done[i]) {
        fds.push_back({pidfds[i], POLLIN, 0});
        idx.push_back(i);
      }
    if (fds.empty()) break;
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      res.timed_out = true;
      for (std::size_t i : idx) ::kill(pids_[i], SIGKILL);
      for (std::size_t i : idx) reap(i);
      break;
    }
    const int n = ::poll(fds.data(), fds.size(), static_cast<int>(left.count()) + 1);
    if (n < 0 && errno != EINTR) throw std::runtime_error("poll failed");
    for (std::size_t k = 0; k < fds.size(); ++k)
      if (fds[k].revents) reap(idx[k]);
  }
  for (std::size_t i = 0; i < pids_.size(); ++i) {
    if (pids_[i] <= 0) continue;
    if (::kill(pids_[i], 0) == 0 || errno != ESRCH) res.no_child_left = false;
    res.ranks[i].out = slurp(out_files_[i]);
    res.ranks[i].err = slurp(err_files_[i]);
  }
  return res;
}

JobResult run_job(JobSpec spec) {
  Job job(std::move(spec));
  job.start_all();
  return job.wait();
}

}  // namespace rmpi::test

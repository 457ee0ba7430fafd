#include "running_job.hpp"

#include <doctest/doctest.h>

#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <iterator>

#include "job_processes.hpp"
#include "process_exit.hpp"

namespace rmpi::testing {
namespace {
using Clock = std::chrono::steady_clock;

/// (command name, parent pid) from /proc/<pid>/stat.
std::pair<std::string, pid_t> comm_and_parent(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string stat((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const auto open = stat.find('('), close = stat.rfind(')');
  if (open == std::string::npos || close == std::string::npos) return {"", -1};
  char state = 0;
  int ppid = -1;
  std::sscanf(stat.c_str() + close + 1, " %c %d", &state, &ppid);
  return {stat.substr(open + 1, close - open - 1), ppid};
}
}  // namespace

RunningJob::RunningJob(const std::string& rmpirun, std::vector<std::string> args) {
  static int n = 0;
  marker_ = "RMPI_JOB_TEST_MARKER=" + std::to_string(::getpid()) + "-" + std::to_string(++n);
  int in[2], out[2], err[2];
  REQUIRE(::pipe(in) == 0);
  REQUIRE(::pipe(out) == 0);
  REQUIRE(::pipe(err) == 0);
  std::vector<std::string> argv = {rmpirun, "-x", marker_};
  argv.insert(argv.end(), args.begin(), args.end());
  pid_ = ::fork();
  REQUIRE(pid_ >= 0);
  if (pid_ == 0) {
    ::dup2(in[0], 0);
    ::dup2(out[1], 1);
    ::dup2(err[1], 2);
    for (int fd : {in[0], in[1], out[0], out[1], err[0], err[1]}) ::close(fd);
    ::putenv(const_cast<char*>(marker_.c_str()));  // the local node inherits it too
    std::vector<char*> cargv;
    for (auto& a : argv) cargv.push_back(a.data());
    cargv.push_back(nullptr);
    ::execv(cargv[0], cargv.data());
    ::_exit(127);
  }
  ::close(in[0]);
  ::close(out[1]);
  ::close(err[1]);
  stdin_ = in[1];
  stdout_ = out[0];
  stderr_ = err[0];
}

RunningJob::~RunningJob() {
  if (pid_ > 0 && !status_) {
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, nullptr, 0);
  }
  for (int fd : {stdin_, stdout_, stderr_})
    if (fd >= 0) ::close(fd);
}

bool RunningJob::saw(const std::string& pattern, bool in_stderr, std::chrono::milliseconds limit) {
  const std::regex re(pattern);
  const auto deadline = Clock::now() + limit;
  for (;;) {
    if (std::regex_search(in_stderr ? err_ : out_, re)) return true;
    if (Clock::now() >= deadline || (stdout_ < 0 && stderr_ < 0)) return false;
    pump(deadline);
  }
}

std::smatch RunningJob::wait_for(const std::string& pattern, bool in_stderr,
                                 std::chrono::seconds limit) {
  const std::regex re(pattern);
  const auto deadline = Clock::now() + limit;
  for (;;) {
    std::smatch m;
    const std::string& text = in_stderr ? err_ : out_;
    if (std::regex_search(text, m, re)) {
      kept_ = text;  // the match refers into a stable copy
      std::smatch stable;
      std::regex_search(kept_, stable, re);
      return stable;
    }
    REQUIRE_MESSAGE(Clock::now() < deadline, "never saw /" << pattern << "/; stderr: " << err_);
    pump(deadline);
  }
}

void RunningJob::close_stdin() {
  if (stdin_ >= 0) ::close(stdin_);
  stdin_ = -1;
}

void RunningJob::signal(int sig) { ::kill(pid_, sig); }

std::optional<int> RunningJob::try_wait_exit(std::chrono::milliseconds limit) {
  const auto deadline = Clock::now() + limit;
  while (stdout_ >= 0 || stderr_ >= 0) {
    if (Clock::now() >= deadline) return std::nullopt;
    pump(deadline);
  }
  // Output closed: rmpirun is exiting (or a leftover holds its pipes: bounded too).
  const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
  const auto st = reap_child(pid_, std::max(left, std::chrono::milliseconds(0)));
  if (st) status_ = *st;
  return st;
}

int RunningJob::wait_exit(std::chrono::seconds limit) {
  const auto st = try_wait_exit(limit);
  REQUIRE_MESSAGE(st.has_value(), "rmpirun did not exit within " << limit.count()
                                                                 << " s; stderr: " << err_);
  return *st;
}

void RunningJob::pump(Clock::time_point deadline) {
  pollfd fds[2] = {{stdout_, POLLIN, 0}, {stderr_, POLLIN, 0}};
  const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
  if (::poll(fds, 2, static_cast<int>(std::max<long>(0, left.count()))) <= 0) return;
  char buf[65536];
  for (int i = 0; i < 2; ++i) {
    if (!fds[i].revents) continue;
    int& fd = i == 0 ? stdout_ : stderr_;
    const ssize_t n = ::read(fd, buf, sizeof buf);
    if (n > 0) {
      (i == 0 ? out_ : err_).append(buf, static_cast<std::size_t>(n));
    } else if (n == 0) {
      ::close(fd);
      fd = -1;
    }
  }
}

pid_t local_node_of(const std::string& marker, pid_t parent) {
  for (const std::string& found : processes_with(marker)) {
    const pid_t pid = std::stoi(found);  // "<pid>: <command line>"
    const auto [comm, ppid] = comm_and_parent(pid);
    if (ppid == parent && comm == "rmpi-node") return pid;
  }
  return -1;
}

std::vector<std::pair<pid_t, std::string>> children_named(const std::string& marker,
                                                          const std::string& parent_comm) {
  std::vector<std::pair<pid_t, std::string>> out;
  for (const std::string& found : processes_with(marker)) {
    const pid_t pid = std::stoi(found);
    const auto [comm, ppid] = comm_and_parent(pid);
    if (ppid > 0 && comm_and_parent(ppid).first == parent_comm) out.emplace_back(pid, comm);
  }
  return out;
}

pid_t local_rank_pid(const RunningJob& job, int rank) {
  const std::string wanted = "RMPI_RANK=" + std::to_string(rank) + '\0';
  for (const auto& [pid, comm] : children_named(job.marker(), "rmpi-node")) {
    std::ifstream in("/proc/" + std::to_string(pid) + "/environ");
    const std::string env((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    if (env.find(wanted) != std::string::npos) return pid;
  }
  return -1;
}

void check_no_leftovers(const RunningJob& job) {
  const auto left = leftovers(job.marker());
  std::string text;
  for (const auto& l : left) text += l + "\n";
  INFO("processes of the job still running:\n" << text);
  CHECK(left.empty());
}

long rss_kib(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  for (std::string line; std::getline(in, line);)
    if (line.rfind("VmRSS:", 0) == 0) return std::atol(line.c_str() + 6);
  return 0;
}

}  // namespace rmpi::testing

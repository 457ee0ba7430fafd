// rmpirun under attack and under failure, mid-job: peers with a wrong secret
// and garbage against the nodes and the rendezvous (the job goes on),
// SIGTERM to rmpirun, and a node killed under a running job (everything ends).
#include <doctest/doctest.h>

#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <optional>
#include <regex>
#include <string>
#include <thread>
#include <vector>

#include "bad_peer.hpp"
#include "job_processes.hpp"

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

namespace {

/// rmpirun as a child with pipes on its stdin, stdout and stderr.
class RunningJob {
 public:
  explicit RunningJob(std::vector<std::string> args) {
    static int n = 0;
    marker_ = "RMPI_FAILURE_TEST_MARKER=" + std::to_string(::getpid()) + "-" + std::to_string(++n);
    int in[2], out[2], err[2];
    REQUIRE(::pipe(in) == 0);
    REQUIRE(::pipe(out) == 0);
    REQUIRE(::pipe(err) == 0);
    std::vector<std::string> argv = {RMPIRUN_EXE, "-x", marker_};
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
  ~RunningJob() {
    if (pid_ > 0 && !status_) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
    }
    for (int fd : {stdin_, stdout_, stderr_})
      if (fd >= 0) ::close(fd);
  }

  /// Reads (bounded) until `pattern` matches what rmpirun wrote to stderr or stdout.
  std::smatch wait_for(const std::string& pattern, bool in_stderr, std::chrono::seconds limit = 20s) {
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

  void close_stdin() {
    ::close(stdin_);
    stdin_ = -1;
  }
  void signal(int sig) { ::kill(pid_, sig); }
  pid_t pid() const { return pid_; }

  /// Waits (bounded) for rmpirun to exit, draining its output; returns its wait status.
  int wait_exit(std::chrono::seconds limit = 30s) {
    const auto deadline = Clock::now() + limit;
    while (stdout_ >= 0 || stderr_ >= 0) {
      REQUIRE_MESSAGE(Clock::now() < deadline, "rmpirun did not exit; stderr: " << err_);
      pump(deadline);
    }
    int st = 0;
    REQUIRE(::waitpid(pid_, &st, 0) == pid_);
    status_ = st;
    return st;
  }
  const std::string& out() const { return out_; }
  const std::string& err() const { return err_; }
  const std::string& marker() const { return marker_; }

 private:
  void pump(Clock::time_point deadline) {
    pollfd fds[2] = {{stdout_, POLLIN, 0}, {stderr_, POLLIN, 0}};
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    if (::poll(fds, 2, static_cast<int>(std::max<long>(0, left.count()))) <= 0) return;
    char buf[65536];
    for (int i = 0; i < 2; ++i) {
      if (!fds[i].revents) continue;
      int& fd = i == 0 ? stdout_ : stderr_;
      const ssize_t n = ::read(fd, buf, sizeof buf);
      if (n > 0) (i == 0 ? out_ : err_).append(buf, static_cast<std::size_t>(n));
      else if (n == 0) {
        ::close(fd);
        fd = -1;
      }
    }
  }

  std::string marker_;
  pid_t pid_ = -1;
  int stdin_ = -1, stdout_ = -1, stderr_ = -1;
  std::string out_, err_, kept_;
  std::optional<int> status_;
};

/// A connector with the wrong secret; the peer must drop it.
void try_wrong_secret(std::uint16_t port) {
  const int fd = rmpi::testing::connect_loopback(port);
  REQUIRE(fd >= 0);
  REQUIRE(rmpi::testing::wrong_secret_handshake(fd));
  CHECK_MESSAGE(rmpi::testing::closed_by_peer(fd),
                "a peer with the wrong secret was not dropped on port " << port);
  ::close(fd);
}

void try_garbage(std::uint16_t port) {
  const int fd = rmpi::testing::connect_loopback(port);
  REQUIRE(fd >= 0);
  const char junk[] = "GET / HTTP/1.0\r\nHost: x\r\n\r\n0123456789abcdef0123456789abcdef";
  REQUIRE(::write(fd, junk, sizeof junk) == static_cast<ssize_t>(sizeof junk));
  CHECK_MESSAGE(rmpi::testing::closed_by_peer(fd),
                "a garbage client was not dropped on port " << port);
  ::close(fd);
}

}  // namespace

TEST_CASE("wrong-secret and garbage peers are dropped while the job goes on") {
  RunningJob job({"-v", "-n", "2", "-H", "localhost:2", RANK_PROBE_EXE, "ready", "echo"});
  const auto node = job.wait_for(R"(node on localhost up at 127\.0\.0\.1:(\d+))", true);
  const auto node_port = static_cast<std::uint16_t>(std::stoi(node[1].str()));
  const auto rdv = job.wait_for(R"(rendezvous listening on port (\d+))", true);
  const auto rdv_port = static_cast<std::uint16_t>(std::stoi(rdv[1].str()));
  job.wait_for(R"(ready 0\n(.|\n)*ready 1\n|ready 1\n(.|\n)*ready 0\n)", false);

  try_garbage(node_port);
  try_wrong_secret(node_port);
  try_garbage(rdv_port);
  try_wrong_secret(rdv_port);

  // The job is unharmed: rank 0 still gets its stdin and everyone exits 0.
  job.close_stdin();
  const int st = job.wait_exit();
  CHECK(WIFEXITED(st));
  CHECK(WEXITSTATUS(st) == 0);
  CHECK(job.out().find("stdin[]") != std::string::npos);
  // The node reported both drops to the launcher.
  CHECK(job.err().find("failed job-secret authentication") != std::string::npos);
  CHECK(rmpi::testing::leftovers(job.marker()).empty());
}

TEST_CASE("SIGTERM to rmpirun ends every process of the job with status 143") {
  RunningJob job({"-n", "3", "--oversubscribe", RANK_PROBE_EXE, "ready", "block"});
  job.wait_for(R"((ready \d\n(.|\n)*){3})", false);
  job.signal(SIGTERM);
  const int st = job.wait_exit();
  CHECK(WIFEXITED(st));
  CHECK(WEXITSTATUS(st) == 143);
  CHECK(job.err().find("rmpirun: got SIGTERM") != std::string::npos);
  CHECK(rmpi::testing::leftovers(job.marker()).empty());
}

TEST_CASE("a node killed under a running job ends the job, with nothing left") {
  RunningJob job({"-n", "2", "-H", "localhost:2", RANK_PROBE_EXE, "ready", "block"});
  job.wait_for(R"((ready \d\n(.|\n)*){2})", false);
  // The local node is rmpirun's child: find it by parent pid and name.
  pid_t node = -1;
  for (const std::string& found : rmpi::testing::processes_with(job.marker())) {
    const int pid = std::stoi(found);  // "<pid>: <command line>"
    FILE* f = std::fopen(("/proc/" + std::to_string(pid) + "/stat").c_str(), "r");
    if (!f) continue;
    int self = 0, ppid = 0;
    char comm[64] = {}, state = 0;
    const int got = std::fscanf(f, "%d (%63[^)]) %c %d", &self, comm, &state, &ppid);
    std::fclose(f);
    if (got == 4 && ppid == job.pid() && std::string(comm) == "rmpi-node") node = pid;
  }
  REQUIRE(node > 0);
  ::kill(node, SIGKILL);
  const int st = job.wait_exit();
  CHECK(WIFEXITED(st));
  CHECK(WEXITSTATUS(st) != 0);
  CHECK(job.err().find("rmpirun: lost the node on localhost") != std::string::npos);
  CHECK(rmpi::testing::leftovers(job.marker()).empty());
}

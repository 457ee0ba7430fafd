#pragma once
// What the fault and fuzz suite shares: a child process with its output
// drained (rmpi-node, rmpirun), /proc readings (RSS, threads, CPU time,
// descriptors, listening sockets), a blocking loopback client that knows the
// job secret, frames valid and mutated, and the counts file every test of
// the suite writes for the summary line (faults_summary).
#include <sys/types.h>

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <regex>
#include <string>
#include <thread>
#include <vector>

#include <rmpi/wire.hpp>

namespace rmpi::faults {

using Clock = std::chrono::steady_clock;

/// A child process (argv[0] a path) with extra environment, its stdout and
/// stderr drained by a thread into bounded buffers (the last 1 MiB of each).
/// The destructor SIGKILLs it if it is still running.
class Child {
 public:
  struct Options {
    std::vector<std::string> argv;
    std::vector<std::pair<std::string, std::string>> env;
    /// RLIMIT_NOFILE of the child (0 = inherited).
    long max_files = 0;
  };
  explicit Child(Options options);
  ~Child();
  Child(const Child&) = delete;
  Child& operator=(const Child&) = delete;

  pid_t pid() const { return pid_; }
  /// Waits (bounded) until `pattern` matches the child's stderr (or stdout);
  /// returns the match's groups, or nothing after `limit`.
  std::optional<std::vector<std::string>> wait_for(const std::string& pattern, bool in_stderr,
                                                   std::chrono::milliseconds limit);
  /// Waits (bounded) until `done(stderr so far)` holds; false after `limit`.
  bool wait_err(const std::function<bool(const std::string&)>& done, std::chrono::milliseconds limit);
  /// Waits (bounded) for the child to exit; its wait status, or nothing.
  std::optional<int> wait_exit(std::chrono::milliseconds limit);
  bool running();
  std::string out() const;
  std::string err() const;
  /// Lines of stderr that contain `needle`.
  std::size_t err_lines_with(const std::string& needle) const;
  void signal(int sig);

 private:
  void pump();
  pid_t pid_ = -1;
  int out_fd_ = -1, err_fd_ = -1;
  std::optional<int> status_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  bool out_open_ = true, err_open_ = true;
  std::string out_, err_;
  std::thread pump_;
};

/// /proc/<pid> readings.
struct ProcStats {
  long rss_kb = 0;
  long vm_kb = 0;
  int threads = 0;
  int fds = 0;
  double cpu_seconds = 0;  // user + system
};
ProcStats proc_stats(pid_t pid);
std::string describe(const ProcStats& s);

/// A TCP socket of `pid` in LISTEN state.
struct Listening {
  std::string address;  // "127.0.0.1", "0.0.0.0", "::"
  std::uint16_t port = 0;
};
std::vector<Listening> listening_sockets(pid_t pid);

/// A blocking loopback TCP client whose every read and write is bounded by
/// `io_timeout`; never raises SIGPIPE. Closes with RST (no TIME_WAIT).
class Client {
 public:
  explicit Client(std::uint16_t port, std::chrono::milliseconds io_timeout = std::chrono::seconds(5));
  ~Client();
  Client(Client&& o) noexcept : fd_(o.fd_) { o.fd_ = -1; }
  Client(const Client&) = delete;
  bool connected() const { return fd_ >= 0; }
  int fd() const { return fd_; }
  /// False when the peer closed or the write failed.
  bool send(const std::vector<std::byte>& bytes);
  /// Plays the connector of the job-secret handshake; true when the peer proved the secret.
  bool authenticate(const std::string& secret);
  /// Reads one frame (payload at most `max_length`); nothing on close, timeout or a bad header.
  std::optional<std::pair<wire::FrameHeader, std::vector<std::byte>>> read_frame(
      std::uint64_t max_length = 1 << 20);
  /// True when the peer has closed (EOF or reset) within `limit`; bytes it sent are discarded.
  bool closed_by_peer(std::chrono::milliseconds limit);
  void close();

 private:
  bool read_exact(std::byte* p, std::size_t n);
  int fd_ = -1;
  std::chrono::milliseconds io_timeout_;
};

/// A frame's bytes: header + payload.
std::vector<std::byte> frame_bytes(const wire::FrameHeader& h, const std::vector<std::byte>& payload);

/// What a listener speaks after the handshake, for valid frames to mutate.
enum class Listener { router, rendezvous, rank };

/// Mutated frames for one listener. Frames after authentication are never
/// valid commands that would change the job (an Exit or Spawn to a node, a
/// registration at the rendezvous, a hello from a real rank).
class FrameFuzzer {
 public:
  FrameFuzzer(Listener target, std::uint64_t seed, std::uint32_t job_size = 2);
  /// Before authentication: a mutated challenge, a frame of another kind, or garbage.
  std::vector<std::byte> before_auth();
  /// After authentication: a mutated frame of the listener's protocol.
  /// `ends` is set when the frame leaves the stream unsynchronized (cut
  /// short, or a length beyond the bytes sent): the client closes after it.
  std::vector<std::byte> after_auth(bool& ends);

 private:
  std::vector<std::byte> valid_after_auth();
  void mutate(std::vector<std::byte>& f, bool& ends);
  void make_harmless(std::vector<std::byte>& f);
  std::uint64_t pick_length();
  Listener target_;
  std::uint32_t job_size_;
  std::mt19937_64 rng_;
};

/// Where the suite's programs are: built ones by default; RMPI_FAULT_RMPIRUN
/// and RMPI_FAULT_NODE point at others (to measure another build, e.g. main's).
std::string rmpirun_path();
std::string node_path();

/// A standalone rmpi-node (--listen-port 0) with `secret`; extra environment
/// and descriptor limit as given. Its port is known once constructed.
class NodeDaemon {
 public:
  NodeDaemon(const std::string& secret, std::vector<std::pair<std::string, std::string>> env = {},
             long max_files = 0, std::vector<std::string> args = {});
  Child& child() { return *child_; }
  std::uint16_t port() const { return port_; }
  pid_t pid() const { return child_->pid(); }

 private:
  std::unique_ptr<Child> child_;
  std::uint16_t port_ = 0;
};

/// An rmpirun job of fault-rank ranks on localhost, `ranks` of them, whose
/// rank 1 waits at a gate before init: until open_gate(), rank 0 is in init
/// with its listener open and the rendezvous waits for rank 1. The test
/// knows the job secret (RMPI_JOB_SECRET).
class GatedJob {
 public:
  GatedJob(const std::string& secret, int ranks = 2,
           std::vector<std::pair<std::string, std::string>> env = {});
  ~GatedJob();
  Child& rmpirun() { return *rmpirun_; }
  std::uint16_t node_port = 0, rendezvous_port = 0, rank0_port = 0;
  pid_t node_pid = -1, rank0_pid = -1;
  /// Lets rank 1 into init.
  void open_gate();
  /// Waits (bounded) for the job's end; empty when it exited 0, every rank
  /// said "done" and no process of it is left, else what went wrong.
  std::string finish(std::chrono::seconds limit);
  const std::string& marker() const { return marker_; }

 private:
  std::string marker_, gate_path_;
  int gate_fd_ = -1;
  int ranks_;
  std::unique_ptr<Child> rmpirun_;
};

/// An integer from the environment, `fallback` when unset.
long env_long(const char* name, long fallback);

/// The suite's counts: each test writes `<dir>/<test>.counts` (started:
/// "incomplete", finished: "runs=R frames=F failures=X") and prints the same
/// as its last line.
class Counts {
 public:
  explicit Counts(std::string test);
  ~Counts();
  long runs = 0, frames = 0, failures = 0;

 private:
  std::string test_, path_;
};

}  // namespace rmpi::faults

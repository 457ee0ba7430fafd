#pragma once
// Runs an rmpi job of N real processes without rmpirun: hosts a
// RendezvousServer in this process, fork/execs each rank with the launch
// environment (rmpi/launch_env.hpp), captures its stdout/stderr, and waits
// for every rank with a bounded wait (killing, by PID, only the processes
// it started when the time runs out).
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <sys/types.h>

#include <rmpi/rendezvous.hpp>

namespace rmpi::test {

struct RankResult {
  int exit_code = -1;  // -1 when killed by a signal
  int signal = 0;
  std::string out;
  std::string err;
};

struct JobResult {
  std::vector<RankResult> ranks;
  bool timed_out = false;
  bool no_child_left = true;  // every started PID was reaped
  bool all_exited_zero() const;
  /// One line per rank: exit code, signal, stdout and stderr.
  std::string summary() const;
};

struct JobSpec {
  int ranks = 1;
  std::string program{};
  std::vector<std::string> args{};
  /// RMPI_NODE_ID of each rank (default: all "n0", one node).
  std::function<std::string(int)> node_id{};
  /// Extra environment per rank (overrides).
  std::map<int, std::map<std::string, std::string>> extra_env{};
  std::chrono::seconds timeout{60};
};

class Job {
 public:
  explicit Job(JobSpec spec);
  ~Job();
  Job(const Job&) = delete;
  Job& operator=(const Job&) = delete;

  /// Starts one rank (once).
  void start(int rank);
  /// Starts every rank not started yet.
  void start_all();
  /// Waits for every started rank (bounded by spec.timeout).
  JobResult wait();

  RendezvousServer& server() { return *server_; }
  const std::string& secret() const { return secret_; }
  const std::string& job_id() const { return job_id_; }

 private:
  JobSpec spec_;
  std::string secret_;
  std::string job_id_;
  std::unique_ptr<RendezvousServer> server_;
  std::vector<pid_t> pids_;
  std::vector<std::string> out_files_;
  std::vector<std::string> err_files_;
  bool waited_ = false;
};

/// Starts all ranks of `spec` and waits for them.
JobResult run_job(JobSpec spec);

}  // namespace rmpi::test

#pragma once
// rmpirun as a child of the test, with pipes on its stdin, stdout and stderr,
// and a unique marker in its environment (so every process of the job can be
// found afterwards: job_processes). Reads are bounded by deadlines.
#include <sys/types.h>

#include <chrono>
#include <optional>
#include <regex>
#include <string>
#include <vector>

namespace rmpi::testing {

class RunningJob {
 public:
  /// Starts `rmpirun -x <marker> args...`.
  RunningJob(const std::string& rmpirun, std::vector<std::string> args);
  ~RunningJob();
  RunningJob(const RunningJob&) = delete;
  RunningJob& operator=(const RunningJob&) = delete;

  /// Reads (bounded) until `pattern` matches what rmpirun wrote to stderr or stdout.
  std::smatch wait_for(const std::string& pattern, bool in_stderr,
                       std::chrono::seconds limit = std::chrono::seconds(20));
  /// Like wait_for, but false instead of a failed check when the limit passes.
  bool saw(const std::string& pattern, bool in_stderr, std::chrono::milliseconds limit);

  void close_stdin();
  int stdin_fd() const { return stdin_; }
  void signal(int sig);
  pid_t pid() const { return pid_; }

  /// Waits (bounded) for rmpirun to exit, draining its output; returns its wait status.
  int wait_exit(std::chrono::seconds limit = std::chrono::seconds(30));
  /// As wait_exit, but std::nullopt instead of a failed check when the limit passes.
  std::optional<int> try_wait_exit(std::chrono::milliseconds limit);
  const std::string& out() const { return out_; }
  const std::string& err() const { return err_; }
  const std::string& marker() const { return marker_; }

  /// Reads what is available now (or until `deadline`) from stdout and stderr.
  void pump(std::chrono::steady_clock::time_point deadline);

 private:
  std::string marker_;
  pid_t pid_ = -1;
  int stdin_ = -1, stdout_ = -1, stderr_ = -1;
  std::string out_, err_, kept_;
  std::optional<int> status_;
};

/// The pid of the job's rmpi-node whose parent is `parent` (the local node of
/// a job is rmpirun's child), or -1.
pid_t local_node_of(const std::string& marker, pid_t parent);

/// (pid, command name) of the processes carrying `marker` whose parent's
/// command name is `parent_comm` (e.g. the ranks of a local node: "rmpi-node").
std::vector<std::pair<pid_t, std::string>> children_named(const std::string& marker,
                                                          const std::string& parent_comm);

/// The pid of rank `rank` of a local job (a child of the local node, found by
/// RMPI_RANK in its environment), or -1.
pid_t local_rank_pid(const RunningJob& job, int rank);

/// A doctest check that no process carrying the job's marker is left,
/// listing the ones that are.
void check_no_leftovers(const RunningJob& job);

/// VmRSS of a process in KiB (0 if gone).
long rss_kib(pid_t pid);

}  // namespace rmpi::testing

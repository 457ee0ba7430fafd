#pragma once
// Child processes: fork/exec with an explicit environment, working
// directory, file descriptors and stdio; exec failures reported back
// synchronously through a close-on-exec pipe; reaping through one
// process-wide SIGCHLD watcher on the shared io_context.
#include <sys/types.h>

#include <cstdint>
#include <functional>
#include <string>
#include <utility>
#include <vector>

namespace rmpi::places::detail {

/// What a child's standard stream is connected to.
enum class Stdio { inherit, pipe, null };

/// Everything needed to start a child.
struct ProcessSpec {
  std::vector<std::string> argv;  // argv[0] without '/' is searched in PATH
  std::vector<std::pair<std::string, std::string>> env;  // added to (or replacing in) ours
  std::vector<std::string> unset_env;                    // removed from ours
  std::string cwd;                                       // empty = ours
  /// (our fd, fd number in the child): passed open across exec.
  std::vector<std::pair<int, int>> fds;
  Stdio stdin_mode = Stdio::null;
  Stdio stdout_mode = Stdio::inherit;
  Stdio stderr_mode = Stdio::inherit;
  bool new_process_group = true;  // the child leads its own group (kill(-pid) reaches its children)
  bool die_with_parent = true;    // PR_SET_PDEATHSIG(SIGKILL) in the child
  /// A cgroup directory the child moves itself into before exec ("" = none;
  /// a failed move leaves it where it is).
  std::string cgroup;
  /// OS indexes of the CPUs the child may run on, set before exec (empty = ours).
  std::vector<int> cpus;
};

/// A started child: its pid and our ends of its pipes (-1 where not piped).
/// The fds are close-on-exec and owned by the caller.
struct ChildProcess {
  pid_t pid = -1;
  int stdin_fd = -1;
  int stdout_fd = -1;
  int stderr_fd = -1;
};

/// How a child ended.
struct ExitStatus {
  int status = 0;  // exit code, or 128 + signal
  int signal = 0;  // the terminating signal, 0 if it exited
  /// "exited with status 3", "killed by signal 9 (SIGKILL)".
  std::string description() const;
};

/// Starts a child. Throws rmpi::SpawnError when it cannot start, naming the
/// host: "cannot execute /x/y on node1: No such file or directory",
/// "working directory /nope does not exist on node1".
ChildProcess spawn_process(const ProcessSpec& spec);

/// A change of a child's job-control state (waitpid's WUNTRACED, WCONTINUED).
enum class RunState { stopped, continued };

/// Calls `on_exit` once (on the shared io_context thread) when `pid` ends,
/// and reaps it. With `on_run_state`, also calls it each time the child is
/// stopped (with the stop signal: 19 for SIGSTOP) or continued (signal 0).
/// Thread-safe; only pids registered here are reaped.
void watch_child(pid_t pid, std::function<void(ExitStatus)> on_exit,
                 std::function<void(RunState, int signal)> on_run_state = {});

/// With `on`, the reaper also reaps children it does not watch (orphans
/// re-parented to a child subreaper); they are not reported. Off by default,
/// so that code which waits for its own children keeps working.
void set_reap_unwatched(bool on);

/// This host's name, for messages.
std::string host_name();

/// "SIGKILL" for 9.
std::string signal_name(int sig);

/// Decodes a waitpid status.
ExitStatus exit_status_from_wait(int wait_status);

}  // namespace rmpi::places::detail

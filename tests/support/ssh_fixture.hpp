#pragma once
/// Test support: real child processes, and four SSH "hosts" on this one
/// machine served by a private OpenSSH server (tests/support/ssh-fixture).
#include <sys/types.h>

#include <chrono>
#include <string>
#include <vector>

namespace rmpi::testing {

/// What a finished child process left behind.
struct ProcessResult {
  int exit_code = -1;      ///< exit status, or -1 when it was killed by a signal
  int term_signal = 0;     ///< the signal that ended it, or 0
  bool timed_out = false;  ///< true when run_process killed it at its deadline
  std::string out;         ///< everything it wrote to stdout
  std::string err;         ///< everything it wrote to stderr
  /// True when it exited with status 0.
  bool ok() const { return exit_code == 0; }
};

/// Runs argv (argv[0] is looked up in PATH) as a child process, writes `input`
/// to its stdin then closes it, and collects stdout and stderr until it exits.
/// A child still running at `timeout` is killed (SIGKILL, by its pid).
/// Throws rmpi::SpawnError when the process cannot be started.
ProcessResult run_process(const std::vector<std::string>& argv, const std::string& input = {},
                          std::chrono::milliseconds timeout = std::chrono::seconds(30));

/// A private sshd on 127.0.0.1..127.0.0.5 and one free port, reached as
/// host1..host4 (127.0.0.2..127.0.0.5) and host0 (127.0.0.1) through the ssh
/// config file ssh_config_path(). Every host is this machine: they all report
/// the same `hostname`. RAII: the constructor creates a directory under /tmp and
/// starts sshd (bounded to ~10 s); the destructor stops sshd and its
/// per-connection children and removes the directory. If the test process
/// dies without running destructors, a helper that holds the other end of a
/// pipe stops sshd. Never touches the system's sshd or port 22.
class SshFixture {
 public:
  /// Starts the sshd; throws rmpi::SpawnError with the fixture's and sshd's
  /// diagnostics if it cannot.
  SshFixture();
  /// Stops the sshd (and its children) and removes the directory.
  ~SshFixture();
  SshFixture(const SshFixture&) = delete;
  SshFixture& operator=(const SshFixture&) = delete;

  /// The fixture's directory: keys, configs, sshd.log, env.
  const std::string& dir() const { return dir_; }
  /// The ssh client config that defines host0..host4.
  const std::string& ssh_config_path() const { return ssh_config_; }
  /// The sshd's port, the same on every address.
  int port() const { return port_; }
  /// The pid of the listening sshd.
  pid_t sshd_pid() const { return sshd_pid_; }
  /// The user every host logs in as (the current user).
  const std::string& user() const { return user_; }
  /// The client's private key, authorized on every host.
  const std::string& identity_file() const { return identity_file_; }
  /// {"host1", "host2", "host3", "host4"}.
  std::vector<std::string> hosts() const;
  /// {"-F", ssh_config_path()}: what a launcher passes to ssh (--ssh-args).
  std::vector<std::string> ssh_args() const;
  /// Runs `command` on `host` through `ssh -F <config> host command` and
  /// returns its stdout; throws rmpi::ConnectError with ssh's stderr when ssh
  /// or the command fails.
  std::string run(const std::string& host, const std::string& command) const;

 private:
  void stop() noexcept;

  std::string script_;
  std::string dir_;
  std::string ssh_config_;
  std::string user_;
  std::string identity_file_;
  int port_ = 0;
  pid_t sshd_pid_ = -1;
  pid_t server_pid_ = -1;  ///< `ssh-fixture serve`: owns sshd, stops it on EOF
  int server_stdin_ = -1;  ///< closing it asks the server to stop sshd
};

}  // namespace rmpi::testing

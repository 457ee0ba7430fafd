#pragma once
/// ProcessHost: a node started on a host (directly when the host is local,
/// over SSH otherwise) that runs arbitrary processes for a launcher — argv,
/// environment, working directory — and streams their stdout/stderr back,
/// forwards stdin, and reports how each ended. This is the launcher's view
/// of a node (the reference's spawned-process%, many at once). Dropping the
/// ProcessHost drops the node's parent link: the node ends every process it
/// started and exits.
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <utility>
#include <vector>

namespace rmpi::places {

/// How to start and reach the node.
struct ProcessHostOptions {
  std::string node_path;               // rmpi-node on that host; empty = node_path()
  std::string ssh_path;                // empty = ssh_bin_path()
  std::vector<std::string> ssh_args;   // extra ssh options
  std::string prefix;                  // remote install prefix (PATH, LD_LIBRARY_PATH)
  std::uint16_t listen_port = 0;       // router port on that host; 0 = any free port
  std::string port_range;              // RMPI_PORT_RANGE for the node, "" = any
  std::chrono::milliseconds start_timeout{30000};
  std::chrono::milliseconds kill_grace{3000};
  /// --iface of the job: the node checks it resolves on its host before it
  /// is up (one clear error per host instead of one per rank). "" = none.
  std::string check_iface;
};

/// One process to start on the node.
struct ProcessLaunch {
  std::uint32_t id = 0;
  std::vector<std::string> argv;
  std::vector<std::pair<std::string, std::string>> env;  // added to the node's environment
  std::string cwd;                                       // must exist on that host
  bool forward_stdin = false;                            // else /dev/null
  std::vector<std::uint32_t> cpus;  // OS CPU indexes it is bound to before exec; empty = unbound
};

/// Which output stream a chunk came from.
enum class OutputStream { out = 1, err = 2 };

/// Callbacks, run on the runtime's I/O thread (keep them short).
struct ProcessHostEvents {
  std::function<void(std::uint32_t id, int pid)> on_started;
  /// The process could not start; `reason` names the host and what failed.
  std::function<void(std::uint32_t id, const std::string& reason)> on_failed;
  /// A chunk of output; an empty chunk is the end of that stream.
  std::function<void(std::uint32_t id, OutputStream s, std::span<const std::byte> bytes)> on_output;
  /// `bytes` more of the process's stdin were written to it (or dropped: it
  /// closed its stdin). A sender keeps what it has sent and not yet seen
  /// here bounded: that is stdin's flow control.
  std::function<void(std::uint32_t id, std::size_t bytes)> on_stdin_written;
  /// The process was stopped by `signal` (19 for SIGSTOP: waitpid's WUNTRACED).
  std::function<void(std::uint32_t id, int signal)> on_stopped;
  /// A stopped process was continued (SIGCONT).
  std::function<void(std::uint32_t id)> on_continued;
  /// The process ended (after all its output): status is the exit code or 128+signal.
  std::function<void(std::uint32_t id, int status, int signal)> on_exited;
  /// The node or the link to it is gone; no more events follow.
  std::function<void(const std::string& reason)> on_lost;
};

class ProcessHost {
 public:
  /// Starts rmpi-node on `host` and connects to it (job secret from
  /// auth::job_secret(); over SSH it goes through ssh's stdin, never argv).
  /// Blocks until connected; throws rmpi::SpawnError / ConnectError naming
  /// the host and what failed (ssh's own stderr included).
  ProcessHost(std::string host, const ProcessHostOptions& options, ProcessHostEvents events);
  ~ProcessHost();
  ProcessHost(ProcessHost&&) noexcept;
  ProcessHost& operator=(ProcessHost&&) noexcept;

  /// The host as given.
  const std::string& host() const;
  /// The address this host was reached on: what other hosts should use for it.
  const std::string& address() const;
  /// Our local address on the link to this node: how this host reaches us.
  const std::string& local_address() const;
  /// The node's router port.
  std::uint16_t port() const;
  /// What the node said about its host when it welcomed us (rmpi-node: its hwloc
  /// topology as XML); empty if it said nothing.
  const std::string& host_facts() const;

  /// Starts a process; events report what happens to it.
  void launch(const ProcessLaunch& p);
  /// Bytes for a process's stdin (launched with forward_stdin); empty = end of input.
  void write_stdin(std::uint32_t id, std::span<const std::byte> bytes);
  /// SIGKILL to one process and all it started (a stopped one too); its end
  /// is reported by on_exited as usual.
  void kill(std::uint32_t id);
  /// SIGTERM to every process of the node, SIGKILL after `grace`.
  void terminate(std::chrono::milliseconds grace);

 private:
  struct Impl;
  std::shared_ptr<Impl> impl_;  // shared with I/O callbacks, which hold it weakly
};

}  // namespace rmpi::places

#pragma once
/// SpawnedProcess (the reference's spawned-process%, made by
/// supervise-process-at): an external command run on a node, attached to
/// this program: its stdout and stderr come here, its death is reported
/// here (wait, try_wait, set_on_exit), and it ends with its node.
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <rmpi/event.hpp>
#include <rmpi/node.hpp>

namespace rmpi::places {

class RemoteNode;

class SpawnedProcess : public EventContainer {
 public:
  SpawnedProcess() = default;

  /// The process's pid on its node's host.
  int get_pid() const;
  /// Blocks until the process ends: its exit code, 128+signal if killed.
  /// Throws ChannelClosed naming the node (host:port) if the node is lost first.
  int wait();
  /// The exit code if the process has ended.
  std::optional<int> try_wait() const;
  /// Runs `fn(status)` once when the process ends (on the router loop's
  /// thread while a loop runs, else on a runtime thread); at once if it has.
  void set_on_exit(std::function<void(int status)> fn);
  /// "process sleep (pid 123) on PLACE host:port".
  std::string describe() const;
  bool valid() const { return static_cast<bool>(impl_); }

  /// Runtime internals.
  struct Impl;
  explicit SpawnedProcess(std::shared_ptr<Impl> impl) : impl_(std::move(impl)) {}

 private:
  std::shared_ptr<Impl> impl_;
};

/// supervise-process-at: starts a node on `host` and runs `cmdline` there
/// (argv[0] searched in the node's PATH). Throws SpawnError naming the
/// host and the command if it cannot start.
SpawnedProcess supervise_process_at(const std::string& host, const std::vector<std::string>& cmdline,
                                    const NodeOptions& options = {});
/// Runs `cmdline` on an existing node.
SpawnedProcess supervise_process_at(RemoteNode& node, const std::vector<std::string>& cmdline);

}  // namespace rmpi::places

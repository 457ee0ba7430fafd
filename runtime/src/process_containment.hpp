#pragma once
// Containment of what a node starts: every process a rank (or place) starts
// ends with it, whatever it does (setsid, double fork, holding the rank's
// stdout open). Three layers, each enough on its own for most escapes:
//  - a cgroup v2 per rank, under one cgroup of the node, where the node may
//    create one (killed at once through cgroup.kill);
//  - a marker in the environment (RMPI_CONTAINER=<node tag>/<container>),
//    inherited across setsid and forks, found by a scan of /proc;
//  - the node is PR_SET_CHILD_SUBREAPER: orphans are re-parented to it, are
//    reaped, and are killed when the node ends.
// A watchdog process, forked before the node starts any thread, outlives a
// node killed by SIGKILL and then kills everything of the node.
#include <sys/types.h>

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace rmpi::places::detail {

/// Where one started process (and all it starts) is kept.
struct Container {
  std::uint64_t id = 0;
  std::string cgroup;  // the container's cgroup directory, empty without cgroups
  /// What the child carries: (RMPI_CONTAINER, "<node tag>/<id>").
  std::pair<std::string, std::string> marker;
};

/// The environment variable that marks every process of a node.
inline constexpr const char* kContainerEnv = "RMPI_CONTAINER";

class Containment {
 public:
  /// The process-wide containment; inactive until enable_for_node().
  static Containment& instance();

  /// Makes this process a contained node: creates its cgroup where possible,
  /// forks the watchdog, marks its environment and becomes a child subreaper.
  /// Call first thing in the node, before any thread exists.
  void enable_for_node();
  bool active() const { return active_; }
  bool uses_cgroups() const { return !cgroup_.empty(); }
  /// The node's cgroup directory ("" without cgroups).
  const std::string& cgroup() const { return cgroup_; }

  /// A new container for a child (its cgroup created if cgroups are in use).
  Container create();
  /// Sends `sig` to every process of the container (cgroup, marker scan and
  /// the process group `pgid` when > 0). SIGKILL is repeated until none is left (bounded).
  void signal(const Container& c, pid_t pgid, int sig);
  /// Removes the container's cgroup once it is empty (no-op otherwise).
  void release(const Container& c);
  /// SIGKILL to every process of the node except `spare`, by cgroup, marker,
  /// and children of ours (re-parented orphans); then removes the cgroups.
  void kill_everything();

 private:
  Containment() = default;
  bool active_ = false;
  std::string tag_;     // unique to this node
  std::string cgroup_;  // the node's cgroup directory
  pid_t watchdog_ = -1;
  std::uint64_t next_id_ = 1;
};

/// Processes whose environment holds `name=value` exactly, or `name=value/...`
/// when `prefix` is set (this process excluded).
std::vector<pid_t> processes_marked(const std::string& name, const std::string& value, bool prefix);

}  // namespace rmpi::places::detail

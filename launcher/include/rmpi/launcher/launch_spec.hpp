#pragma once
/// Everything `rmpirun` was asked to do, as a typed value.
#include <chrono>
#include <filesystem>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <rmpi/launcher/host_entry.hpp>
#include <rmpi/launcher/mapping.hpp>
#include <rmpi/launcher/port_range.hpp>

namespace rmpi::launcher {

/// The parsed rmpirun command line (after environment defaults). Hosts are resolved from it by
/// resolve_hosts (the hostfile is read there, not while parsing the command line).
struct LaunchSpec {
  /// -f/--hostfile; empty = none.
  std::optional<std::filesystem::path> hostfile;
  /// -H/--host entries, parsed, in order (repeated -H options are concatenated).
  std::vector<HostEntry> host_list;
  /// -n/-np; empty = one rank per slot of all hosts.
  std::optional<int> np;
  /// --map-by slot|node.
  MapBy map_by = MapBy::slot;
  /// --oversubscribe: allow more ranks than slots (up to max_slots).
  bool oversubscribe = false;
  /// -x NAME[=VALUE] (repeatable), in order; NAME alone holds the launcher's value of NAME.
  std::vector<std::pair<std::string, std::string>> env;
  /// --tag-output: prefix each output line with the rank.
  bool tag_output = false;
  /// --timeout SECONDS: end the job after this long; empty = no limit.
  std::optional<std::chrono::milliseconds> timeout;
  /// --port or RMPI_PORT_RANGE: where router and rank listeners bind; {0,0} = any free port.
  PortRange ports;
  /// --iface: the interface or address peers use to reach this host's listeners; empty = auto.
  std::string iface;
  /// --ssh: the ssh binary.
  std::string ssh = "ssh";
  /// --ssh-args or RMPI_SSH_ARGS, split shell-like: extra options passed to ssh.
  std::vector<std::string> ssh_args;
  /// --node-path: path of rmpi-node on remote hosts; empty = let the launcher choose.
  std::string node_path;
  /// --prefix: install prefix on remote hosts (prepended to PATH and LD_LIBRARY_PATH).
  std::optional<std::filesystem::path> prefix;
  /// --print-all-exitcodes: report every rank's exit status, not only the first failure.
  bool print_all_exitcodes = false;
  /// --supervise: a failed rank is reported and the job goes on (RMPI_SUPERVISED=1 in the ranks).
  bool supervise = false;
  /// --kill-grace SECONDS: time between SIGTERM and SIGKILL when ending a job.
  std::chrono::milliseconds kill_grace{3000};
  /// --max-ranks-per-host N; empty = default_max_ranks_per_host().
  std::optional<int> max_ranks_per_host;
  /// -v/--verbose.
  bool verbose = false;
  /// The program each rank runs (any executable).
  std::string program;
  /// The program's arguments, exactly as given after it.
  std::vector<std::string> args;
};

}  // namespace rmpi::launcher

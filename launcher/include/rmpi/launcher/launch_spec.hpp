#pragma once
/// Everything `rmpirun` was asked to do, as a typed value.
#include <chrono>
#include <filesystem>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <rmpi/launcher/host_entry.hpp>
#include <rmpi/launcher/binding.hpp>
#include <rmpi/launcher/mapping.hpp>
#include <rmpi/launcher/port_range.hpp>

namespace rmpi::launcher {

/// One part of an MPMD command line (`rmpirun -n 1 ./a : -n 3 ./b args`); a plain command line
/// is one part. Parts take consecutive ranks in order, in one world.
struct AppContext {
  /// The program its ranks run (any executable).
  std::string program;
  /// The program's arguments, exactly as given after it (up to the next `:`).
  std::vector<std::string> args;
  /// -n/-np of this part; empty (one part only) = one rank per slot of all hosts.
  std::optional<int> np;
  /// -x NAME[=VALUE] of this part, in order; NAME alone holds the launcher's value of NAME.
  std::vector<std::pair<std::string, std::string>> env;
  /// -wdir/--wdir: the ranks' working directory (relative: to rmpirun's); empty = rmpirun's.
  std::filesystem::path wdir;
};

/// The parsed rmpirun command line (after environment defaults). Hosts are resolved from it by
/// resolve_hosts (the hostfile is read there, not while parsing the command line).
struct LaunchSpec {
  /// -f/--hostfile; empty = none.
  std::optional<std::filesystem::path> hostfile;
  /// -H/--host entries, parsed, in order (repeated -H options are concatenated).
  std::vector<HostEntry> host_list;
  /// The ranks of the job: -n/-np of the one part, or the sum over MPMD parts; empty = one rank
  /// per slot of all hosts.
  std::optional<int> np;
  /// MPICH -ppn N: every host takes N ranks (its slot count becomes N); empty = the hosts' slots.
  std::optional<int> ranks_per_host;
  /// --map-by slot|node|core|numa|socket|ppr:N:RESOURCE.
  MapBy map_by = MapBy::slot;
  /// N and RESOURCE of --map-by ppr:N:RESOURCE.
  RanksPerResource ppr;
  /// --bind-to; unset: default_bind_to() on each host.
  std::optional<BindTo> bind_to;
  /// --use-hwthread-cpus: a host whose slots are not written gets one per hwthread, not per core.
  bool use_hwthread_cpus = false;
  /// --cpus-per-rank N.
  int cpus_per_rank = 1;
  /// --report-bindings: a line on stderr per rank with its host and CPUs.
  bool report_bindings = false;
  /// --display-map: the rank → host → CPUs table before the job runs.
  bool display_map = false;
  /// --topology: print each host's topology instead of running a job (hosts: the program and
  /// its arguments, else the hostfile's or -H's hosts, else this host).
  bool show_topology = false;
  /// --oversubscribe: allow more ranks than slots (up to max_slots).
  bool oversubscribe = false;
  /// --nooversubscribe: refuse more ranks than slots even on the implicit local host.
  bool no_oversubscribe = false;
  /// MPICH -genv NAME VALUE (repeatable), in order: set for every rank of every part (a part's
  /// -x of the same NAME wins).
  std::vector<std::pair<std::string, std::string>> env;
  /// MPICH -envall: every rank gets rmpirun's whole environment (below -genv and -x).
  bool env_all = false;
  /// --tag-output or MPICH -l: prefix each output line with the rank.
  bool tag_output = false;
  /// --timestamp-output: prefix each output line with the time it reached rmpirun.
  bool timestamp_output = false;
  /// --merge-stderr-to-stdout: ranks' stderr goes to rmpirun's stdout (or the stdout file).
  bool merge_stderr_to_stdout = false;
  /// --output-filename DIR: each rank's output goes to DIR/1/rank.N/{stdout,stderr} (Open MPI's
  /// layout) instead of rmpirun's stdout and stderr.
  std::optional<std::filesystem::path> output_dir;
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
  /// --restart-every SECONDS (implies supervise): restart a failed rank after this
  /// (rmpi::places::restart_every's policy); empty = no restarts.
  std::optional<std::chrono::milliseconds> restart_every;
  /// --max-restarts N: restarts in a row before giving up on a rank; empty = no limit.
  std::optional<int> max_restarts;
  /// --kill-grace SECONDS: time between SIGTERM and SIGKILL when ending a job.
  std::chrono::milliseconds kill_grace{3000};
  /// --max-ranks-per-host N; empty = default_max_ranks_per_host().
  std::optional<int> max_ranks_per_host;
  /// -v/--verbose.
  bool verbose = false;
  /// The parts of the command line (at least one), in rank order.
  std::vector<AppContext> apps;
};

/// The part that runs `rank`: parts take consecutive ranks; the last takes the rest.
const AppContext& app_of_rank(const LaunchSpec& spec, int rank);

}  // namespace rmpi::launcher

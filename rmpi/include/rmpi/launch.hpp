#pragma once
/// The programmatic launch path (the reference's rmpi-launch): a program
/// spawns one node with one named place per rank, hands each place its id,
/// its arguments and the job's rendezvous, and waits for rank 0's `finish`.
///
///   void worker(rmpi::places::PlaceChannel ch) {
///     auto [comm, args, tc] = rmpi::init(ch);
///     ...
///     rmpi::finish(comm, tc);
///   }
///   RMPI_PLACE(worker);
///   int main(int argc, char** argv) {
///     rmpi::places::init(argc, argv);
///     rmpi::launch(rmpi::build_default_config({.mpi_func = "worker"}),
///                  rmpi::make_localhost_config(4, 0, "worker"));
///   }
///
/// Messages from the launcher to each place, in order (Value lists):
///   (rmpi-id <id> <cnt>)
///   (args <mpi_args>)
///   (rendezvous "<host>" <port> "<job-id>" "<advertise-address>")
/// and from rank 0 to the launcher, once every rank is in `finish`: (done).
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <rmpi/channel.hpp>
#include <rmpi/comm.hpp>
#include <rmpi/remote_node.hpp>
#include <rmpi/value.hpp>

namespace rmpi {

class RendezvousServer;

/// Settings shared by every entry of a launch (rmpi-build-default-config).
/// Empty strings (and a null mpi_args) mean "not set".
struct DefaultConfig {
  /// rmpi-node on the target hosts (the reference's racket-path).
  std::string node_path{};
  /// A program started instead of node_path (the reference's distributed-launch-path).
  std::string launch_path{};
  /// The executable that registers mpi_func (the reference's mpi-module).
  std::string mpi_module{};
  /// The registered place function every rank runs (RMPI_PLACE).
  std::string mpi_func{};
  /// Handed to every rank as `args` by init(PlaceChannel).
  places::Value mpi_args{};
  /// Extra ssh arguments for nodes on other hosts, e.g. {"-F", "config"}
  /// (not in the reference).
  std::vector<std::string> ssh_args{};
};

/// rmpi-build-default-config: `config` with node_path defaulted to
/// places::node_path() and mpi_module to this executable when empty.
DefaultConfig build_default_config(DefaultConfig config);

/// One rank of a launch: where its node runs and what its place is called.
struct NodeConfig {
  /// Host of the node ("localhost" and this host's names start it directly, others over SSH).
  std::string host{};
  /// Router port of the node; 0 = any free port.
  int port = 0;
  /// Name the place is registered under on its node.
  std::string name{};
  /// The rank, 0 .. n-1; every id exactly once.
  int id = 0;
  /// Per-entry settings; the fields set here replace the default config's.
  std::optional<DefaultConfig> overrides{};
};

/// rmpi-make-localhost-config: `cnt` entries ("localhost", start_port + i,
/// name + i, i); with start_port 0 every port is 0 (any free port).
std::vector<NodeConfig> make_localhost_config(int cnt, int start_port, const std::string& name);

/// rmpi-make-remote-config: `cnt` entries per host, host-major: host h gets
/// ids h*cnt .. h*cnt+cnt-1, ports start_port + j (j = 0 .. cnt-1, all 0
/// when start_port is 0) and names name + id.
std::vector<NodeConfig> make_remote_config(const std::vector<std::string>& hosts, int cnt,
                                           int start_port, const std::string& name);

/// Options of launch.
struct LaunchOptions {
  /// Return once every place has been started and told its id, without waiting for finish.
  bool no_wait = false;
};

/// A launched job: owns its nodes and its rendezvous; ends the nodes when
/// destroyed (after wait(), or at once if wait() was never called).
class LaunchedJob {
 public:
  LaunchedJob();
  ~LaunchedJob();
  LaunchedJob(LaunchedJob&&) noexcept;
  LaunchedJob& operator=(LaunchedJob&&) noexcept;

  /// Waits for rank 0's (done) and every place's exit (bounded after done),
  /// then ends the nodes. Throws rmpi::JobFailed (rmpi/failure.hpp) for the
  /// job's first failure in time, naming its rank, host and status: a place
  /// that exits non-zero, a node that is lost, or rank 0 ending without
  /// finish. Returns at once if the job has already been waited for.
  void wait();
  /// Ends every node now (their places end with them); idempotent.
  void stop();
  /// The connection to rank `id`'s place (RemoteConnection::try_wait etc.).
  places::RemoteConnection& place(int id);
  /// The number of ranks.
  int size() const;

  /// Internals: what launch fills in.
  struct State;
  explicit LaunchedJob(std::unique_ptr<State> state);

 private:
  std::unique_ptr<State> state_;
};

/// rmpi-launch: validates `config` (ids 0 .. n-1 each exactly once, else
/// rmpi::ConfigError naming the bad id), hosts the job's rendezvous, spawns
/// one node with one named place per entry (in parallel), sends each place
/// its id, args and rendezvous, and (unless options.no_wait) waits as
/// LaunchedJob::wait does. rmpi::SpawnError names the rank and host of a
/// node or place that cannot be started.
LaunchedJob launch(const DefaultConfig& defaults, const std::vector<NodeConfig>& config,
                   LaunchOptions options = {});

/// What init(PlaceChannel) returns: `auto [comm, args, tc] = rmpi::init(ch);`.
struct PlaceInit {
  /// The world communicator of the launched job.
  Comm comm;
  /// The launch's mpi_args for this rank.
  places::Value args;
  /// The place's channel to the launcher, typed by the lists' head symbol.
  places::TypedChannel tc;
};

/// rmpi-init: in a place started by launch, receives its id, args and
/// rendezvous on `ch` and builds the rank mesh like init(argc, argv) (ranks
/// with the same advertised address use local sockets; RMPI_SPIN_US and
/// RMPI_INIT_TIMEOUT, inherited from the launcher, apply as there).
PlaceInit init(places::PlaceChannel ch);

/// rmpi-finish: a barrier, then rank 0 tells the launcher (done) on `tc`,
/// then the mesh is shut down (rmpi::finish()).
void finish(const Comm& comm, places::TypedChannel& tc);

}  // namespace rmpi

#pragma once
/// The launch environment: what a launcher (rmpirun's nodes, rmpi::launch,
/// a test harness) sets for every rank, and `rmpi::init` reads. With neither
/// RMPI_RANK nor RMPI_SIZE set (a program started without rmpirun) the rank is
/// a singleton, as in MPI: rank 0 of a world of 1, and nothing else is read.
///
/// | variable            | meaning                                                   |
/// |---------------------|-----------------------------------------------------------|
/// | RMPI_RANK           | this rank, 0 .. RMPI_SIZE-1 (required with RMPI_SIZE)     |
/// | RMPI_SIZE           | number of ranks (required with RMPI_RANK)                 |
/// | RMPI_LOCAL_RANK     | rank among the ranks of this node (default 0)             |
/// | RMPI_LOCAL_SIZE     | ranks on this node (default 1)                            |
/// | RMPI_NODE_ID        | node identity; equal ids use a local socket (default "0") |
/// | RMPI_JOB_SECRET     | the job secret every connection proves (required, but for a singleton) |
/// | RMPI_RENDEZVOUS     | host:port of the job's RendezvousServer (required, size>1)|
/// | RMPI_ADVERTISE      | IP address other hosts reach this host at (default 127.0.0.1) |
/// | RMPI_IFACE          | interface, subnet (CIDR) or address to advertise instead (resolved here) |
/// | RMPI_PORT_RANGE     | first-last TCP ports for the listener (default: any free) |
/// | RMPI_JOB_ID         | unique per job; names local sockets (default: from the rendezvous address) |
/// | RMPI_SPIN_US        | receive spin in µs before blocking (default 50; 0 = block at once) |
/// | RMPI_INIT_TIMEOUT   | seconds init may take (rendezvous, connects; default 60)  |
/// | RMPI_YIELD_WHEN_IDLE | 1: a waiting rank yields its CPU early (its node runs more ranks than cores); 0: it does not; unset: ranks on the node against the CPUs this process may use (rmpirun sets it per host, as Open MPI's mpi_yield_when_idle) |
#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>

namespace rmpi {

inline constexpr const char* kRankEnv = "RMPI_RANK";
inline constexpr const char* kSizeEnv = "RMPI_SIZE";
inline constexpr const char* kLocalRankEnv = "RMPI_LOCAL_RANK";
inline constexpr const char* kLocalSizeEnv = "RMPI_LOCAL_SIZE";
inline constexpr const char* kNodeIdEnv = "RMPI_NODE_ID";
inline constexpr const char* kJobSecretEnv = "RMPI_JOB_SECRET";
inline constexpr const char* kRendezvousEnv = "RMPI_RENDEZVOUS";
inline constexpr const char* kAdvertiseEnv = "RMPI_ADVERTISE";
inline constexpr const char* kIfaceEnv = "RMPI_IFACE";
inline constexpr const char* kPortRangeEnv = "RMPI_PORT_RANGE";
inline constexpr const char* kJobIdEnv = "RMPI_JOB_ID";
inline constexpr const char* kSpinEnv = "RMPI_SPIN_US";
inline constexpr const char* kInitTimeoutEnv = "RMPI_INIT_TIMEOUT";
inline constexpr const char* kYieldWhenIdleEnv = "RMPI_YIELD_WHEN_IDLE";

/// The parsed launch environment of one rank.
struct LaunchEnv {
  int rank = 0;
  int size = 1;
  int local_rank = 0;
  int local_size = 1;
  std::string node_id = "0";
  std::string secret;
  std::string rendezvous_host;
  std::uint16_t rendezvous_port = 0;
  std::string advertise = "127.0.0.1";
  int port_first = 0;  // 0 = any free port
  int port_last = 0;
  std::string job_id;
  std::chrono::microseconds spin{50};
  std::chrono::seconds init_timeout{60};
  std::optional<bool> yield_when_idle;  // unset: the rank decides
};

/// Reads the process environment; throws rmpi::ConfigError naming the
/// variable that is missing or malformed.
LaunchEnv read_launch_env();

/// The variables that describe `env` (for launchers building a child's
/// environment); optional ones are included only when they differ from the
/// defaults.
std::map<std::string, std::string> launch_env_vars(const LaunchEnv& env);

}  // namespace rmpi

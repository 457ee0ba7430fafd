#pragma once
/// Starting and ending an rmpi job in a program launched by `rmpirun` (or any
/// launcher that sets the environment of rmpi/launch_env.hpp).
#include <rmpi/comm.hpp>

namespace rmpi {

struct LaunchEnv;

/// Reads the launch environment, exchanges addresses through the job's
/// rendezvous, connects every pair of ranks once (a local socket between
/// ranks of one node, TCP otherwise), proves the job secret on each
/// connection, and returns the world communicator once the mesh is up.
/// Throws rmpi::ConfigError for a bad environment and rmpi::ConnectError
/// naming the rank, host and port of a peer that cannot be reached.
/// Calling it again returns the same world.
Comm init(int& argc, char**& argv);

/// Shuts the mesh down cleanly: flushes queued sends, tells every peer it is
/// done, and waits until every peer has said the same (so a rank that ends
/// first never makes another's last receive fail); idempotent.
/// Communicators cannot be used afterwards. If not called, process exit
/// (a return from main, std::exit) hands over what was sent (bounded by
/// RMPI_DETECT_TIMEOUT) and goes at once, without waiting for the peers.
void finish();

/// True between a successful init and finish.
bool initialized();

namespace detail {
/// What both inits share: builds the mesh described by `env` (once per
/// process) and returns the world communicator.
Comm init_from(const LaunchEnv& env);
}  // namespace detail

}  // namespace rmpi

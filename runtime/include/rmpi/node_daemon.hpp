#pragma once
/// The node daemon (the reference's node% in a process of its own): what
/// `rmpi-node` runs. It listens, prints "RMPI-NODE <port> [<address>]" on
/// stdout once listening, and serves the router protocol until told to exit,
/// until its parent link (or, over ssh, its stdin) drops, or a signal.
#include <cstddef>
#include <functional>
#include <string>

#include <rmpi/node_defaults.hpp>

namespace rmpi::places {

struct NodeDaemonOptions {
  int listen_port = kDefaultRouterPort;    // 0 = a free port
  // Address to bind; empty: the advertised address if there is one, else
  // 127.0.0.1. Every interface ("0.0.0.0", "::") only when asked.
  std::string listen_address;
  bool parent_link = false;     // the first spawner is the parent: exit when it goes
  double parent_timeout = 60;   // seconds for the parent to connect (with parent_link)
  bool secret_stdin = false;    // job secret from stdin's first line, else RMPI_JOB_SECRET
  std::string advertise;        // address for peers; default: SSH_CONNECTION's server address
  double kill_grace = 1;        // seconds between SIGTERM and SIGKILL for children
  // Connections in their handshake at once (0: RMPI_MAX_UNAUTHENTICATED, default 256).
  std::size_t max_unauthenticated = 0;
  // Milliseconds a peer has to authenticate (0: RMPI_HANDSHAKE_TIMEOUT_MS, default 10000).
  long handshake_timeout_ms = 0;
  // What the node tells spawners about its host (ProcessHost::host_facts), asked at each
  // spawner's Hello; opaque here. Empty = nothing.
  std::function<std::string()> host_facts;
};

/// Runs the daemon in this process and exits the process with its status
/// (0 after a requested exit, 128+n after signal n, 1 when it cannot listen,
/// 2 without a job secret). Errors are one line on stderr.
[[noreturn]] void run_node_daemon(const NodeDaemonOptions& options);

}  // namespace rmpi::places

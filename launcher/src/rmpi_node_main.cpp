// rmpi-node: the node daemon, started by a spawner directly or through ssh.
// This file only parses options; the daemon is rmpi::places::run_node_daemon.
#include <cstdlib>
#include <filesystem>
#include <iostream>

#include <boost/program_options.hpp>

#include <rmpi/interface_address.hpp>
#include <rmpi/launcher/topology.hpp>
#include <rmpi/node_daemon.hpp>

namespace po = boost::program_options;

int main(int argc, char** argv) {
  rmpi::places::NodeDaemonOptions o;
  po::options_description desc(
      "Usage: rmpi-node [options]\n"
      "The rmpi node daemon: runs places and processes for a spawner.\n"
      "The job secret comes from RMPI_JOB_SECRET or, with --secret-stdin, from the\n"
      "first line of standard input (never from the command line).\n\nOptions");
  desc.add_options()("help,h", "show this help")(
      "listen-port", po::value<int>(&o.listen_port),
      "TCP port of the router (default 6340; 0 picks a free port)")(
      "listen-address", po::value<std::string>(&o.listen_address),
      "address to bind (default: the advertised address, else 127.0.0.1; 0.0.0.0 binds "
      "every interface)")(
      "parent-link",
      "the first spawner connection is this node's parent: exit (ending every child) when it "
      "drops, and die with the process that started the node")(
      "parent-timeout", po::value<double>(&o.parent_timeout),
      "with --parent-link: exit if no parent connects within this many seconds (default 60)")(
      "secret-stdin", "read the job secret from the first line of standard input")(
      "advertise", po::value<std::string>(&o.advertise),
      "address to tell peers (default: the address the ssh connection reached)")(
      "kill-grace", po::value<double>(&o.kill_grace),
      "seconds between SIGTERM and SIGKILL when ending children (default 1)")(
      "max-unauthenticated", po::value<std::size_t>(&o.max_unauthenticated),
      "connections in their job-secret handshake at once; past it a new one is closed at once "
      "(default: RMPI_MAX_UNAUTHENTICATED, else 256)")(
      "handshake-timeout", po::value<long>(&o.handshake_timeout_ms),
      "milliseconds a peer has to prove the job secret (default: RMPI_HANDSHAKE_TIMEOUT_MS, else "
      "10000)")(
      "check-iface", po::value<std::string>(),
      "exit 1 with one line on stderr, before the node is up, unless this --iface (interface, "
      "subnet or address) resolves on this host");
  po::variables_map vm;
  try {
    po::store(po::parse_command_line(argc, argv, desc), vm);
    po::notify(vm);
  } catch (const std::exception& e) {
    std::cerr << "rmpi-node: " << e.what() << "\n";
    return 2;
  }
  if (vm.count("help")) {
    std::cout << desc << "\n";
    return 0;
  }
  if (vm.count("check-iface")) {
    const rmpi::InterfaceLookup found = rmpi::lookup_interface_address(vm["check-iface"].as<std::string>());
    if (!found.error.empty()) {
      std::cerr << "--iface: " << found.error << "\n";
      return 1;
    }
  }
  // What this node starts (ranks, places) spawns nodes of its own with this same rmpi-node,
  // wherever it is installed: a program built with pkg-config knows no install prefix, and
  // rmpirun's PATH need not hold one.
  std::error_code self_error;
  const auto self = std::filesystem::read_symlink("/proc/self/exe", self_error);
  if (!self_error) ::setenv("RMPI_NODE_PATH", self.c_str(), 0);
  o.parent_link = vm.count("parent-link") > 0;
  o.secret_stdin = vm.count("secret-stdin") > 0;
  // Spawners map and bind ranks from this host's topology, read at the first spawner's Hello
  // (not here: the node must have one thread when it starts, for its watchdog's fork). Without
  // it they can still run unbound jobs, and say why when asked to bind.
  o.host_facts = [] {
    static const std::string xml = [] {
      try {
        return rmpi::launcher::Topology::of_this_host().to_xml();
      } catch (const std::exception&) {
        return std::string();
      }
    }();
    return xml;
  };
  rmpi::places::run_node_daemon(o);
}

// Starting rmpi-node: directly (fork/exec) for the local host, through ssh
// for any other. The job secret goes in the environment (local) or on ssh's
// stdin (--secret-stdin), never argv. The node prints "RMPI-NODE <port>
// [<address>]" once it listens; after that line its stdout and stderr (and
// so its places' output) are copied to ours unchanged. At exit, every node
// this program started is told to exit and waited for (bounded), so nothing
// outlives the program.
#include <cstdlib>
#include <filesystem>
#include <future>
#include <iostream>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include <rmpi/error.hpp>

#include "node_launch.hpp"
#include "remote_impl.hpp"

namespace rmpi::places {

namespace {

std::mutex nodes_mu;
std::vector<std::weak_ptr<RemoteNode::Impl>>* spawned_nodes = nullptr;

void end_spawned_nodes() {
  std::vector<std::shared_ptr<RemoteNode::Impl>> live;
  {
    std::lock_guard lock(nodes_mu);
    if (!spawned_nodes) return;
    for (auto& w : *spawned_nodes)
      if (auto n = w.lock()) live.push_back(n);
    spawned_nodes->clear();
  }
  std::vector<std::thread> enders;
  for (auto& n : live) enders.emplace_back([n] { n->exit_node(std::chrono::seconds(3)); });
  for (auto& t : enders) t.join();
  std::cout.flush();
  detail::drain_node_output(std::chrono::seconds(2));
}

}  // namespace

}  // namespace rmpi::places

/// The bin directory of the installed rmpi a program was built against, wherever that tree is
/// now: defined in each program by the installed CMake package (cmake/rmpiConfig.cmake.in);
/// null elsewhere (the build tree, pkg-config builds).
extern "C" [[gnu::weak]] const char* rmpi_installed_bindir();

namespace rmpi::places {

std::string node_path() {
  if (const char* p = std::getenv("RMPI_NODE_PATH"); p && *p) return p;
  std::error_code ec;
  const auto self = std::filesystem::read_symlink("/proc/self/exe", ec);
  if (!ec) {
    const auto beside = self.parent_path() / "rmpi-node";
    if (std::filesystem::exists(beside, ec)) return beside.string();
  }
  // The library's own install prefix: where the CMake package says, else where it was
  // configured to go.
  const std::filesystem::path bindir =
      rmpi_installed_bindir != nullptr ? rmpi_installed_bindir() : RMPI_INSTALL_BINDIR;
  if (const auto installed = bindir / "rmpi-node"; std::filesystem::exists(installed, ec))
    return installed.string();
  return "rmpi-node";  // searched in PATH when started
}

std::string distributed_launch_path() { return node_path(); }

std::string build_distributed_launch_path(const std::string& prefix) {
  return (std::filesystem::path(prefix) / "bin" / "rmpi-node").string();
}

void register_spawned_node(const std::shared_ptr<RemoteNode::Impl>& node) {
  std::lock_guard lock(nodes_mu);
  if (!spawned_nodes) {
    spawned_nodes = new std::vector<std::weak_ptr<RemoteNode::Impl>>();  // leaked: used at exit
    std::atexit(end_spawned_nodes);
  }
  spawned_nodes->push_back(node);
}

void start_node_process(RemoteNode::Impl& node, const NodeOptions& o) {
  detail::NodeLaunchOptions lo;
  lo.node_path = o.launch_path.empty() ? o.node_path : o.launch_path;
  lo.ssh_path = o.ssh_path;
  lo.ssh_args = o.ssh_args;
  lo.prefix = o.prefix;
  lo.listen_port = static_cast<std::uint16_t>(o.listen_port);
  lo.start_timeout = o.connect_timeout;
  // What places print comes out on our own stdout and stderr, unchanged.
  lo.output = o.use_current_ports ? detail::NodeOutput::raw_stdout_only : detail::NodeOutput::raw;
  const detail::LaunchedNode launched = detail::launch_node(node.host, lo);
  NodeProcess proc;
  proc.pid = launched.child.pid;
  proc.stdin_fd = launched.child.stdin_fd;
  proc.exited = std::make_shared<std::promise<void>>();
  proc.exited_future = proc.exited->get_future().share();
  detail::watch_child(proc.pid, [p = proc.exited](detail::ExitStatus) { p->set_value(); });
  node.port = launched.port;
  node.address = launched.address;
  node.process = proc;
}

}  // namespace rmpi::places

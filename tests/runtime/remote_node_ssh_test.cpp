// spawn_remote_node over SSH: the same code path as a local node, with the
// node started by ssh (secret on stdin) on the fixture's host aliases.
#include <rmpi/remote_node.hpp>

#include <doctest/doctest.h>

#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <future>
#include <string>

#include <rmpi/error.hpp>
#include <rmpi/place.hpp>

#include "remote_test_helpers.hpp"
#include "ssh_fixture.hpp"
#include "test_places.hpp"

namespace rp = rmpi::places;
using rp::Value;
namespace {

/// Says its node's pid (its parent's), then echoes.
void says_node_pid(rp::PlaceChannel ch) {
  ch.put(static_cast<int>(::getppid()));
  for (;;) ch.put(ch.get<Value>());
}
RMPI_PLACE(says_node_pid);

const bool place_mode = rp::init_at_startup();

/// (parent pid, command name) of `pid` from /proc.
std::pair<pid_t, std::string> parent_and_name(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string stat((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const auto open = stat.find('('), close = stat.rfind(')');
  if (open == std::string::npos || close == std::string::npos) return {0, ""};
  const std::string name = stat.substr(open + 1, close - open - 1);
  pid_t ppid = 0;
  char state = 0;
  std::sscanf(stat.c_str() + close + 2, "%c %d", &state, &ppid);
  return {ppid, name};
}

/// The sshd process of the session that runs `pid` (the first sshd above it).
pid_t sshd_session_of(pid_t pid) {
  for (int depth = 0; depth < 8 && pid > 1; ++depth) {
    auto [ppid, name] = parent_and_name(pid);
    if (name.rfind("sshd", 0) == 0) return pid;
    pid = ppid;
  }
  return -1;
}


}  // namespace

TEST_CASE("a node spawned over ssh runs a place and exits on request") {
  (void)place_mode;
  rmpi::testing::SshFixture ssh;
  rp::NodeOptions o;
  o.listen_port = 0;
  o.node_path = RMPI_NODE_EXE;
  o.ssh_args = ssh.ssh_args();
  o.connect_timeout = std::chrono::seconds(20);
  auto nodes = rp::spawn_nodes_join({{"host1", o}, {"host2", o}});
  REQUIRE(nodes.size() == 2);
  for (auto& node : nodes) {
    CHECK(node.get_log_prefix() == "PLACE " + node.address() + ":" + std::to_string(node.port()));
    auto c = rp::supervise_place_at(node, rp::executable_path(), "echo");
    c.put(rp::list(rp::sym("via"), node.host()));
    auto back = c.get_for<Value>(std::chrono::seconds(20));
    REQUIRE(back.has_value());
    CHECK(*back == rp::list(rp::sym("via"), node.host()));
    c.put(rp::sym("stop"));
    CHECK(c.wait() == 0);
    node.send_exit();
  }
}

TEST_CASE("a host that ssh cannot reach is a SpawnError naming it") {
  rmpi::testing::SshFixture ssh;
  rp::NodeOptions o;
  o.listen_port = 0;
  o.node_path = RMPI_NODE_EXE;
  o.ssh_args = ssh.ssh_args();
  o.ssh_args.insert(o.ssh_args.end(), {"-o", "ConnectTimeout=5"});
  o.connect_timeout = std::chrono::seconds(20);
  try {
    rp::spawn_remote_node("no-such-host.invalid", o);
    FAIL("spawn_remote_node did not throw");
  } catch (const rmpi::SpawnError& e) {
    CHECK(std::string(e.what()).find("no-such-host.invalid") != std::string::npos);
  }
}

TEST_CASE("kill -9 of the sshd session of a node: an event naming host:port; node and place end") {
  rmpi::testing::SshFixture ssh;
  rp::NodeOptions o;
  o.listen_port = 0;
  o.node_path = RMPI_NODE_EXE;
  o.ssh_args = ssh.ssh_args();
  o.connect_timeout = std::chrono::seconds(20);
  auto node = rp::spawn_remote_node("host1", o);
  const std::string where = rmpi::testing::node_address(node);
  std::promise<std::string> lost;
  node.set_on_lost([&](const std::string& reason) { lost.set_value(reason); });
  auto c = rp::supervise_place_at(node, rp::executable_path(), "says_node_pid");
  auto node_pid = c.get_for<int>(std::chrono::seconds(20));
  REQUIRE(node_pid.has_value());
  const pid_t session = sshd_session_of(*node_pid);
  REQUIRE(session > 1);
  REQUIRE(::kill(session, SIGKILL) == 0);
  auto f = lost.get_future();
  REQUIRE(f.wait_for(std::chrono::seconds(20)) == std::future_status::ready);
  CHECK(f.get().find(where) != std::string::npos);
  // The place ends with its node: reported as its exit (the node saw its
  // session go and ended it) or as the lost link, never a hang.
  auto ended = std::async(std::launch::async, [c]() mutable {
    try {
      return c.wait();
    } catch (const rmpi::ChannelClosed&) {
      return -1;
    }
  });
  CHECK(ended.wait_for(std::chrono::seconds(20)) == std::future_status::ready);
  CHECK(rmpi::testing::process_gone(*node_pid));
}

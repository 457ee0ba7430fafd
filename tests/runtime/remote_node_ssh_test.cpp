// spawn_remote_node over SSH: the same code path as a local node, with the
// node started by ssh (secret on stdin) on the fixture's host aliases.
#include <rmpi/remote_node.hpp>

#include <doctest/doctest.h>

#include <chrono>
#include <string>

#include <rmpi/error.hpp>
#include <rmpi/place.hpp>

#include "ssh_fixture.hpp"
#include "test_places.hpp"

namespace rp = rmpi::places;
using rp::Value;
namespace {

const bool place_mode = rp::init_at_startup();

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

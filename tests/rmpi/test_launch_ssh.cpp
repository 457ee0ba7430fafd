// rmpi::launch across the SSH fixture's hosts: nodes started by ssh, ranks on
// different hosts connected over TCP, ranks on one host over local sockets.
#include <doctest/doctest.h>

#include <chrono>
#include <cstdint>

#include <rmpi/launch.hpp>
#include <rmpi/places.hpp>
#include <rmpi/rmpi.hpp>

#include "ssh_fixture.hpp"

namespace rp = rmpi::places;

namespace {

// Every rank contributes (rank + 1) and the host count it was given; rank 0
// reports (sum s) to the launcher before finishing.
void remote_sum_worker(rp::PlaceChannel ch) {
  auto [comm, args, tc] = rmpi::init(ch);
  const std::int64_t total = rmpi::allreduce(comm, rmpi::op::sum, args[0].as_int() * (comm.id() + 1));
  if (comm.id() == 0) tc.channel().put(rp::list(rp::sym("sum"), total));
  rmpi::finish(comm, tc);
}
RMPI_PLACE(remote_sum_worker);

const bool place_mode = rp::init_at_startup();

}  // namespace

TEST_CASE("launch over ssh: 2 ranks on each of host1 and host2") {
  (void)place_mode;
  rmpi::testing::SshFixture ssh;
  auto config = rmpi::build_default_config({.node_path = RMPI_NODE_EXE,
                                            .mpi_func = "remote_sum_worker",
                                            .mpi_args = rp::list(10),
                                            .ssh_args = ssh.ssh_args()});
  auto job = rmpi::launch(config, rmpi::make_remote_config({"host1", "host2"}, 2, 0, "r"), {.no_wait = true});
  REQUIRE(job.size() == 4);
  const auto msg = job.place(0).get_for<rp::Value>(std::chrono::seconds(30));
  REQUIRE(msg.has_value());
  CHECK(*msg == rp::list(rp::sym("sum"), 10 * (1 + 2 + 3 + 4)));
  job.wait();
  for (int i = 0; i < 4; ++i) CHECK(job.place(i).try_wait() == std::optional<int>(0));
}

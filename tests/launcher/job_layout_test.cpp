#include <rmpi/launcher/job_layout.hpp>

#include <doctest/doctest.h>

#include <rmpi/error.hpp>
#include <rmpi/launcher/host_list.hpp>

using rmpi::ConfigError;
using rmpi::launcher::LaunchSpec;
using rmpi::launcher::MapBy;
using rmpi::launcher::plan_job;
using rmpi::launcher::resolve_hosts;

namespace {

/// resolve_hosts with every host that takes its slots from its topology given `slots`.
std::vector<rmpi::launcher::HostEntry> hosts_with(const LaunchSpec& spec, int slots) {
  auto hosts = resolve_hosts(spec);
  for (auto& host : hosts)
    if (host.slot_source == rmpi::launcher::SlotSource::topology) host.slots = slots;
  return hosts;
}

}  // namespace

TEST_CASE("no hosts given: the local host, its slots from its topology") {
  LaunchSpec spec;
  const auto hosts = resolve_hosts(spec);
  REQUIRE(hosts.size() == 1);
  CHECK(hosts[0].name == "localhost");
  CHECK(hosts[0].slot_source == rmpi::launcher::SlotSource::topology);
  const auto layout = plan_job(spec, hosts_with(spec, 3));
  CHECK(layout.ranks.size() == 3);
  // More ranks than cores on the implicit local host run, as under MPICH's mpiexec.
  spec.np = 5;
  CHECK(plan_job(spec, hosts_with(spec, 2)).ranks.size() == 5);
  // --nooversubscribe gives Open MPI's refusal.
  spec.no_oversubscribe = true;
  CHECK_THROWS_WITH_AS(plan_job(spec, hosts_with(spec, 2)),
                       "5 ranks requested but only 2 slots: localhost (2); use "
                       "--oversubscribe or fewer ranks",
                       ConfigError);
}

TEST_CASE("a local host given with -H keeps its slot count: more ranks need --oversubscribe") {
  LaunchSpec spec;
  spec.host_list = rmpi::launcher::parse_host_list("localhost:2");
  spec.np = 5;
  CHECK_THROWS_WITH_AS(plan_job(spec, resolve_hosts(spec)),
                       "5 ranks requested but only 2 slots: localhost (2); use "
                       "--oversubscribe or fewer ranks",
                       ConfigError);
  spec.oversubscribe = true;
  CHECK(plan_job(spec, resolve_hosts(spec)).ranks.size() == 5);
}

TEST_CASE("np defaults to all slots of the hostfile or -H hosts") {
  LaunchSpec spec;
  spec.hostfile = std::filesystem::path(RMPI_HOSTFILES_DIR) / "four-hosts";
  const auto layout = plan_job(spec, resolve_hosts(spec));
  REQUIRE(layout.hosts.size() == 4);
  REQUIRE(layout.ranks.size() == 8);
  CHECK(layout.ranks[7].host_index == 3);

  LaunchSpec listed;
  listed.host_list = rmpi::launcher::parse_host_list("a:2,b");
  listed.map_by = MapBy::node;
  const auto by_node = plan_job(listed, resolve_hosts(listed));
  REQUIRE(by_node.ranks.size() == 3);
  CHECK(by_node.ranks[1].host_index == 1);
}

TEST_CASE("a hostfile and -H together are an error") {
  LaunchSpec spec;
  spec.hostfile = "hosts";
  spec.host_list = rmpi::launcher::parse_host_list("a");
  CHECK_THROWS_WITH_AS(resolve_hosts(spec), "use either --hostfile or --host, not both",
                       ConfigError);
}

TEST_CASE("-ppn N: every host takes N ranks, whatever its slots") {
  LaunchSpec spec;
  spec.hostfile = std::filesystem::path(RMPI_HOSTFILES_DIR) / "four-hosts";  // 2 slots each
  spec.ranks_per_host = 3;
  const auto layout = plan_job(spec, resolve_hosts(spec));
  REQUIRE(layout.ranks.size() == 12);
  for (int r = 0; r < 12; ++r) {
    CAPTURE(r);
    CHECK(layout.ranks[static_cast<std::size_t>(r)].host_index == r / 3);
    CHECK(layout.ranks[static_cast<std::size_t>(r)].local_size == 3);
  }
  spec.ranks_per_host = 1;
  spec.np = 5;
  CHECK_THROWS_AS(plan_job(spec, resolve_hosts(spec)), ConfigError);
  spec.np = 2;
  const auto two = plan_job(spec, resolve_hosts(spec));
  REQUIRE(two.ranks.size() == 2);
  CHECK(two.ranks[1].host_index == 1);
}

// Slot counts from the hosts' topologies (hwloc synthetic topologies, exported as the XML a node
// reports), then the mapping over them.
#include <rmpi/launcher/host_slots.hpp>

#include <doctest/doctest.h>

#include <map>
#include <set>
#include <string>

#include <rmpi/error.hpp>
#include <rmpi/launcher/binding.hpp>
#include <rmpi/launcher/host_list.hpp>
#include <rmpi/launcher/hostfile.hpp>
#include <rmpi/launcher/job_layout.hpp>

using rmpi::ConfigError;
using rmpi::launcher::fill_topology_slots;
using rmpi::launcher::hosts_needing_topology;
using rmpi::launcher::LaunchSpec;
using rmpi::launcher::MapBy;
using rmpi::launcher::parse_hostfile_text;
using rmpi::launcher::parse_map_by;
using rmpi::launcher::plan_job;
using rmpi::launcher::Topology;
using rmpi::launcher::topology_slots;

namespace {

const std::string kBig = "pack:2 core:4 pu:2";  // 8 cores, 16 hwthreads
const std::string kSmall = "pack:1 core:2 pu:1";  // 2 cores

std::string xml_of(const std::string& synthetic) { return Topology::from_synthetic(synthetic).to_xml(); }

void set_map_by(LaunchSpec& spec, const std::string& word) {
  rmpi::launcher::BindingPolicy policy;
  parse_map_by(word, policy);
  spec.map_by = policy.map_by;
  spec.ppr = policy.ppr;
}

/// A facts lookup serving `xml` by host index, recording which hosts were asked.
struct Facts {
  std::map<int, std::string> xml;
  std::set<int> asked;
  rmpi::launcher::HostFactsLookup lookup() {
    return [this](int host) {
      asked.insert(host);
      return xml.at(host);
    };
  }
};

}  // namespace

TEST_CASE("topology_slots: cores, hwthreads with --use-hwthread-cpus, N per resource with ppr") {
  const Topology big = Topology::from_synthetic(kBig);
  LaunchSpec spec;
  CHECK(topology_slots(big, spec) == 8);
  spec.use_hwthread_cpus = true;
  CHECK(topology_slots(big, spec) == 16);
  set_map_by(spec, "ppr:2:socket");
  CHECK(topology_slots(big, spec) == 4);
  set_map_by(spec, "ppr:3:core");
  CHECK(topology_slots(big, spec) == 24);
  set_map_by(spec, "ppr:1:node");
  CHECK(topology_slots(big, spec) == 1);
}

TEST_CASE("which hosts need their topology before mapping") {
  LaunchSpec spec;
  const auto hosts = parse_hostfile_text("a\nb slots=3\nc max_slots=2\n", "h");
  CHECK(hosts_needing_topology(spec, hosts) == std::vector<int>{0, 2});
  CHECK(hosts_needing_topology(spec, rmpi::launcher::parse_host_list("a,b,a")).empty());
  CHECK(hosts_needing_topology(spec, rmpi::launcher::resolve_hosts(spec)) == std::vector<int>{0});
  set_map_by(spec, "ppr:2:core");
  CHECK(hosts_needing_topology(spec, hosts) == std::vector<int>{0, 1, 2});
  spec.ranks_per_host = 2;  // -ppn decides every host's slots
  CHECK(hosts_needing_topology(spec, hosts).empty());
}

TEST_CASE("a hostfile line without slots= gets its node's core count, then the ranks map on it") {
  LaunchSpec spec;
  auto hosts = parse_hostfile_text("a\nb slots=3\nc max_slots=1\nd\n", "h");
  Facts facts{.xml = {{0, xml_of(kBig)}, {2, xml_of(kBig)}, {3, xml_of(kSmall)}}, .asked = {}};
  CHECK(fill_topology_slots(spec, hosts, facts.lookup()).empty());
  CHECK(facts.asked == std::set<int>{0, 2, 3});
  CHECK(hosts[0].slots == 8);
  CHECK(hosts[1].slots == 3);  // written: its topology is never read
  CHECK(hosts[2].slots == 1);  // its cores, but never above max_slots
  CHECK(hosts[3].slots == 2);
  const auto layout = plan_job(spec, hosts);
  REQUIRE(layout.ranks.size() == 14);
  CHECK(layout.ranks[7].host_index == 0);
  CHECK(layout.ranks[8].host_index == 1);
  CHECK(layout.ranks[11].host_index == 2);
  CHECK(layout.ranks[13].host_index == 3);
  CHECK(layout.ranks[13].local_size == 2);

  spec.use_hwthread_cpus = true;
  hosts = parse_hostfile_text("a\n", "h");
  CHECK(fill_topology_slots(spec, hosts, facts.lookup()).empty());
  CHECK(hosts[0].slots == 16);
  CHECK(plan_job(spec, hosts).ranks.size() == 16);
}

TEST_CASE("a node that reports no topology: 1 slot and one warning naming the host") {
  LaunchSpec spec;
  auto hosts = parse_hostfile_text("a\nbroken\n", "h");
  Facts facts{.xml = {{0, xml_of(kSmall)}, {1, ""}}, .asked = {}};
  const auto warnings = fill_topology_slots(spec, hosts, facts.lookup());
  REQUIRE(warnings.size() == 1);
  CHECK(warnings[0] ==
        "rmpirun: warning: broken (h:2): its node reported no topology, so it gets 1 slot; give "
        "its slots=N in the hostfile");
  CHECK(hosts[0].slots == 2);
  CHECK(hosts[1].slots == 1);
  facts.xml[1] = "<not hwloc xml";
  hosts = parse_hostfile_text("a\nbroken\n", "h");
  CHECK(fill_topology_slots(spec, hosts, facts.lookup()).size() == 1);
  CHECK(hosts[1].slots == 1);
  // ppr cannot fall back: N per RESOURCE of a host whose resources are unknown.
  set_map_by(spec, "ppr:1:core");
  hosts = parse_hostfile_text("a\nbroken\n", "h");
  CHECK_THROWS_WITH_AS(fill_topology_slots(spec, hosts, facts.lookup()),
                       doctest::Contains("broken"), ConfigError);
}

TEST_CASE("--map-by ppr:N:RESOURCE sets the ranks per host; a larger -n names hosts and counts") {
  LaunchSpec spec;
  set_map_by(spec, "ppr:2:socket");
  auto hosts = parse_hostfile_text("a slots=1\nb\n", "h");  // ppr places whatever the slots
  Facts facts{.xml = {{0, xml_of(kBig)}, {1, xml_of(kSmall)}}, .asked = {}};
  CHECK(fill_topology_slots(spec, hosts, facts.lookup()).empty());
  CHECK(hosts[0].slots == 4);
  CHECK(hosts[1].slots == 2);
  const auto layout = plan_job(spec, hosts);
  REQUIRE(layout.ranks.size() == 6);  // np = 2 x (2 + 1) packages
  CHECK(layout.ranks[3].host_index == 0);
  CHECK(layout.ranks[4].host_index == 1);

  spec.np = 3;  // fewer: the first host first
  const auto three = plan_job(spec, hosts);
  REQUIRE(three.ranks.size() == 3);
  CHECK(three.ranks[2].host_index == 0);

  spec.np = 7;
  CHECK_THROWS_WITH_AS(plan_job(spec, hosts),
                       "-n 7 is more than --map-by ppr:2:socket places: 6 (a: 2 per "
                       "socket x 2 = 4, b: 2 per socket x 1 = 2); use fewer ranks or more per "
                       "socket",
                       ConfigError);
  spec.oversubscribe = true;  // ppr is a hard limit
  CHECK_THROWS_AS(plan_job(spec, hosts), ConfigError);
}

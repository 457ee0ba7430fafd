#include <rmpi/launcher/mapping.hpp>

#include <doctest/doctest.h>

#include <map>
#include <string>
#include <vector>

#include <rmpi/error.hpp>

using rmpi::ConfigError;
using rmpi::launcher::HostEntry;
using rmpi::launcher::map_ranks;
using rmpi::launcher::MapBy;
using rmpi::launcher::RankPlacement;

namespace {

HostEntry host(std::string name, int slots, std::optional<int> max_slots = std::nullopt) {
  HostEntry e;
  e.name = name;
  e.host = std::move(name);
  e.slots = slots;
  e.max_slots = max_slots;
  e.origin = "test";
  return e;
}

/// host1 (2), host2 (1), host3 (3), host4 (2): 8 slots.
std::vector<HostEntry> four_hosts() {
  return {host("host1", 2), host("host2", 1), host("host3", 3), host("host4", 2)};
}

std::vector<int> host_indices(const std::vector<RankPlacement>& ranks) {
  std::vector<int> out;
  for (const auto& r : ranks) out.push_back(r.host_index);
  return out;
}

/// The placement fields that follow from the host indices, computed independently.
void check_consistent(const std::vector<HostEntry>& hosts, const std::vector<RankPlacement>& ranks,
                      bool oversubscribed) {
  std::map<int, int> per_host;
  for (const auto& r : ranks) ++per_host[r.host_index];
  std::map<int, int> seen;
  for (std::size_t i = 0; i < ranks.size(); ++i) {
    const auto& r = ranks[i];
    CHECK(r.rank == static_cast<int>(i));
    REQUIRE(r.host_index >= 0);
    REQUIRE(r.host_index < static_cast<int>(hosts.size()));
    CHECK(r.local_rank == seen[r.host_index]++);
    CHECK(r.local_size == per_host[r.host_index]);
    int node = 0;
    for (const auto& [h, n] : per_host) {
      if (h == r.host_index) break;
      if (n > 0) ++node;
    }
    CHECK(r.node_id == node);
  }
  for (const auto& [h, n] : per_host) {
    if (!oversubscribed) CHECK(n <= hosts[h].slots);
    if (hosts[h].max_slots) CHECK(n <= *hosts[h].max_slots);
  }
}

}  // namespace

TEST_CASE("--map-by slot fills each host's slots in order") {
  const auto hosts = four_hosts();
  const std::map<int, std::vector<int>> expected = {
      {1, {0}},
      {2, {0, 0}},
      {5, {0, 0, 1, 2, 2}},
      {8, {0, 0, 1, 2, 2, 2, 3, 3}},
  };
  for (const auto& [np, indices] : expected) {
    CAPTURE(np);
    const auto ranks = map_ranks(hosts, np, MapBy::slot, false);
    CHECK(host_indices(ranks) == indices);
    check_consistent(hosts, ranks, false);
  }
}

TEST_CASE("--map-by node round-robins over hosts with free slots") {
  const auto hosts = four_hosts();
  const std::map<int, std::vector<int>> expected = {
      {1, {0}},
      {2, {0, 1}},
      {5, {0, 1, 2, 3, 0}},
      {8, {0, 1, 2, 3, 0, 2, 3, 2}},
  };
  for (const auto& [np, indices] : expected) {
    CAPTURE(np);
    const auto ranks = map_ranks(hosts, np, MapBy::node, false);
    CHECK(host_indices(ranks) == indices);
    check_consistent(hosts, ranks, false);
  }
}

TEST_CASE("placements spelled out: 5 ranks by slot") {
  const auto ranks = map_ranks(four_hosts(), 5, MapBy::slot, false);
  const std::vector<RankPlacement> expected = {
      {0, 0, 0, 2, 0}, {1, 0, 1, 2, 0}, {2, 1, 0, 1, 1}, {3, 2, 0, 2, 2}, {4, 2, 1, 2, 2},
  };
  CHECK(ranks == expected);
}

TEST_CASE("placements spelled out: 5 ranks by node") {
  const auto ranks = map_ranks(four_hosts(), 5, MapBy::node, false);
  const std::vector<RankPlacement> expected = {
      {0, 0, 0, 2, 0}, {1, 1, 0, 1, 1}, {2, 2, 0, 1, 2}, {3, 3, 0, 1, 3}, {4, 0, 1, 2, 0},
  };
  CHECK(ranks == expected);
}

TEST_CASE("more ranks than slots without --oversubscribe lists every host and its slots") {
  CHECK_THROWS_WITH_AS(map_ranks({host("host1", 2), host("host2", 4)}, 8, MapBy::slot, false),
                       "8 ranks requested but only 6 slots: host1 (2), host2 (4); use "
                       "--oversubscribe or fewer ranks",
                       ConfigError);
  CHECK_THROWS_WITH_AS(map_ranks(four_hosts(), 9, MapBy::node, false),
                       "9 ranks requested but only 8 slots: host1 (2), host2 (1), "
                       "host3 (3), host4 (2); use --oversubscribe or fewer ranks",
                       ConfigError);
}

TEST_CASE("--oversubscribe by slot spreads extra ranks in proportion to slots") {
  const std::vector<HostEntry> hosts = {host("host1", 2), host("host2", 4)};
  CHECK(host_indices(map_ranks(hosts, 8, MapBy::slot, true)) ==
        std::vector<int>{0, 0, 0, 1, 1, 1, 1, 1});
  const auto twelve = map_ranks(hosts, 12, MapBy::slot, true);
  CHECK(host_indices(twelve) == std::vector<int>{0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1});
  check_consistent(hosts, twelve, true);
  const auto seventeen = map_ranks(four_hosts(), 17, MapBy::slot, true);
  check_consistent(four_hosts(), seventeen, true);
  // 17 = 2 x 8 + 1: twice the slots (4, 2, 6, 4), then host1 again; ranks stay contiguous.
  CHECK(seventeen[0].local_size == 5);
  CHECK(seventeen[5].local_size == 2);
  CHECK(seventeen[7].local_size == 6);
  CHECK(seventeen[16].local_size == 4);
  CHECK(seventeen[16].host_index == 3);
}

TEST_CASE("--oversubscribe by node keeps round-robin") {
  const std::vector<HostEntry> hosts = {host("host1", 2), host("host2", 4)};
  const auto ranks = map_ranks(hosts, 8, MapBy::node, true);
  CHECK(host_indices(ranks) == std::vector<int>{0, 1, 0, 1, 1, 1, 0, 1});
  check_consistent(hosts, ranks, true);
  const auto single = map_ranks({host("solo", 1)}, 3, MapBy::node, true);
  CHECK(host_indices(single) == std::vector<int>{0, 0, 0});
  CHECK(single[2].local_rank == 2);
  CHECK(single[2].local_size == 3);
}

TEST_CASE("--oversubscribe never goes beyond max_slots") {
  const std::vector<HostEntry> capped = {host("h1", 2, 3), host("h2", 2, 2)};
  CHECK(host_indices(map_ranks(capped, 5, MapBy::slot, true)) == std::vector<int>{0, 0, 0, 1, 1});
  CHECK(host_indices(map_ranks(capped, 5, MapBy::node, true)) == std::vector<int>{0, 1, 0, 1, 0});
  for (const auto map_by : {MapBy::slot, MapBy::node}) {
    CHECK_THROWS_WITH_AS(map_ranks(capped, 6, map_by, true),
                         "6 ranks requested but max_slots allows only 5: h1 (3), h2 (2); "
                         "use fewer ranks",
                         ConfigError);
  }
  const std::vector<HostEntry> one_capped = {host("h1", 2, 2), host("h2", 1)};
  CHECK(host_indices(map_ranks(one_capped, 6, MapBy::slot, true)) ==
        std::vector<int>{0, 0, 1, 1, 1, 1});
  CHECK(host_indices(map_ranks(one_capped, 6, MapBy::node, true)) ==
        std::vector<int>{0, 1, 0, 1, 1, 1});
}

TEST_CASE("bad rank counts and empty host lists are errors") {
  CHECK_THROWS_WITH_AS(map_ranks(four_hosts(), 0, MapBy::slot, false),
                       "the number of ranks must be at least 1, not 0", ConfigError);
  CHECK_THROWS_WITH_AS(map_ranks({}, 1, MapBy::slot, false), "no hosts to run on",
                       ConfigError);
}

TEST_CASE("to_string(MapBy)") {
  CHECK(to_string(MapBy::slot) == "slot");
  CHECK(to_string(MapBy::node) == "node");
}

// Mapping and binding against hwloc synthetic topologies: every mapping x binding x rank count
// up to 64 on machines far larger than the test machine, checked against cpusets computed here
// by arithmetic on the synthetic description (hwloc numbers a synthetic machine's PUs in order).
#include <doctest/doctest.h>

#include <optional>
#include <string>
#include <vector>

#include <rmpi/error.hpp>
#include <rmpi/launcher/binding.hpp>
#include <rmpi/launcher/topology.hpp>

namespace {

using namespace rmpi::launcher;

/// A symmetric machine: packages x NUMA nodes per package x L3s per NUMA node (0 = no L3
/// level) x cores per L3 (or NUMA node) x PUs per core.
struct Shape {
  int packages, numas, l3s, cores, pus;
  std::string synthetic() const {
    return "pack:" + std::to_string(packages) + " numa:" + std::to_string(numas) +
           (l3s ? " l3:" + std::to_string(l3s) : "") + " core:" + std::to_string(cores) +
           " pu:" + std::to_string(pus);
  }
  int l3_per_numa() const { return l3s ? l3s : 1; }
  int total_cores() const { return packages * numas * l3_per_numa() * cores; }
  int total_pus() const { return total_cores() * pus; }
  /// PUs in one object of `r`; 0 when the machine has no such object.
  int pus_in(Resource r) const {
    switch (r) {
      case Resource::hwthread: return 1;
      case Resource::core: return pus;
      case Resource::l3cache: return l3s ? cores * pus : 0;
      case Resource::numa: return l3_per_numa() * cores * pus;
      case Resource::socket: return numas * l3_per_numa() * cores * pus;
      case Resource::node: return total_pus();
    }
    return 0;
  }
};

/// The expected CPUs of each local rank, or nullopt when the request must be refused.
std::optional<std::vector<CpuList>> expected(const Shape& m, const BindingPolicy& p, int n) {
  const bool by_pu = p.bind_to == BindTo::hwthread;
  const int unit_pus = by_pu ? 1 : m.pus;
  const int units = m.total_pus() / unit_pus;
  const int c = p.cpus_per_rank;
  if (c > units) return std::nullopt;
  Resource domain = Resource::node;
  if (p.map_by == MapBy::socket) domain = Resource::socket;
  if (p.map_by == MapBy::numa) domain = Resource::numa;
  if (p.map_by == MapBy::ppr) domain = p.ppr.resource;
  if (m.pus_in(domain) == 0) return std::nullopt;
  const int domains = m.total_pus() / m.pus_in(domain);
  const int per_domain = m.pus_in(domain) >= unit_pus ? m.pus_in(domain) / unit_pus : 0;
  std::vector<int> domain_of(n), first(n);
  if (p.map_by == MapBy::ppr) {
    const int cap = p.ppr.count * domains;
    if (n > cap && !p.oversubscribe) return std::nullopt;
    for (int i = 0; i < n; ++i) {
      domain_of[i] = (i % cap) / p.ppr.count;
      first[i] = ((i / cap) * p.ppr.count + (i % cap) % p.ppr.count) * c;
    }
  } else {
    for (int i = 0; i < n; ++i) {
      domain_of[i] = i % domains;
      first[i] = (i / domains) * c;
    }
  }
  if (p.bind_to == BindTo::none) return std::vector<CpuList>(n);
  std::vector<int> count(domains, 0);
  for (int i = 0; i < n; ++i) ++count[domain_of[i]];
  for (int d = 0; d < domains; ++d) {
    if (count[d] == 0) continue;
    if (per_domain == 0) return std::nullopt;
    if (count[d] * c > per_domain && !p.oversubscribe) return std::nullopt;
  }
  int wide_pus = 0;  // PUs of the object bound to beyond the units themselves
  if (p.bind_to == BindTo::l3cache) wide_pus = m.pus_in(Resource::l3cache);
  if (p.bind_to == BindTo::numa) wide_pus = m.pus_in(Resource::numa);
  if (p.bind_to == BindTo::socket) wide_pus = m.pus_in(Resource::socket);
  const bool wide = p.bind_to == BindTo::l3cache || p.bind_to == BindTo::numa || p.bind_to == BindTo::socket;
  if (wide && wide_pus == 0) return std::nullopt;
  std::vector<CpuList> result(n);
  for (int i = 0; i < n; ++i) {
    std::vector<bool> in(m.total_pus(), false);
    for (int k = 0; k < c; ++k) {
      const int unit = domain_of[i] * per_domain + (first[i] + k) % per_domain;
      for (int pu = unit * unit_pus; pu < (unit + 1) * unit_pus; ++pu) {
        if (!wide) {
          in[pu] = true;
          continue;
        }
        const int start = pu / wide_pus * wide_pus;
        for (int q = start; q < start + wide_pus; ++q) in[q] = true;
      }
    }
    for (int pu = 0; pu < m.total_pus(); ++pu)
      if (in[pu]) result[i].push_back(static_cast<unsigned>(pu));
  }
  return result;
}

std::string describe(const BindingPolicy& p) {
  std::string map = std::string(to_string(p.map_by));
  if (p.map_by == MapBy::ppr) map += ":" + std::to_string(p.ppr.count) + ":" + std::string(to_string(p.ppr.resource));
  return "--map-by " + map + " --bind-to " + std::string(to_string(p.bind_to)) + " --cpus-per-rank " +
         std::to_string(p.cpus_per_rank) + (p.oversubscribe ? " --oversubscribe" : "");
}

}  // namespace

TEST_CASE("binding: every mapping x binding x rank count up to 64 on synthetic machines") {
  const std::vector<Shape> shapes = {
      {2, 2, 0, 8, 2},  // pack:2 numa:2 core:8 pu:2: 32 cores, 64 PUs
      {1, 1, 0, 3, 1},  // 3 cores, nothing shared
      {2, 1, 2, 3, 2},  // L3s of 3 cores
      {3, 1, 0, 2, 3},  // odd: 3 packages of 2 cores of 3 PUs
  };
  std::vector<BindingPolicy> maps;
  for (const auto m : {MapBy::slot, MapBy::node, MapBy::core, MapBy::numa, MapBy::socket}) {
    BindingPolicy p;
    p.map_by = m;
    maps.push_back(p);
  }
  for (const RanksPerResource ppr : {RanksPerResource{1, Resource::core}, {2, Resource::socket},
                                      {3, Resource::numa}, {1, Resource::hwthread},
                                      {4, Resource::node}, {2, Resource::l3cache}}) {
    BindingPolicy p;
    p.map_by = MapBy::ppr;
    p.ppr = ppr;
    maps.push_back(p);
  }
  int cases = 0, refused = 0;
  for (const auto& shape : shapes) {
    const Topology topology = Topology::from_synthetic(shape.synthetic());
    REQUIRE(topology.count(Resource::hwthread) == shape.total_pus());
    for (auto policy : maps) {
      for (const auto bind : {BindTo::none, BindTo::hwthread, BindTo::core, BindTo::l3cache,
                              BindTo::numa, BindTo::socket}) {
        for (const int c : {1, 2, 5}) {
          for (const bool over : {false, true}) {
            policy.bind_to = bind;
            policy.cpus_per_rank = c;
            policy.oversubscribe = over;
            for (int n = 1; n <= 64; ++n) {
              ++cases;
              const auto want = expected(shape, policy, n);
              std::optional<std::vector<CpuList>> got;
              try {
                got = bind_local_ranks(topology, policy, n, "synthetic");
              } catch (const rmpi::ConfigError&) {
              }
              if (!want) ++refused;
              if (got != want) {
                INFO(shape.synthetic() << " " << describe(policy) << " -n " << n << ": "
                                       << (want ? "expected cpusets" : "expected an error") << ", got "
                                       << (got ? "cpusets" : "an error"));
                if (got && want)
                  for (int i = 0; i < n; ++i)
                    if ((*got)[i] != (*want)[i])
                      INFO("local rank " << i << ": got " << cpu_list_text((*got)[i]) << ", want "
                                         << cpu_list_text((*want)[i]));
                FAIL_CHECK("mismatch");
                return;
              }
            }
          }
        }
      }
    }
  }
  CHECK(cases == 4 * 11 * 6 * 3 * 2 * 64);
  CHECK(refused > 0);  // the refusals are exercised, not only the bindings
  CHECK(cases - refused > 40000);  // and most of the rest bind
}

TEST_CASE("binding: concrete cpusets on pack:2 numa:2 core:8 pu:2") {
  const Topology t = Topology::from_synthetic("pack:2 numa:2 core:8 pu:2");
  BindingPolicy p;
  p.bind_to = BindTo::core;
  CHECK(bind_local_ranks(t, p, 2, "h") == std::vector<CpuList>{{0, 1}, {2, 3}});
  p.map_by = MapBy::socket;
  CHECK(bind_local_ranks(t, p, 2, "h") == std::vector<CpuList>{{0, 1}, {32, 33}});
  p.bind_to = BindTo::numa;
  p.map_by = MapBy::slot;
  const auto numa = bind_local_ranks(t, p, 9, "h");
  CHECK(cpu_list_text(numa[0]) == "0-15");
  CHECK(cpu_list_text(numa[8]) == "16-31");
  CHECK(cpu_bitmap_text(numa[8]) == "0xffff0000");
  p.bind_to = BindTo::hwthread;
  p.cpus_per_rank = 3;
  CHECK(cpu_list_text(bind_local_ranks(t, p, 2, "h")[1]) == "3-5");
}

TEST_CASE("binding: bad input is one line naming the host and the counts") {
  const Topology t = Topology::from_synthetic("pack:1 core:2 pu:1");
  BindingPolicy p;
  p.bind_to = BindTo::core;
  CHECK_THROWS_WITH_AS(bind_local_ranks(t, p, 3, "vm1"),
                       "--bind-to core: host vm1 has 2 cores but 3 ranks need 3 cores; use "
                       "--oversubscribe, fewer ranks or --bind-to none",
                       rmpi::ConfigError);
  p.oversubscribe = true;
  CHECK(bind_local_ranks(t, p, 3, "vm1") == std::vector<CpuList>{{0}, {1}, {0}});
  p.cpus_per_rank = 3;
  CHECK_THROWS_WITH_AS(bind_local_ranks(t, p, 1, "vm1"),
                       "--cpus-per-rank 3 is more than the 2 cores of host vm1",
                       rmpi::ConfigError);
  p = {};
  p.bind_to = BindTo::l3cache;
  CHECK_THROWS_WITH_AS(bind_local_ranks(t, p, 1, "vm1"),
                       "--bind-to l3cache: host vm1 has no l3cache", rmpi::ConfigError);
  p = {};
  p.map_by = MapBy::ppr;
  p.ppr = {1, Resource::core};
  CHECK_THROWS_WITH_AS(bind_local_ranks(t, p, 3, "vm1"),
                       "--map-by ppr:1:core places at most 2 ranks on host vm1 (2 cores), "
                       "not 3; use --oversubscribe or fewer ranks",
                       rmpi::ConfigError);
}

TEST_CASE("binding: the default without --bind-to is Open MPI's") {
  static_assert(default_bind_to(1, 1, 2) == BindTo::core);
  CHECK(default_bind_to(2, 1, 2) == BindTo::core);
  CHECK(default_bind_to(3, 1, 8) == BindTo::socket);
  CHECK(default_bind_to(8, 1, 8) == BindTo::socket);
  CHECK(default_bind_to(3, 1, 2) == BindTo::none);  // oversubscribed
  CHECK(default_bind_to(2, 2, 3) == BindTo::none);  // --cpus-per-rank 2 needs 4 cores
  CHECK(default_bind_to(2, 2, 4) == BindTo::core);
  CHECK(host_oversubscribed(3, 1, 2));
  CHECK(!host_oversubscribed(2, 1, 2));
}

TEST_CASE("binding: --bind-to and --map-by words") {
  CHECK(parse_bind_to("l3cache") == BindTo::l3cache);
  CHECK_THROWS_WITH_AS(parse_bind_to("cores"),
                       "bad value 'cores' for --bind-to: expected one of none, hwthread, "
                       "core, l3cache, numa, socket",
                       rmpi::ConfigError);
  BindingPolicy p;
  parse_map_by("ppr:2:socket", p);
  CHECK(p.map_by == MapBy::ppr);
  CHECK(p.ppr == RanksPerResource{2, Resource::socket});
  parse_map_by("numa", p);
  CHECK(p.map_by == MapBy::numa);
  CHECK_THROWS_WITH_AS(parse_map_by("board", p),
                       "bad value 'board' for --map-by: expected one of slot, node, core, "
                       "numa, socket, ppr:N:RESOURCE",
                       rmpi::ConfigError);
  for (const char* bad : {"ppr", "ppr:", "ppr:2", "ppr:0:core", "ppr:x:core", "ppr:2:board", "ppr:-1:core",
                          "ppr2:core"}) {
    CAPTURE(bad);
    CHECK_THROWS_WITH_AS(parse_map_by(bad, p),
                         doctest::Contains("expected ppr:N:RESOURCE with N >= 1 and RESOURCE one of"),
                         rmpi::ConfigError);
  }
}

TEST_CASE("topology: summary and XML round trip") {
  const Topology t = Topology::from_synthetic("pack:2 numa:2 l3:1 core:2 pu:2");
  CHECK(t.summary().starts_with("2 packages, 4 NUMA nodes, 8 cores, 16 PUs, L3 4x"));
  const Topology back = Topology::from_xml(t.to_xml(), "h");
  CHECK(back.summary() == t.summary());
  CHECK_THROWS_WITH_AS(Topology::from_xml("not xml", "node7"),
                       doctest::Contains("node on node7 sent no readable hwloc topology"),
                       rmpi::ConfigError);
  const Topology here = Topology::of_this_host();
  CHECK(here.count(Resource::core) >= 1);
}

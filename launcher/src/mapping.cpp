#include <rmpi/launcher/mapping.hpp>

#include <algorithm>
#include <cstdint>
#include <limits>
#include <string>

#include <rmpi/error.hpp>

namespace rmpi::launcher {
namespace {

/// "host1 (2), host2 (4)" with each host's slots (or max_slots).
std::string list_hosts(const std::vector<HostEntry>& hosts, bool max_slots) {
  std::string text;
  for (const auto& host : hosts) {
    if (!text.empty()) text += ", ";
    const int n = max_slots ? host.max_slots.value_or(0) : host.slots;
    text += host.name + " (" + std::to_string(n) + ")";
  }
  return text;
}

int capacity(const HostEntry& host) {
  return host.max_slots.value_or(std::numeric_limits<int>::max());
}

/// How many ranks each host gets with --map-by slot: slots in host order, then extra ranks one
/// at a time to the host with the lowest load (ranks / slots) that is below its max_slots.
std::vector<int> slot_counts(const std::vector<HostEntry>& hosts, int np) {
  std::vector<int> counts(hosts.size(), 0);
  int remaining = np;
  for (std::size_t i = 0; i < hosts.size() && remaining > 0; ++i) {
    counts[i] = std::min(hosts[i].slots, remaining);
    remaining -= counts[i];
  }
  for (; remaining > 0; --remaining) {
    std::size_t best = hosts.size();
    for (std::size_t i = 0; i < hosts.size(); ++i) {
      if (counts[i] >= capacity(hosts[i])) continue;
      // counts[i] / slots[i] < counts[best] / slots[best], in integers.
      if (best == hosts.size() || std::int64_t{counts[i]} * hosts[best].slots <
                                      std::int64_t{counts[best]} * hosts[i].slots) {
        best = i;
      }
    }
    ++counts[best];
  }
  return counts;
}

}  // namespace

std::string_view to_string(MapBy map_by) {
  switch (map_by) {
    case MapBy::slot: return "slot";
    case MapBy::node: return "node";
    case MapBy::core: return "core";
    case MapBy::numa: return "numa";
    case MapBy::socket: return "socket";
    case MapBy::ppr: return "ppr";
  }
  return "?";
}

std::vector<RankPlacement> map_ranks(const std::vector<HostEntry>& hosts, int np, MapBy map_by,
                                     bool oversubscribe) {
  if (hosts.empty()) throw ConfigError("no hosts to run on");
  if (np < 1) {
    throw ConfigError("the number of ranks must be at least 1, not " + std::to_string(np));
  }
  std::int64_t total_slots = 0;
  std::int64_t total_capacity = 0;
  for (const auto& host : hosts) {
    total_slots += host.slots;
    total_capacity += capacity(host);
  }
  if (np > total_slots && !oversubscribe) {
    throw ConfigError(std::to_string(np) + " ranks requested but only " +
                      std::to_string(total_slots) + " slots: " + list_hosts(hosts, false) +
                      "; use --oversubscribe or fewer ranks");
  }
  if (np > total_capacity) {
    throw ConfigError(std::to_string(np) + " ranks requested but max_slots allows " +
                      "only " + std::to_string(total_capacity) + ": " + list_hosts(hosts, true) +
                      "; use fewer ranks");
  }

  std::vector<RankPlacement> ranks(static_cast<std::size_t>(np));
  std::vector<int> counts(hosts.size(), 0);
  if (map_by != MapBy::node) {
    const auto per_host = slot_counts(hosts, np);
    int rank = 0;
    for (std::size_t h = 0; h < hosts.size(); ++h) {
      for (int k = 0; k < per_host[h]; ++k) ranks[rank++].host_index = static_cast<int>(h);
    }
  } else {
    // Round-robin over the hosts with a free slot; once every slot is taken, over the hosts
    // below their max_slots, continuing from where the first pass stopped.
    std::size_t next = 0;
    for (int rank = 0; rank < np; ++rank) {
      const bool within_slots = rank < total_slots;
      while (counts[next] >= (within_slots ? hosts[next].slots : capacity(hosts[next]))) {
        next = (next + 1) % hosts.size();
      }
      ranks[rank].host_index = static_cast<int>(next);
      ++counts[next];
      next = (next + 1) % hosts.size();
    }
    counts.assign(hosts.size(), 0);
  }

  for (int rank = 0; rank < np; ++rank) {
    ranks[rank].rank = rank;
    ranks[rank].local_rank = counts[ranks[rank].host_index]++;
  }
  std::vector<int> node_of(hosts.size(), -1);
  int nodes = 0;
  for (std::size_t h = 0; h < hosts.size(); ++h) {
    if (counts[h] > 0) node_of[h] = nodes++;
  }
  for (auto& placement : ranks) {
    placement.local_size = counts[placement.host_index];
    placement.node_id = node_of[placement.host_index];
  }
  return ranks;
}

}  // namespace rmpi::launcher

#pragma once
/// The `-H h1[:n],h2,...` host list of rmpirun.
#include <string_view>
#include <vector>

#include <rmpi/launcher/host_entry.hpp>

namespace rmpi::launcher {

/// Parses a comma-separated host list (`[user@]host[:slots]` items; a host without a count gets
/// 1 slot; repeated items add slots). Throws rmpi::ConfigError naming the bad -H item.
std::vector<HostEntry> parse_host_list(std::string_view list);

}  // namespace rmpi::launcher

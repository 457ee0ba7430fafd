#include <rmpi/launcher/host_list.hpp>

#include <string>

#include <rmpi/error.hpp>
#include <rmpi/quoted_input.hpp>

#include "host_spec.hpp"

namespace rmpi::launcher {

std::vector<HostEntry> parse_host_list(std::string_view list) {
  constexpr std::string_view where = "-H";
  std::vector<HostEntry> entries;
  std::string_view rest = list;
  while (true) {
    const auto comma = rest.find(',');
    const std::string_view item = rest.substr(0, comma);
    if (item.empty()) {
      throw ConfigError(std::string(where) + ": empty host in list " + quoted_input(list));
    }
    auto spec = detail::parse_host_spec(item, where);
    HostEntry entry;
    entry.name = detail::entry_name(spec.user, spec.host);
    entry.user = std::move(spec.user);
    entry.host = std::move(spec.host);
    entry.slots = spec.slots.value_or(1);
    entry.origin = "-H";
    detail::add_entry(entries, std::move(entry), where);
    if (comma == std::string_view::npos) break;
    rest.remove_prefix(comma + 1);
  }
  return entries;
}

}  // namespace rmpi::launcher

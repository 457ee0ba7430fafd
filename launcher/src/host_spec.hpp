#pragma once
// Internal: the `[user@]host[:slots]` syntax shared by hostfiles and -H lists, slot counts,
// and merging repeated entries.
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <rmpi/launcher/host_entry.hpp>

namespace rmpi::launcher::detail {

/// The parts of one `[user@]host[:slots]` token (IPv6 literals as `::1` or `[::1]:2`).
struct HostSpec {
  std::string user;
  std::string host;
  std::optional<int> slots;
};

/// Parses a host token; errors read "<where>: <what is wrong> '<token>'".
HostSpec parse_host_spec(std::string_view token, std::string_view where);

/// Parses a positive count from `digits` (a part of `token`); errors name `what` and `token`.
int parse_count(std::string_view digits, std::string_view what, std::string_view token,
                std::string_view where);

/// Checks a user name (letters, digits, '_', '-', '.'); errors name `token`.
void check_user_name(std::string_view user, std::string_view token, std::string_view where);

/// `user@host`, or `host` when there is no user.
std::string entry_name(std::string_view user, std::string_view host);

/// Appends `entry`, or adds its slots (and max_slots) to an earlier entry of the same name
/// (given slots win over SlotSource::topology).
/// Throws "<where>: max_slots (M) is less than slots (N) for host '<name>'" when they clash.
void add_entry(std::vector<HostEntry>& entries, HostEntry entry, std::string_view where);

}  // namespace rmpi::launcher::detail

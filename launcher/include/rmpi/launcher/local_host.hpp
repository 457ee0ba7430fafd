#pragma once
/// Telling the local host from remote ones, by name only (never by resolving).
#include <string_view>

#include <rmpi/launcher/host_entry.hpp>

namespace rmpi::launcher {

/// True for "localhost", "localhost.localdomain", "127.0.0.1", "::1" (also "[::1]") and the
/// machine's own name as gethostname gives it, or its short form when that is a FQDN; compared
/// case-insensitively. Anything else, including 127.0.0.2 and a FQDN when gethostname gives a
/// short name, is remote and goes through SSH. Never resolves names.
bool is_local_host(std::string_view host);

/// is_local_host with an explicit own host name (deterministic, for tests).
bool is_local_host(std::string_view host, std::string_view own_hostname);

/// True when the entry has no `user@` part and its host is local; an entry naming a user always
/// goes through SSH.
bool is_local_host(const HostEntry& entry);

/// Number of slots the local host gets when no hosts are given: its logical CPU count (>= 1).
int local_slot_count();

}  // namespace rmpi::launcher

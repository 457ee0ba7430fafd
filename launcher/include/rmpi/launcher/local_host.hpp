#pragma once
/// Telling the local host from remote ones, by name only (never by resolving).
#include <string_view>

#include <rmpi/launcher/host_entry.hpp>
#include <rmpi/ssh.hpp>

namespace rmpi::launcher {

/// The host classification the runtime uses to decide on SSH.
using rmpi::places::is_local_host;

/// True when the entry has no `user@` part and its host is local; an entry naming a user always
/// goes through SSH.
bool is_local_host(const HostEntry& entry);

}  // namespace rmpi::launcher

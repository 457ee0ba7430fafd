#pragma once
/// The peer of a connected socket for messages: "127.0.0.1:4242",
/// "[::1]:4242", "a local socket" (AF_UNIX), "?" when it is gone.
#include <string>

namespace rmpi::transport {

std::string peer_address(int fd);

}  // namespace rmpi::transport

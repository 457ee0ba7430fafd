#pragma once
// The rank-link hello, the first exchange after the job-secret handshake: the
// connector says which rank it is, the acceptor settles which of a pair's
// connections becomes the link. One control frame each, without payload
// (flags = world.hpp's ControlFrame, source = the sender's rank; a hello's
// channel = the connector's incarnation, rmpi::restart_count()).
#include <cstdint>
#include <optional>
#include <variant>

#include <rmpi/wire.hpp>

namespace rmpi::detail::rank_hello {

struct Hello {  // connector → acceptor
  int rank;
  std::uint32_t incarnation = 0;  // 0 for the rank's first process, k after its k-th restart
};
struct Accepted {  // acceptor → connector: this connection is the pair's link
  int rank;
};
struct Declined {  // acceptor → connector: the acceptor's own connection wins
  int rank;
};
using Message = std::variant<Hello, Accepted, Declined>;

wire::FrameHeader encode(const Message& message);
/// The message a frame carries; nullopt when it is none of this protocol's.
std::optional<Message> decode(const wire::FrameHeader& header);

}  // namespace rmpi::detail::rank_hello

#include "rank_hello.hpp"

#include <iterator>

#include "world.hpp"

namespace rmpi::detail::rank_hello {

wire::FrameHeader encode(const Message& message) {
  // In the order of Message's alternatives.
  static constexpr ControlFrame kKinds[] = {ControlFrame::hello, ControlFrame::hello_accepted,
                                            ControlFrame::hello_declined};
  static_assert(std::size(kKinds) == std::variant_size_v<Message>);
  const int rank = std::visit([](const auto& m) { return m.rank; }, message);
  const auto* hello = std::get_if<Hello>(&message);
  return {.kind = wire::FrameKind::control,
          .flags = static_cast<std::uint16_t>(kKinds[message.index()]),
          .source = static_cast<std::uint32_t>(rank),
          .channel = hello ? hello->incarnation : 0};
}

std::optional<Message> decode(const wire::FrameHeader& header) {
  if (header.kind != wire::FrameKind::control || header.length != 0) return std::nullopt;
  const int rank = static_cast<int>(header.source);
  switch (static_cast<ControlFrame>(header.flags)) {
    case ControlFrame::hello: return Hello{rank, header.channel};
    case ControlFrame::hello_accepted: return Accepted{rank};
    case ControlFrame::hello_declined: return Declined{rank};
    case ControlFrame::type_name: break;
  }
  return std::nullopt;
}

}  // namespace rmpi::detail::rank_hello

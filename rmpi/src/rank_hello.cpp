#include "rank_hello.hpp"

#include "world.hpp"

namespace rmpi::detail::rank_hello {
namespace {
template <class... F>
struct Overload : F... {
  using F::operator()...;
};
}  // namespace

wire::FrameHeader encode(const Message& message) {
  const auto [kind, rank] = std::visit(
      Overload{[](const Hello& m) { return std::pair{ControlFrame::hello, m.rank}; },
               [](const Accepted& m) { return std::pair{ControlFrame::hello_accepted, m.rank}; },
               [](const Declined& m) { return std::pair{ControlFrame::hello_declined, m.rank}; }},
      message);
  return {.kind = wire::FrameKind::control,
          .flags = static_cast<std::uint16_t>(kind),
          .source = static_cast<std::uint32_t>(rank)};
}

std::optional<Message> decode(const wire::FrameHeader& header) {
  if (header.kind != wire::FrameKind::control || header.length != 0) return std::nullopt;
  const int rank = static_cast<int>(header.source);
  switch (static_cast<ControlFrame>(header.flags)) {
    case ControlFrame::hello: return Hello{rank};
    case ControlFrame::hello_accepted: return Accepted{rank};
    case ControlFrame::hello_declined: return Declined{rank};
    case ControlFrame::type_name: break;
  }
  return std::nullopt;
}

}  // namespace rmpi::detail::rank_hello

#include "rendezvous_protocol.hpp"

#include <rmpi/error.hpp>
#include <rmpi/message.hpp>

namespace rmpi::detail::rendezvous_protocol {
namespace {
template <class... F>
struct Overload : F... {
  using F::operator()...;
};
}  // namespace

std::pair<wire::FrameHeader, std::vector<std::byte>> encode(const Message& message) {
  return std::visit(
      Overload{[](const Arrival& a) {
                 const auto* p = reinterpret_cast<const std::byte*>(a.blob.data());
                 return std::pair{wire::FrameHeader{.kind = wire::FrameKind::control, .source = a.id, .channel = a.count},
                                  std::vector<std::byte>(p, p + a.blob.size())};
               },
               [](const Table& t) {
                 places::Message m = places::encode(t.blobs);
                 return std::pair{wire::FrameHeader{.kind = wire::FrameKind::control, .type_tag = m.type_tag},
                                  std::move(m.payload)};
               }},
      message);
}

Arrival decode_arrival(const wire::FrameHeader& header, const std::vector<std::byte>& payload) {
  if (header.kind != wire::FrameKind::control)
    throw ProtocolError("expected a control frame with the participant's blob");
  return Arrival{header.source, header.channel,
                 std::string(reinterpret_cast<const char*>(payload.data()), payload.size())};
}

Table decode_table(const wire::FrameHeader& header, const std::vector<std::byte>& payload) {
  if (header.kind != wire::FrameKind::control) throw ProtocolError("the reply is not a control frame");
  return Table{places::decode<std::vector<std::string>>(places::Message{header.type_tag, payload})};
}

}  // namespace rmpi::detail::rendezvous_protocol

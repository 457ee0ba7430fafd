#pragma once
// The rendezvous protocol, after the job-secret handshake: each participant
// sends one Arrival (its id, how many participants it expects, its blob);
// once all have arrived the server sends each of them the Table of blobs, by
// id, and closes. One control frame each. Once the exchange is complete, a
// restarted participant's Arrival replaces its blob and is answered at once
// with the table.
#include <cstddef>
#include <cstdint>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include <rmpi/wire.hpp>

namespace rmpi::detail::rendezvous_protocol {

struct Arrival {  // participant → server: header source = id, channel = count
  std::uint32_t id = 0;
  std::uint32_t count = 0;
  std::string blob;
};
struct Table {  // server → participant: the blobs, by id (a Cereal vector of strings)
  std::vector<std::string> blobs;
};
using Message = std::variant<Arrival, Table>;

/// The frame (header, payload) that carries `message`.
std::pair<wire::FrameHeader, std::vector<std::byte>> encode(const Message& message);
/// The message each side expects (the server an Arrival, a participant the
/// Table); throws rmpi::ProtocolError naming what is wrong.
Arrival decode_arrival(const wire::FrameHeader& header, const std::vector<std::byte>& payload);
Table decode_table(const wire::FrameHeader& header, const std::vector<std::byte>& payload);

}  // namespace rmpi::detail::rendezvous_protocol

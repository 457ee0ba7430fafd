#include <rmpi/comm.hpp>

#include <string>

#include <rmpi/error.hpp>

#include "comm_state.hpp"

namespace rmpi {
namespace {

const detail::CommState& checked(const std::shared_ptr<detail::CommState>& s) {
  if (!s) throw Error("rmpi: use of an empty Comm (call rmpi::init first)");
  return *s;
}

int world_rank(const detail::CommState& s, int r, const char* what) {
  if (r < 0 || r >= static_cast<int>(s.members.size()))
    throw Error(std::string("rmpi::") + what + ": rank " + std::to_string(r) +
                " is out of range for a communicator of size " + std::to_string(s.members.size()) +
                " (called on rank " + std::to_string(s.id) + ")");
  return s.members[static_cast<std::size_t>(r)];
}

std::uint16_t checked_tag(int tag, const char* what) {
  if (tag < 0 || tag > 0xffff)
    throw Error(std::string("rmpi::") + what + ": tag " + std::to_string(tag) + " is not in 0..65535");
  return static_cast<std::uint16_t>(tag);
}

}  // namespace

int Comm::id() const { return checked(state_).id; }

int Comm::cnt() const { return static_cast<int>(checked(state_).members.size()); }

void Comm::send_bytes(int dest, int tag, std::uint64_t type_tag, std::string_view type_name,
                      std::span<const std::byte> payload) const {
  const auto& s = checked(state_);
  s.world->send(s.context, world_rank(s, dest, "send"), checked_tag(tag, "send"), type_tag, type_name,
                payload, nullptr);
}

void Comm::send_buffer(int dest, int tag, std::uint64_t type_tag, std::string_view type_name,
                       std::vector<std::byte>&& payload) const {
  const auto& s = checked(state_);
  s.world->send(s.context, world_rank(s, dest, "send"), checked_tag(tag, "send"), type_tag, type_name,
                payload, &payload);
}

detail::Received Comm::recv_bytes(int src, int tag, std::uint64_t type_tag, std::string_view type_name,
                                  detail::PostedRecv* posted) const {
  const auto& s = checked(state_);
  return s.world->receive(s.context, world_rank(s, src, "recv"), checked_tag(tag, "recv"), type_tag,
                          type_name, posted, s.id, src);
}

}  // namespace rmpi

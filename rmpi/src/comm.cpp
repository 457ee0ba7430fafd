#include <rmpi/comm.hpp>

#include <chrono>
#include <string>

#include <rmpi/error.hpp>
#include <rmpi/p2p.hpp>

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

int source_rank(const detail::CommState& s, Source r, const char* what) {
  return r.any() ? detail::kAnyRank : world_rank(s, r.rank(), what);
}

}  // namespace

int detail::user_wire_tag(Tag t, const char* what) {
  if (t.value() < 0 || t.value() > Tag::max)
    throw Error(std::string("rmpi::") + what + ": tag " + std::to_string(t.value()) + " is not in 0.." +
                std::to_string(Tag::max));
  return kUserTagBit | t.value();
}

int Comm::internal_tag(int tag) {
  if (tag < 0 || tag >= detail::kUserTagBit)
    throw Error("rmpi: internal tag " + std::to_string(tag) + " is not in 0.." +
                std::to_string(detail::kUserTagBit - 1) + " (user messages take an rmpi::Tag)");
  return tag;
}

int Comm::id() const { return checked(state_).id; }

int Comm::cnt() const { return static_cast<int>(checked(state_).members.size()); }

detail::RequestPtr Comm::start_send(int dest, int wire_tag, detail::OutMessage m, bool blocking) const {
  const auto& s = checked(state_);
  return s.world->start_send(state_, world_rank(s, dest, "send"), static_cast<std::uint16_t>(wire_tag), std::move(m),
                             blocking);
}

detail::RequestPtr Comm::start_recv_raw(Source src, int wire_tag, std::uint64_t type_tag, std::string_view type_name,
                                        const detail::PostedRecv* posted, std::shared_ptr<void> keep) const {
  const auto& s = checked(state_);
  return s.world->start_recv(state_, source_rank(s, src, "recv"), wire_tag, type_tag, type_name, posted,
                             std::move(keep));
}

std::optional<Status> Comm::probe_raw(Source src, int wire_tag, bool wait) const {
  const auto& s = checked(state_);
  return s.world->probe(state_, source_rank(s, src, "probe"), wire_tag, wait);
}

// ---------------------------------------------------------------- requests

void detail::request_wait(RequestState& r) { r.world->wait(r); }

bool detail::request_test(RequestState& r) { return r.world->test(r); }

bool detail::request_cancel(RequestState& r) { return r.world->cancel(r); }

Status detail::request_status(const RequestState& r) { return r.status; }

detail::Received detail::request_take(RequestState& r) {
  if (r.taken) throw Error("rmpi: the value of this receive was taken already");
  r.taken = true;
  return std::move(r.received);
}

std::size_t detail::request_wait_any(const std::vector<RequestState*>& rs) {
  for (RequestState* r : rs)
    if (r) return r->world->wait_any(rs);
  return rs.size();
}

std::optional<std::size_t> detail::request_test_any(const std::vector<RequestState*>& rs) {
  for (RequestState* r : rs)
    if (r) return r->world->test_any(rs);
  return std::nullopt;
}

void detail::throw_inactive_request() {
  throw Error("rmpi: wait on an inactive request (already waited, cancelled, or never started)");
}

double wtime() {
  using namespace std::chrono;
  return duration<double>(steady_clock::now().time_since_epoch()).count();
}

}  // namespace rmpi

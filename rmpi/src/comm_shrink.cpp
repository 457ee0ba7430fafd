#include <rmpi/comm_shrink.hpp>

#include <algorithm>
#include <string>
#include <vector>

#include <rmpi/error.hpp>
#include <rmpi/failure.hpp>

#include "comm_state.hpp"

namespace rmpi {
namespace {

using detail::kShrinkTag;
constexpr int kMaxRounds = detail::kShrinkRounds - 1;

}  // namespace

std::vector<int> Comm::failed_ranks() const {
  if (!state_) throw Error("rmpi::Comm::failed_ranks: use of an empty Comm");
  state_->world->adopt_links();  // a restarted rank that connected is back
  std::vector<int> out;
  for (std::size_t r = 0; r < state_->members.size(); ++r)
    if (static_cast<int>(r) != state_->id && state_->world->peer_gone(state_->members[r]))
      out.push_back(static_cast<int>(r));
  return out;
}

Comm comm_shrink(const Comm& comm) {
  const auto& parent = comm.state();
  if (!parent) throw Error("rmpi::comm_shrink: use of an empty Comm");
  const int n = comm.cnt();
  const int me = comm.id();
  std::vector<bool> failed(static_cast<std::size_t>(n), false);
  for (const int r : comm.failed_ranks()) failed[static_cast<std::size_t>(r)] = true;
  long long context = parent->world->next_context;
  // Each round that does not settle adds a failed rank or raises the context: at most n + 1.
  for (int round = 0;; ++round) {
    if (round > std::min(n + 1, kMaxRounds))
      throw Error("rmpi::comm_shrink: rank " + std::to_string(me) + ": the survivors did not agree in " +
                  std::to_string(round) + " rounds");
    const int tag = kShrinkTag + round;
    std::vector<long long> mine{context};
    for (int r = 0; r < n; ++r)
      if (failed[static_cast<std::size_t>(r)]) mine.push_back(r);
    const std::vector<bool> asked = failed;
    bool settled = true;
    for (int r = 0; r < n; ++r) {
      if (r == me || asked[static_cast<std::size_t>(r)]) continue;
      try {
        comm.send(r, tag, mine);
      } catch (const RankFailed&) {
        failed[static_cast<std::size_t>(r)] = true;
        settled = false;
      }
    }
    for (int r = 0; r < n; ++r) {
      if (r == me || asked[static_cast<std::size_t>(r)]) continue;
      try {
        const auto theirs = comm.recv<std::vector<long long>>(r, tag);
        if (theirs != mine) settled = false;
        if (theirs.empty()) continue;
        context = std::max(context, theirs[0]);
        for (std::size_t i = 1; i < theirs.size(); ++i)
          if (theirs[i] >= 0 && theirs[i] < n) failed[static_cast<std::size_t>(theirs[i])] = true;
      } catch (const RankFailed&) {
        failed[static_cast<std::size_t>(r)] = true;
        settled = false;
      }
    }
    if (settled) break;
  }
  parent->world->next_context = static_cast<std::uint32_t>(context) + 1;
  auto child = std::make_shared<detail::CommState>();
  child->world = parent->world;
  child->context = static_cast<std::uint32_t>(context);
  for (int r = 0; r < n; ++r) {
    if (failed[static_cast<std::size_t>(r)]) continue;
    if (r == me) child->id = static_cast<int>(child->members.size());
    child->members.push_back(parent->members[static_cast<std::size_t>(r)]);
  }
  return Comm(std::move(child));
}

}  // namespace rmpi

#include <rmpi/locality.hpp>

#include "comm_state.hpp"

namespace rmpi {
namespace {

/// The world ranks of `comm`, by comm rank.
std::vector<int> world_ranks(const Comm& comm) {
  const auto& state = *comm.state();
  if (state.context != 0) return state.members;
  std::vector<int> all(static_cast<std::size_t>(state.world->size()));
  for (std::size_t i = 0; i < all.size(); ++i) all[i] = static_cast<int>(i);
  return all;
}

}  // namespace

int local_rank(const Comm& comm) {
  const auto& world = *comm.state()->world;
  int below = 0;
  for (const int w : world_ranks(comm)) {
    if (w == world.rank()) return below;
    if (world.on_this_host(w)) ++below;
  }
  return below;
}

int local_size(const Comm& comm) {
  const auto& world = *comm.state()->world;
  int n = 0;
  for (const int w : world_ranks(comm)) n += world.on_this_host(w) ? 1 : 0;
  return n;
}

}  // namespace rmpi

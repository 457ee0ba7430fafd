#pragma once
// The shared state behind a Comm handle: the process's World, the
// communicator's context id and its members (world ranks, by comm rank).
#include <algorithm>
#include <cstdint>
#include <memory>
#include <vector>

#include "world.hpp"

namespace rmpi::detail {

class CommState {
 public:
  std::shared_ptr<World> world;
  std::uint32_t context = 0;
  int id = 0;
  std::vector<int> members;  // world rank of each comm rank

  /// The comm rank of world rank `w` (-1 if not a member).
  int comm_rank_of(int w) const {
    if (context == 0) return w;  // the world communicator
    const auto it = std::find(members.begin(), members.end(), w);
    return it == members.end() ? -1 : static_cast<int>(it - members.begin());
  }
};

}  // namespace rmpi::detail

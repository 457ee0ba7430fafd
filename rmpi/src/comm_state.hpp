#pragma once
// The shared state behind a Comm handle: the process's World, the
// communicator's context id and its members (world ranks, by comm rank).
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
};

}  // namespace rmpi::detail

#pragma once
/// What each rank publishes through the rendezvous (internal; tests that play
/// a rank use it too): where its listeners are and which node it is on.
#include <cstdint>
#include <string>

#include <cereal/types/string.hpp>

namespace rmpi::detail {

struct Endpoint {
  std::string host;        // address of its TCP listener
  std::uint16_t port = 0;  // port of its TCP listener
  std::string local_name;  // abstract Unix socket name, for ranks of its node
  std::string node_id;     // RMPI_NODE_ID
  std::string shm;         // its shared-memory segment (rmpi/src/shm/context.hpp); empty = none
  template <class A>
  void serialize(A& ar) {
    ar(host, port, local_name, node_id, shm);
  }
};

}  // namespace rmpi::detail

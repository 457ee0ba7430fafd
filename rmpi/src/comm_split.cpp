#include <rmpi/comm_split.hpp>

#include <algorithm>
#include <array>
#include <string>

#include <rmpi/collectives/allgather.hpp>
#include <rmpi/error.hpp>

#include "comm_state.hpp"

namespace rmpi {

Comm comm_split(const Comm& comm, int color, int key) {
  const auto& parent = comm.state();
  if (!parent) throw Error("rmpi::comm_split: use of an empty Comm");
  // (color, key, next free context id of this process)
  using Entry = std::array<long long, 3>;
  const auto all =
      collectives::allgather(comm, Entry{color, key, static_cast<long long>(parent->world->next_context)});
  long long context = 0;
  for (const Entry& e : all) context = std::max(context, e[2]);
  parent->world->next_context = static_cast<std::uint32_t>(context) + 1;

  std::vector<int> same;  // parent ranks of my color, in parent order
  for (std::size_t r = 0; r < all.size(); ++r)
    if (all[r][0] == color) same.push_back(static_cast<int>(r));
  const auto n = static_cast<long long>(same.size());
  std::vector<int> members(same.size(), -1);
  for (int r : same) {
    const long long k = all[static_cast<std::size_t>(r)][1];
    if (k < 0 || k >= n)
      throw Error("rmpi::comm_split: key " + std::to_string(k) + " of rank " + std::to_string(r) +
                  " is not below the size " + std::to_string(n) + " of color " + std::to_string(color) +
                  "'s group (keys must be 0.." + std::to_string(n - 1) + ")");
    auto& slot = members[static_cast<std::size_t>(k)];
    if (slot != -1)
      throw Error("rmpi::comm_split: key " + std::to_string(k) + " is used twice in color " +
                  std::to_string(color) + " (by ranks " + std::to_string(slot) + " and " +
                  std::to_string(r) + ")");
    slot = r;
  }
  auto child = std::make_shared<detail::CommState>();
  child->world = parent->world;
  child->context = static_cast<std::uint32_t>(context);
  child->id = key;
  for (int& m : members) m = parent->members[static_cast<std::size_t>(m)];
  child->members = std::move(members);
  return Comm(std::move(child));
}

}  // namespace rmpi

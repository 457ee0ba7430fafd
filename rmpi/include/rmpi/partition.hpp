#pragma once
/// partition (the reference's `rmpi-partition`): splits `num` items into
/// contiguous blocks, one per rank; the first `num % cnt` ranks get one more.
/// 10 over 3 ranks → (0, 4), (4, 3), (7, 3).
#include <cstddef>
#include <utility>

#include <rmpi/comm.hpp>

namespace rmpi {

/// (offset, length) of rank `id`'s block of `num` items over `cnt` ranks.
constexpr std::pair<std::size_t, std::size_t> partition(int id, int cnt, std::size_t num) {
  const auto r = static_cast<std::size_t>(id);
  const auto p = static_cast<std::size_t>(cnt);
  const std::size_t base = num / p;
  const std::size_t extra = num % p;
  return {r * base + (r < extra ? r : extra), base + (r < extra ? 1 : 0)};
}

/// (offset, length) of this rank's block of `num` items over `comm`.
inline std::pair<std::size_t, std::size_t> partition(const Comm& comm, std::size_t num) {
  return partition(comm.id(), comm.cnt(), num);
}

}  // namespace rmpi

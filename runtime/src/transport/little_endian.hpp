#pragma once
// Little-endian integers of the wire header, read and written as one
// unaligned load or store (a byte-at-a-time loop cost ~170 instructions per
// header under callgrind: the compiler did not merge it).
#include <bit>
#include <cstddef>
#include <cstring>

namespace rmpi::transport {

template <class U>
constexpr U to_little_endian(U v) {
  if constexpr (std::endian::native == std::endian::little) {
    return v;
  } else if constexpr (sizeof(U) == 2) {
    return __builtin_bswap16(v);
  } else if constexpr (sizeof(U) == 4) {
    return __builtin_bswap32(v);
  } else {
    static_assert(sizeof(U) == 8);
    return __builtin_bswap64(v);
  }
}

template <class U>
U load_le(const std::byte* p) {
  U v;
  std::memcpy(&v, p, sizeof v);
  return to_little_endian(v);  // the swap is its own inverse
}

template <class U>
void store_le(std::byte* p, U v) {
  v = to_little_endian(v);
  std::memcpy(p, &v, sizeof v);
}

}  // namespace rmpi::transport

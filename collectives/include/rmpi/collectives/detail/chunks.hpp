#pragma once
/// Helpers of the chunked (element-wise, contiguous) algorithms: which types
/// they apply to, element ranges, the element-wise combination and a
/// per-thread scratch buffer.
#include <array>
#include <cstddef>
#include <rmpi/collectives/detail/combine.hpp>
#include <rmpi/collectives/detail/elementwise.hpp>
#include <span>
#include <type_traits>
#include <vector>

namespace rmpi::collectives::detail {

/// `E` can travel as raw elements of a span and be combined one by one with
/// `op`: trivially copyable, default constructible, not `bool` (whose
/// `std::vector` is not contiguous), and `op(E, E)` converts to `E`.
template <class Op, class E>
inline constexpr bool is_chunk_element_v =
    std::is_trivially_copyable_v<E> && std::is_default_constructible_v<E> &&
    !std::is_same_v<std::remove_cv_t<E>, bool> && applies_whole_v<Op, E>;

/// The element type of a vector / array `T` that a reduction with `op`
/// combines element by element (`void` when there is none).
template <class Op, class T>
struct chunk_element {
  using type = void;
};
template <class Op, class E, class A>
  requires(!applies_whole_v<Op, std::vector<E, A>> && is_chunk_element_v<Op, E>)
struct chunk_element<Op, std::vector<E, A>> {
  using type = E;
};
template <class Op, class E, std::size_t N>
  requires(!applies_whole_v<Op, std::array<E, N>> && is_chunk_element_v<Op, E>)
struct chunk_element<Op, std::array<E, N>> {
  using type = E;
};

/// A value of `T` reduced with `op` is a contiguous run of elements that the
/// chunked algorithms (Rabenseifner, ring) may split and combine piecewise.
template <class Op, class T>
inline constexpr bool is_chunkable_v = !std::is_void_v<typename chunk_element<Op, T>::type>;

/// Part `index` of `count` elements cut into `parts` nearly equal parts (the
/// first `count % parts` one longer): offset and length.
struct Range {
  std::size_t offset;
  std::size_t length;
};

constexpr Range part_range(std::size_t count, int parts, int index) {
  const auto p = static_cast<std::size_t>(parts);
  const auto i = static_cast<std::size_t>(index);
  const std::size_t base = count / p;
  const std::size_t extra = count % p;
  return {i * base + (i < extra ? i : extra), base + (i < extra ? 1 : 0)};
}

/// `out[i] = op(lower[i], upper[i])`; `out` may be `lower` or `upper`.
template <class Op, class E>
void combine_elements(Op& op, std::span<const E> lower, std::span<const E> upper,
                      std::span<E> out) {
  for (std::size_t i = 0; i < out.size(); ++i) out[i] = op(lower[i], upper[i]);
}

/// `mine = op(mine, theirs)` when this rank's operands come first in rank
/// order (`mine_first`), else `mine = op(theirs, mine)`.
template <class Op, class E>
void combine_ordered(Op& op, std::span<E> mine, std::span<const E> theirs, bool mine_first) {
  if (mine_first) {
    combine_elements<Op, E>(op, mine, theirs, mine);
  } else {
    combine_elements<Op, E>(op, theirs, mine, mine);
  }
}

/// Buffers up to this size are kept per thread between calls; larger ones
/// are allocated per call (their transfer costs far more than the allocation).
inline constexpr std::size_t kKeptScratchBytes = std::size_t{16} << 20;

/// A buffer of `n` elements for receiving, reused by every call on this
/// thread (no allocation per call once it has grown), or, above
/// `kKeptScratchBytes`, owned by the returned object.
template <class E>
class Scratch {
 public:
  explicit Scratch(std::size_t n) {
    thread_local std::vector<E> kept;
    if (n * sizeof(E) <= kKeptScratchBytes) {
      if (kept.size() < n) kept.resize(n);
      data_ = std::span<E>(kept.data(), n);
    } else {
      owned_.resize(n);
      data_ = std::span<E>(owned_.data(), n);
    }
  }
  Scratch(const Scratch&) = delete;
  Scratch& operator=(const Scratch&) = delete;

  /// The first `n` elements of the buffer.
  std::span<E> first(std::size_t n) const { return data_.first(n); }

 private:
  std::vector<E> owned_;
  std::span<E> data_;
};

}  // namespace rmpi::collectives::detail

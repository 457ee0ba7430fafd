#pragma once
/// How `reduce` applies an operation: to whole values when it can, else
/// element by element to `std::vector` / `std::array` (recursively).
#include <cstddef>
#include <rmpi/collectives/detail/elementwise.hpp>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <utility>

namespace rmpi::collectives::detail {

/// `op(a, b)` on two `T`s yields something convertible to `T`.
template <class Op, class T>
inline constexpr bool applies_whole_v = std::is_invocable_r_v<T, Op&, const T&, const T&>;

/// `op` applies to `T` whole, or element-wise to a vector / array of such.
template <class Op, class T>
constexpr bool is_reducible() {
  if constexpr (applies_whole_v<Op, T>) {
    return true;
  } else if constexpr (is_elementwise_container_v<T>) {
    return is_reducible<Op, typename T::value_type>();
  } else {
    return false;
  }
}

/// `acc = acc op next`. `acc_rank` and `next_rank` are ranks whose inputs the
/// operands stand for; they name the ranks when vector lengths differ.
template <class Op, class T>
void combine_into(Op& op, T& acc, const T& next, int acc_rank, int next_rank) {
  if constexpr (applies_whole_v<Op, T>) {
    acc = op(std::as_const(acc), next);
  } else {
    using E = typename T::value_type;
    if constexpr (!is_std_array_v<T>) {
      if (acc.size() != next.size()) {
        throw std::invalid_argument(
            "rmpi::collectives::reduce: element-wise operands differ in length: " +
            std::to_string(acc.size()) + " at rank " + std::to_string(acc_rank) + ", " +
            std::to_string(next.size()) + " at rank " + std::to_string(next_rank));
      }
    }
    for (std::size_t i = 0; i < acc.size(); ++i) {
      if constexpr (applies_whole_v<Op, E>) {
        // The casts let std::vector<bool>'s proxies through.
        acc[i] = op(static_cast<const E&>(acc[i]), static_cast<const E&>(next[i]));
      } else {
        combine_into(op, acc[i], next[i], acc_rank, next_rank);
      }
    }
  }
}

}  // namespace rmpi::collectives::detail

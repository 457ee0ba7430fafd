#pragma once
/// Ready-made reduction operations, like MPI_SUM, MPI_MIN, ...: function
/// objects with a templated, SFINAE-friendly `operator()` (like
/// `std::plus<>`). They never accept a `std::vector` or `std::array` as a
/// whole, so `reduce` applies them element by element to those:
///
///   auto total = rmpi::collectives::allreduce(t, rmpi::op::sum, local);
#include <rmpi/collectives/detail/elementwise.hpp>
#include <utility>

namespace rmpi::op {

/// `a + b`.
struct Sum {
  template <collectives::detail::whole_operand A, collectives::detail::whole_operand B>
  constexpr auto operator()(A&& a, B&& b) const
      -> decltype(std::forward<A>(a) + std::forward<B>(b)) {
    return std::forward<A>(a) + std::forward<B>(b);
  }
};

/// `a * b`.
struct Prod {
  template <collectives::detail::whole_operand A, collectives::detail::whole_operand B>
  constexpr auto operator()(A&& a, B&& b) const
      -> decltype(std::forward<A>(a) * std::forward<B>(b)) {
    return std::forward<A>(a) * std::forward<B>(b);
  }
};

/// The smaller of `a` and `b` (`a` when they are equal), by `<`.
struct Min {
  template <collectives::detail::whole_operand T>
  constexpr auto operator()(const T& a, const T& b) const -> decltype(b < a, T(a)) {
    return b < a ? b : a;
  }
};

/// The larger of `a` and `b` (`a` when they are equal), by `<`.
struct Max {
  template <collectives::detail::whole_operand T>
  constexpr auto operator()(const T& a, const T& b) const -> decltype(a < b, T(a)) {
    return a < b ? b : a;
  }
};

/// Logical and, `a && b`.
struct LogicalAnd {
  template <collectives::detail::whole_operand A, collectives::detail::whole_operand B>
  constexpr auto operator()(A&& a, B&& b) const
      -> decltype(std::forward<A>(a) && std::forward<B>(b)) {
    return std::forward<A>(a) && std::forward<B>(b);
  }
};

/// Logical or, `a || b`.
struct LogicalOr {
  template <collectives::detail::whole_operand A, collectives::detail::whole_operand B>
  constexpr auto operator()(A&& a, B&& b) const
      -> decltype(std::forward<A>(a) || std::forward<B>(b)) {
    return std::forward<A>(a) || std::forward<B>(b);
  }
};

/// Bitwise and, `a & b`.
struct BitAnd {
  template <collectives::detail::whole_operand A, collectives::detail::whole_operand B>
  constexpr auto operator()(A&& a, B&& b) const
      -> decltype(std::forward<A>(a) & std::forward<B>(b)) {
    return std::forward<A>(a) & std::forward<B>(b);
  }
};

/// Bitwise or, `a | b`.
struct BitOr {
  template <collectives::detail::whole_operand A, collectives::detail::whole_operand B>
  constexpr auto operator()(A&& a, B&& b) const
      -> decltype(std::forward<A>(a) | std::forward<B>(b)) {
    return std::forward<A>(a) | std::forward<B>(b);
  }
};

/// Sum (MPI_SUM).
inline constexpr Sum sum{};
/// Product (MPI_PROD).
inline constexpr Prod prod{};
/// Minimum (MPI_MIN).
inline constexpr Min min{};
/// Maximum (MPI_MAX).
inline constexpr Max max{};
/// Logical and (MPI_LAND).
inline constexpr LogicalAnd land{};
/// Logical or (MPI_LOR).
inline constexpr LogicalOr lor{};
/// Bitwise and (MPI_BAND).
inline constexpr BitAnd band{};
/// Bitwise or (MPI_BOR).
inline constexpr BitOr bor{};

}  // namespace rmpi::op

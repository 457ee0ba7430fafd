#pragma once
/// Ready-made reduction operations, like MPI_SUM, MPI_MIN, ...: function
/// objects with a templated, SFINAE-friendly `operator()` (like
/// `std::plus<>`). They never accept a `std::vector` or `std::array` as a
/// whole, so `reduce` applies them element by element to those:
///
///   auto total = rmpi::collectives::allreduce(t, rmpi::op::sum, local);
#include <rmpi/collectives/detail/elementwise.hpp>
#include <type_traits>
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

/// Whether `Op` on `E`s gives the same bits whatever the order and grouping
/// of its operands (commutative and exactly associative), so that a ring
/// allreduce may combine them in ring order. True for the integer and
/// logical ops of rmpi::op, false for floating point (its sums round
/// differently in another order) and for any other op unless specialized:
///
///   template <> struct rmpi::op::order_free<MyXor, unsigned> : std::true_type {};
template <class Op, class E>
struct order_free
    : std::bool_constant<(std::is_integral_v<E> || std::is_enum_v<E>)&&(
          std::is_same_v<Op, Sum> || std::is_same_v<Op, Prod> || std::is_same_v<Op, Min> ||
          std::is_same_v<Op, Max> || std::is_same_v<Op, LogicalAnd> ||
          std::is_same_v<Op, LogicalOr> || std::is_same_v<Op, BitAnd> ||
          std::is_same_v<Op, BitOr>)> {};

/// `order_free<Op, E>::value`, cv-ref stripped.
template <class Op, class E>
inline constexpr bool order_free_v = order_free<std::remove_cvref_t<Op>, std::remove_cv_t<E>>::value;

}  // namespace rmpi::op

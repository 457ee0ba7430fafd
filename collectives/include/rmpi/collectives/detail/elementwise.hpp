#pragma once
/// Which containers a reduction applies an operation to element by element.
#include <array>
#include <cstddef>
#include <span>
#include <type_traits>
#include <vector>

namespace rmpi::collectives::detail {

/// True for `std::vector<E, A>` and `std::array<E, N>`.
template <class T>
struct is_elementwise_container : std::false_type {};

template <class E, class A>
struct is_elementwise_container<std::vector<E, A>> : std::true_type {};

template <class E, std::size_t N>
struct is_elementwise_container<std::array<E, N>> : std::true_type {};

/// True for `std::array<E, N>` (whose length is part of its type).
template <class T>
inline constexpr bool is_std_array_v = false;

template <class E, std::size_t N>
inline constexpr bool is_std_array_v<std::array<E, N>> = true;

/// True for `std::span<E, N>`.
template <class T>
inline constexpr bool is_span_v = false;

template <class E, std::size_t N>
inline constexpr bool is_span_v<std::span<E, N>> = true;

/// `is_elementwise_container<T>` with cv-ref stripped.
template <class T>
inline constexpr bool is_elementwise_container_v =
    is_elementwise_container<std::remove_cvref_t<T>>::value;

/// An operand that an `rmpi::op` function object applies to as a whole.
template <class T>
concept whole_operand = !is_elementwise_container_v<T>;

}  // namespace rmpi::collectives::detail

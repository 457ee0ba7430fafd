// rmpi::op: the ready-made reduction operations.
#include <doctest/doctest.h>

#include <array>
#include <rmpi/collectives/ops.hpp>
#include <string>
#include <type_traits>
#include <vector>

namespace op = rmpi::op;

TEST_CASE("the ops compute what MPI's predefined operations compute") {
  CHECK(op::sum(2, 3) == 5);
  CHECK(op::sum(0.5, 0.25) == 0.75);
  CHECK(op::sum(std::string("ab"), std::string("cd")) == "abcd");
  CHECK(op::prod(4, 5) == 20);
  CHECK(op::min(4, -5) == -5);
  CHECK(op::max(4, -5) == 4);
  CHECK(op::min(std::string("b"), std::string("a")) == "a");
  CHECK(op::land(true, false) == false);
  CHECK(op::land(true, true) == true);
  CHECK(op::lor(false, true) == true);
  CHECK(op::lor(false, false) == false);
  CHECK(op::band(0b1100, 0b1010) == 0b1000);
  CHECK(op::bor(0b1100, 0b1010) == 0b1110);
}

TEST_CASE("the ops are usable in constant expressions") {
  static_assert(op::sum(1, 2) == 3);
  static_assert(op::max(1, 2) == 2);
  static_assert(op::band(6, 3) == 2);
  CHECK(true);
}

TEST_CASE("the ops refuse vectors and arrays as a whole, so reduce goes element-wise") {
  using V = std::vector<double>;
  using A = std::array<int, 3>;
  static_assert(!std::is_invocable_v<const op::Sum&, const V&, const V&>);
  static_assert(!std::is_invocable_v<const op::Min&, const V&, const V&>);  // no lexicographic min
  static_assert(!std::is_invocable_v<const op::Max&, const A&, const A&>);
  static_assert(!std::is_invocable_v<const op::BitOr&, const A&, const A&>);
  static_assert(std::is_invocable_r_v<double, const op::Min&, const double&, const double&>);
  static_assert(std::is_invocable_r_v<int, const op::LogicalAnd&, const int&, const int&>);
  static_assert(!std::is_invocable_v<const op::BitAnd&, double, double>);  // SFINAE, no error
  CHECK(true);
}

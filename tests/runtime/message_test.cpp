#include <rmpi/message.hpp>

#include <doctest/doctest.h>

#include <array>
#include <map>
#include <string>
#include <tuple>
#include <vector>

using namespace rmpi::places;

namespace {
struct Particle {
  double x, y, z;
  int id;
};
struct Account {
  std::string owner;
  std::vector<double> history;
  std::map<std::string, int> flags;
  template <class A>
  void serialize(A& a) { a(owner, history, flags); }
  bool operator==(const Account&) const = default;
};
template <class T>
T round_trip(const T& v) { return decode<T>(encode(v)); }
}  // namespace

TEST_CASE("the encoding decision: raw bytes for contiguous trivially copyable data") {
  static_assert(rmpi::is_bitwise_sendable_v<double>);
  static_assert(rmpi::is_bitwise_sendable_v<Particle>);
  static_assert(rmpi::is_bitwise_sendable_v<std::vector<double>>);
  static_assert(rmpi::is_bitwise_sendable_v<std::array<int, 4>>);
  static_assert(rmpi::is_bitwise_sendable_v<std::string>);
  static_assert(!rmpi::is_bitwise_sendable_v<std::vector<std::string>>);
  static_assert(!rmpi::is_bitwise_sendable_v<Account>);
  static_assert(!rmpi::is_bitwise_sendable_v<int*>);
  // Raw: the payload is exactly the element bytes, no per-element encoding.
  std::vector<double> v(1000, 1.5);
  CHECK(encode(v).payload.size() == 1000 * sizeof(double));
  CHECK(encode(Particle{1, 2, 3, 4}).payload.size() == sizeof(Particle));
}

TEST_CASE("typed round trips") {
  CHECK(round_trip(42) == 42);
  CHECK(round_trip(std::string("hi")) == "hi");
  CHECK(round_trip(std::vector<int>{}) == std::vector<int>{});
  CHECK(round_trip(std::vector<double>{1, 2, 3}) == std::vector<double>{1, 2, 3});
  CHECK(round_trip(std::array<int, 3>{7, 8, 9}) == std::array<int, 3>{7, 8, 9});
  const Particle p = round_trip(Particle{1, 2, 3, 4});
  CHECK((p.x == 1 && p.z == 3 && p.id == 4));
  Account a{"ann", {1.0, -2.5}, {{"vip", 1}}};
  CHECK(round_trip(a) == a);
  auto t = std::make_tuple(1, std::string("two"), 3.0);
  CHECK(round_trip(t) == t);
  std::vector<std::vector<int>> nested{{1}, {}, {2, 3}};
  CHECK(round_trip(nested) == nested);
  std::vector<std::string> words(10000, "w");
  CHECK(round_trip(words) == words);
}

TEST_CASE("receiving another type than was sent is a clear TypeError") {
  Message m = encode(std::vector<double>{1, 2});
  CHECK_THROWS_WITH_AS(decode<std::vector<int>>(m),
                       doctest::Contains("sent as std::vector<double>"), rmpi::TypeError);
  CHECK_THROWS_AS(decode<Value>(encode(3)), rmpi::TypeError);
}

TEST_CASE("malformed raw payloads are protocol errors") {
  Message m = encode(std::vector<double>{1, 2});
  m.payload.pop_back();
  CHECK_THROWS_WITH_AS(decode<std::vector<double>>(m), doctest::Contains("whole number"),
                       rmpi::ProtocolError);
  using Int3 = std::array<int, 3>;
  Message a = encode(Int3{1, 2, 3});
  a.payload.resize(8);
  CHECK_THROWS_AS(decode<Int3>(a), rmpi::ProtocolError);
  Message c = encode(Account{"x", {}, {}});
  c.payload.resize(3);
  CHECK_THROWS_AS(decode<Account>(c), rmpi::ProtocolError);
}

TEST_CASE("type tags are stable and distinct") {
  CHECK(rmpi::type_tag<int>() != rmpi::type_tag<long>());
  CHECK(rmpi::type_tag<std::vector<int>>() == rmpi::type_tag<std::vector<int>>());
  CHECK(rmpi::type_name<int>() == "int");
}

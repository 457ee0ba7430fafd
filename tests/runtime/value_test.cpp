#include <rmpi/value.hpp>

#include <doctest/doctest.h>

#include <rmpi/message.hpp>

using namespace rmpi::places;

namespace {
Value round_trip(const Value& v) { return decode<Value>(encode(v)); }

Value every_kind() {
  Map m;
  m.emplace(Value("k"), Value(1));
  m.emplace(sym("s"), list(1.5, "x"));
  m.emplace(Value(7), Value(nullptr));
  return list(nullptr, true, false, std::int64_t{-42}, 3.25, "text", sym("ok"),
              Bytes{{0, 1, 255}}, List{}, Value(Map{}), Value(std::move(m)));
}
}  // namespace

TEST_CASE("every kind round-trips") {
  const Value v = every_kind();
  CHECK(round_trip(v) == v);
  for (const auto& x : v.as_list()) CHECK(round_trip(x) == x);
}

TEST_CASE("empty values round-trip") {
  CHECK(round_trip(Value("")) == Value(""));
  CHECK(round_trip(Value(List{})).as_list().empty());
  CHECK(round_trip(Value(Map{})).as_map().empty());
  CHECK(round_trip(Value(Bytes{})).as_bytes().data.empty());
  CHECK(round_trip(Value()).is_null());
}

TEST_CASE("deeply nested values round-trip") {
  Value v = 0;
  for (int i = 0; i < 200; ++i) v = list(i, v, sym("n"));
  CHECK(round_trip(v) == v);
}

TEST_CASE("large values round-trip") {
  List l;
  for (int i = 0; i < 100000; ++i) l.push_back(i % 3 ? Value(i) : Value(std::to_string(i)));
  Value v(std::move(l));
  CHECK(round_trip(v) == v);
  Value big(std::string(8 << 20, 'x'));
  CHECK(round_trip(big).as_string().size() == 8u << 20);
}

TEST_CASE("symbols and strings are distinct") {
  CHECK(sym("a") != Value("a"));
  CHECK(round_trip(sym("a")).is_symbol("a"));
  CHECK_FALSE(round_trip(Value("a")).is_symbol());
}

TEST_CASE("accessors name the expected and actual kind") {
  Value v("hello");
  CHECK_THROWS_WITH_AS(v.as_int(), doctest::Contains("expected integer, got string"),
                       rmpi::TypeError);
  CHECK(Value(3).as_double() == 3.0);
}

TEST_CASE("readable form") {
  CHECK(list(sym("set"), "user0", 100).to_string() == "(set \"user0\" 100)");
  CHECK(Value(true).to_string() == "#t");
  CHECK(sym("ok").to_string() == "'ok");
  CHECK(Value(2.0).to_string() == "2.0");
}

TEST_CASE("values order totally, so they key maps") {
  CHECK(Value(1) < Value(2));
  CHECK(Value("a") < Value("b"));
  CHECK(list(1, 2) < list(1, 3));
  Map m;
  m[Value(2.5)] = 1;
  m[Value("x")] = 2;
  CHECK(m.size() == 2);
}

TEST_CASE("garbage payloads are protocol errors, not crashes") {
  Message m = encode(Value(List{Value(1), Value(2)}));
  SUBCASE("truncated") {
    m.payload.resize(m.payload.size() - 3);
    CHECK_THROWS_AS(decode<Value>(m), rmpi::ProtocolError);
  }
  SUBCASE("unknown kind byte") {
    m.payload[0] = std::byte{200};
    CHECK_THROWS_WITH_AS(decode<Value>(m), doctest::Contains("unknown kind"), rmpi::ProtocolError);
  }
  SUBCASE("absurd length") {
    Message s = encode(Value(std::string("abc")));
    for (int i = 1; i <= 8; ++i) s.payload[i] = std::byte{0x7f};
    CHECK_THROWS_WITH_AS(decode<Value>(s), doctest::Contains("exceeds"), rmpi::ProtocolError);
  }
  SUBCASE("trailing bytes") {
    m.payload.push_back(std::byte{0});
    CHECK_THROWS_WITH_AS(decode<Value>(m), doctest::Contains("left over"), rmpi::ProtocolError);
  }
}

#pragma once
/// rmpi::places::Value — the dynamic message type (the reference's untyped
/// place messages): null, bool, int64, double, string, symbol, bytes, list and
/// map. Use it where types are not known up front (RPC arguments, configs,
/// `initial_message`); use a typed message otherwise.
#include <compare>
#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <map>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

namespace rmpi::places {

class Value;

/// A Racket-style symbol: an interned name, distinct from a string.
struct Symbol {
  std::string name;
  auto operator<=>(const Symbol&) const = default;
};

/// Raw bytes, distinct from a string.
struct Bytes {
  std::vector<std::uint8_t> data;
  auto operator<=>(const Bytes&) const = default;
};

using List = std::vector<Value>;
using Map = std::map<Value, Value>;

/// A dynamically typed message value. Cheap to move; copying is deep.
class Value {
 public:
  enum class Kind : std::uint8_t { null, boolean, integer, real, string, symbol, bytes, list, map };

  Value() = default;
  Value(std::nullptr_t) {}
  Value(bool b) : v_(b) {}
  template <class I>
    requires(std::is_integral_v<I> && !std::is_same_v<I, bool>)
  Value(I i) : v_(static_cast<std::int64_t>(i)) {}
  Value(double d) : v_(d) {}
  Value(float d) : v_(static_cast<double>(d)) {}
  Value(const char* s) : v_(std::string(s)) {}
  Value(std::string s) : v_(std::move(s)) {}
  Value(std::string_view s) : v_(std::string(s)) {}
  Value(Symbol s) : v_(std::move(s)) {}
  Value(Bytes b) : v_(std::move(b)) {}
  Value(List l) : v_(std::move(l)) {}
  Value(Map m) : v_(std::move(m)) {}

  Kind kind() const { return static_cast<Kind>(v_.index()); }
  bool is_null() const { return kind() == Kind::null; }
  bool is_bool() const { return kind() == Kind::boolean; }
  bool is_int() const { return kind() == Kind::integer; }
  bool is_double() const { return kind() == Kind::real; }
  bool is_string() const { return kind() == Kind::string; }
  bool is_symbol() const { return kind() == Kind::symbol; }
  bool is_bytes() const { return kind() == Kind::bytes; }
  bool is_list() const { return kind() == Kind::list; }
  bool is_map() const { return kind() == Kind::map; }
  /// True for a symbol named `name`.
  bool is_symbol(std::string_view name) const { return is_symbol() && as_symbol().name == name; }

  /// Accessors throw rmpi::TypeError naming the expected and actual kind.
  bool as_bool() const;
  std::int64_t as_int() const;
  double as_double() const;  // an integer converts
  const std::string& as_string() const;
  const Symbol& as_symbol() const;
  const Bytes& as_bytes() const;
  const List& as_list() const;
  List& as_list();
  const Map& as_map() const;
  Map& as_map();

  /// List element / map entry access; throws TypeError or std::out_of_range.
  const Value& operator[](std::size_t i) const { return as_list().at(i); }
  const Value& at(const Value& key) const;
  std::size_t size() const;  // elements of a list or map, bytes of a string/bytes

  /// Readable form like Racket's `write`: (set "user0" 100), 'sym, #"bytes", #hash((k . v)).
  std::string to_string() const;

  friend bool operator==(const Value& a, const Value& b) { return a.v_ == b.v_; }
  friend std::strong_ordering operator<=>(const Value& a, const Value& b);

  template <class Archive>
  void save(Archive& ar) const;
  template <class Archive>
  void load(Archive& ar);

 private:
  std::variant<std::nullptr_t, bool, std::int64_t, double, std::string, Symbol, Bytes, List, Map> v_;
};

/// Builds a list: list(Symbol{"set"}, "user0", 100).
template <class... Ts>
Value list(Ts&&... xs) {
  return Value(List{Value(std::forward<Ts>(xs))...});
}
/// A symbol value: sym("ok").
inline Value sym(std::string_view name) { return Value(Symbol{std::string(name)}); }

const char* kind_name(Value::Kind k);

}  // namespace rmpi::places

#include <rmpi/impl/value_serialize.hpp>

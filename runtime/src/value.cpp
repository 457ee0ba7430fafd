#include <rmpi/value.hpp>

#include <cstdio>
#include <sstream>

#include <rmpi/error.hpp>

namespace rmpi::places {

const char* kind_name(Value::Kind k) {
  switch (k) {
    case Value::Kind::null: return "null";
    case Value::Kind::boolean: return "bool";
    case Value::Kind::integer: return "integer";
    case Value::Kind::real: return "double";
    case Value::Kind::string: return "string";
    case Value::Kind::symbol: return "symbol";
    case Value::Kind::bytes: return "bytes";
    case Value::Kind::list: return "list";
    case Value::Kind::map: return "map";
  }
  return "unknown";
}

namespace {
[[noreturn]] void wrong_kind(Value::Kind want, const Value& v) {
  throw TypeError(std::string("Value: expected ") + kind_name(want) + ", got " +
                  kind_name(v.kind()) + " " + v.to_string());
}

void write_string(std::ostream& os, std::string_view s) {
  os << '"';
  for (char c : s) {
    switch (c) {
      case '"': os << "\\\""; break;
      case '\\': os << "\\\\"; break;
      case '\n': os << "\\n"; break;
      case '\t': os << "\\t"; break;
      default: os << c;
    }
  }
  os << '"';
}

void write(std::ostream& os, const Value& v) {
  switch (v.kind()) {
    case Value::Kind::null: os << "#<void>"; break;
    case Value::Kind::boolean: os << (v.as_bool() ? "#t" : "#f"); break;
    case Value::Kind::integer: os << v.as_int(); break;
    case Value::Kind::real: {
      char buf[32];
      std::snprintf(buf, sizeof buf, "%.17g", v.as_double());
      std::string s = buf;
      if (s.find_first_of(".eEn") == std::string::npos) s += ".0";
      os << s;
      break;
    }
    case Value::Kind::string: write_string(os, v.as_string()); break;
    case Value::Kind::symbol: os << '\'' << v.as_symbol().name; break;
    case Value::Kind::bytes: {
      os << "#\"";
      for (auto b : v.as_bytes().data) {
        if (b >= 32 && b < 127 && b != '"' && b != '\\') {
          os << static_cast<char>(b);
        } else {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\x%02x", b);
          os << buf;
        }
      }
      os << '"';
      break;
    }
    case Value::Kind::list: {
      os << '(';
      bool first = true;
      for (const auto& x : v.as_list()) {
        if (!first) os << ' ';
        first = false;
        // Symbols inside a list print bare, as Racket's `write` of a quoted list does.
        if (x.is_symbol()) os << x.as_symbol().name;
        else write(os, x);
      }
      os << ')';
      break;
    }
    case Value::Kind::map: {
      os << "#hash(";
      bool first = true;
      for (const auto& [k, x] : v.as_map()) {
        if (!first) os << ' ';
        first = false;
        os << '(';
        write(os, k);
        os << " . ";
        write(os, x);
        os << ')';
      }
      os << ')';
      break;
    }
  }
}
}  // namespace

bool Value::as_bool() const {
  if (!is_bool()) wrong_kind(Kind::boolean, *this);
  return std::get<bool>(v_);
}
std::int64_t Value::as_int() const {
  if (!is_int()) wrong_kind(Kind::integer, *this);
  return std::get<std::int64_t>(v_);
}
double Value::as_double() const {
  if (is_int()) return static_cast<double>(std::get<std::int64_t>(v_));
  if (!is_double()) wrong_kind(Kind::real, *this);
  return std::get<double>(v_);
}
const std::string& Value::as_string() const {
  if (!is_string()) wrong_kind(Kind::string, *this);
  return std::get<std::string>(v_);
}
const Symbol& Value::as_symbol() const {
  if (!is_symbol()) wrong_kind(Kind::symbol, *this);
  return std::get<Symbol>(v_);
}
const Bytes& Value::as_bytes() const {
  if (!is_bytes()) wrong_kind(Kind::bytes, *this);
  return std::get<Bytes>(v_);
}
const List& Value::as_list() const {
  if (!is_list()) wrong_kind(Kind::list, *this);
  return std::get<List>(v_);
}
List& Value::as_list() {
  if (!is_list()) wrong_kind(Kind::list, *this);
  return std::get<List>(v_);
}
const Map& Value::as_map() const {
  if (!is_map()) wrong_kind(Kind::map, *this);
  return std::get<Map>(v_);
}
Map& Value::as_map() {
  if (!is_map()) wrong_kind(Kind::map, *this);
  return std::get<Map>(v_);
}

const Value& Value::at(const Value& key) const {
  const Map& m = as_map();
  auto it = m.find(key);
  if (it == m.end()) throw std::out_of_range("Value: no key " + key.to_string() + " in map");
  return it->second;
}

std::size_t Value::size() const {
  switch (kind()) {
    case Kind::list: return std::get<List>(v_).size();
    case Kind::map: return std::get<Map>(v_).size();
    case Kind::string: return std::get<std::string>(v_).size();
    case Kind::symbol: return std::get<Symbol>(v_).name.size();
    case Kind::bytes: return std::get<Bytes>(v_).data.size();
    default: throw TypeError(std::string("Value: size() of a ") + kind_name(kind()));
  }
}

std::string Value::to_string() const {
  std::ostringstream os;
  write(os, *this);
  return os.str();
}

std::strong_ordering operator<=>(const Value& a, const Value& b) {
  if (a.v_.index() != b.v_.index()) return a.v_.index() <=> b.v_.index();
  if (a.is_double()) {
    // Total order on doubles (NaN sorts last) so Value can key a map.
    const double x = std::get<double>(a.v_), y = std::get<double>(b.v_);
    if (x < y) return std::strong_ordering::less;
    if (y < x) return std::strong_ordering::greater;
    const bool nx = x != x, ny = y != y;
    return nx == ny ? std::strong_ordering::equal
                    : (nx ? std::strong_ordering::greater : std::strong_ordering::less);
  }
  return std::visit(
      [&](const auto& x) -> std::strong_ordering {
        using T = std::decay_t<decltype(x)>;
        const T& y = std::get<T>(b.v_);
        if constexpr (std::is_same_v<T, std::nullptr_t>) {
          return std::strong_ordering::equal;
        } else if constexpr (std::is_same_v<T, double>) {
          return std::strong_ordering::equal;  // handled above
        } else if constexpr (std::is_same_v<T, Map>) {
          return std::lexicographical_compare_three_way(x.begin(), x.end(), y.begin(), y.end(),
                                                        [](const auto& p, const auto& q) {
                                                          if (auto c = p.first <=> q.first; c != 0)
                                                            return c;
                                                          return p.second <=> q.second;
                                                        });
        } else if constexpr (std::is_same_v<T, List>) {
          return std::lexicographical_compare_three_way(x.begin(), x.end(), y.begin(), y.end());
        } else {
          return x <=> y;
        }
      },
      a.v_);
}

}  // namespace rmpi::places

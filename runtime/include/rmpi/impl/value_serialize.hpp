#pragma once
// Cereal save/load for Value: a kind byte, then the payload. Lengths are
// 64-bit (cereal's size_type). Loading checks every length against the bytes
// the payload still holds (decode_limit), so a garbage length is a
// ProtocolError, never a huge allocation.
#include <cereal/cereal.hpp>

#include <rmpi/error.hpp>

namespace rmpi::places::detail {
/// Upper bound on any length read while decoding the current payload; set by
/// decode() to the payload size (one element takes at least one byte).
inline thread_local std::uint64_t decode_limit = ~std::uint64_t{0};

template <class Archive>
std::uint64_t load_length(Archive& ar) {
  cereal::size_type n = 0;
  ar(cereal::make_size_tag(n));
  if (n > decode_limit)
    throw ProtocolError("Value: length " + std::to_string(n) + " exceeds the " +
                        std::to_string(decode_limit) + "-byte payload");
  return n;
}
template <class Archive, class Container>
void load_raw(Archive& ar, Container& c) {
  c.resize(load_length(ar));
  if (!c.empty()) ar(cereal::binary_data(c.data(), c.size()));
}
template <class Archive, class Container>
void save_raw(Archive& ar, const Container& c) {
  ar(cereal::make_size_tag(static_cast<cereal::size_type>(c.size())));
  if (!c.empty()) ar(cereal::binary_data(c.data(), c.size()));
}
}  // namespace rmpi::places::detail

namespace rmpi::places {

template <class Archive>
void Value::save(Archive& ar) const {
  ar(static_cast<std::uint8_t>(v_.index()));
  switch (kind()) {
    case Kind::null: break;
    case Kind::boolean: ar(std::get<bool>(v_)); break;
    case Kind::integer: ar(std::get<std::int64_t>(v_)); break;
    case Kind::real: ar(std::get<double>(v_)); break;
    case Kind::string: detail::save_raw(ar, std::get<std::string>(v_)); break;
    case Kind::symbol: detail::save_raw(ar, std::get<Symbol>(v_).name); break;
    case Kind::bytes: detail::save_raw(ar, std::get<Bytes>(v_).data); break;
    case Kind::list: {
      const List& l = std::get<List>(v_);
      ar(cereal::make_size_tag(static_cast<cereal::size_type>(l.size())));
      for (const auto& x : l) ar(x);
      break;
    }
    case Kind::map: {
      const Map& m = std::get<Map>(v_);
      ar(cereal::make_size_tag(static_cast<cereal::size_type>(m.size())));
      for (const auto& [k, v] : m) ar(k, v);
      break;
    }
  }
}

template <class Archive>
void Value::load(Archive& ar) {
  std::uint8_t k = 0;
  ar(k);
  switch (static_cast<Kind>(k)) {
    case Kind::null: v_ = nullptr; break;
    case Kind::boolean: { bool b; ar(b); v_ = b; break; }
    case Kind::integer: { std::int64_t i; ar(i); v_ = i; break; }
    case Kind::real: { double d; ar(d); v_ = d; break; }
    case Kind::string: { std::string s; detail::load_raw(ar, s); v_ = std::move(s); break; }
    case Kind::symbol: { Symbol s; detail::load_raw(ar, s.name); v_ = std::move(s); break; }
    case Kind::bytes: { Bytes b; detail::load_raw(ar, b.data); v_ = std::move(b); break; }
    case Kind::list: {
      List l(detail::load_length(ar));
      for (auto& x : l) ar(x);
      v_ = std::move(l);
      break;
    }
    case Kind::map: {
      const std::uint64_t n = detail::load_length(ar);
      Map m;
      for (std::uint64_t i = 0; i < n; ++i) {
        Value key, val;
        ar(key, val);
        m.insert_or_assign(std::move(key), std::move(val));
      }
      v_ = std::move(m);
      break;
    }
    default: throw ProtocolError("Value: unknown kind byte " + std::to_string(k) + " in message");
  }
}

}  // namespace rmpi::places

#pragma once
/// Message encoding: one decision point (`rmpi::is_bitwise_sendable`) picks
/// raw bytes (contiguous trivially copyable data: no per-element encoding)
/// or a Cereal binary archive written straight into the message buffer.
/// Every message carries a 64-bit type tag (a hash of the C++ type name), so
/// receiving it as another type is a clear rmpi::TypeError, never garbage.
#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include <cereal/archives/binary.hpp>
#include <cereal/types/array.hpp>
#include <cereal/types/map.hpp>
#include <cereal/types/optional.hpp>
#include <cereal/types/set.hpp>
#include <cereal/types/string.hpp>
#include <cereal/types/tuple.hpp>
#include <cereal/types/unordered_map.hpp>
#include <cereal/types/utility.hpp>
#include <cereal/types/variant.hpp>
#include <cereal/types/vector.hpp>

#include <rmpi/error.hpp>
#include <rmpi/value.hpp>

namespace rmpi {

/// True for types sent as their raw bytes: trivially copyable objects, and
/// vectors / arrays / strings of trivially copyable elements. Specialize to
/// opt a type out (false) or in.
template <class T>
struct is_bitwise_sendable
    : std::bool_constant<std::is_trivially_copyable_v<T> && !std::is_pointer_v<T> &&
                         !std::is_empty_v<T>> {};
template <class T, class A>
struct is_bitwise_sendable<std::vector<T, A>>
    : std::bool_constant<std::is_trivially_copyable_v<T> && !std::is_pointer_v<T> &&
                         !std::is_same_v<T, bool>> {};
template <class T, std::size_t N>
struct is_bitwise_sendable<std::array<T, N>>
    : std::bool_constant<std::is_trivially_copyable_v<T> && !std::is_pointer_v<T>> {};
template <>
struct is_bitwise_sendable<std::string> : std::true_type {};
template <class T>
inline constexpr bool is_bitwise_sendable_v = is_bitwise_sendable<T>::value;

/// The compiler's spelling of T (stable for one compiler and one build).
template <class T>
constexpr std::string_view type_name() {
  std::string_view p = __PRETTY_FUNCTION__;
  const auto start = p.find("T = ") + 4;
  return p.substr(start, p.find_first_of(";]", start) - start);
}

/// FNV-1a 64 of the type name: the tag carried in each message.
template <class T>
constexpr std::uint64_t type_tag() {
  std::uint64_t h = 1469598103934665603ull;
  for (char c : type_name<T>()) h = (h ^ static_cast<unsigned char>(c)) * 1099511628211ull;
  return h;
}

namespace detail {
/// Records tag → name so a mismatch error can name both types when the
/// receiving process knows the sender's type.
void remember_type(std::uint64_t tag, std::string_view name);
std::string describe_type(std::uint64_t tag);
template <class T>
void remember_type() {
  static const bool once = (remember_type(type_tag<T>(), type_name<T>()), true);
  (void)once;
}
}  // namespace detail

}  // namespace rmpi

namespace rmpi::places {

/// An encoded message: its type tag and payload bytes.
struct Message {
  std::uint64_t type_tag = 0;
  std::vector<std::byte> payload;
};

namespace detail {
/// Cereal archive sinks/sources over byte buffers (no intermediate string).
class ByteSink : public std::streambuf {
 public:
  explicit ByteSink(std::vector<std::byte>& out) : out_(out) {}

 protected:
  std::streamsize xsputn(const char* s, std::streamsize n) override {
    const auto* b = reinterpret_cast<const std::byte*>(s);
    out_.insert(out_.end(), b, b + n);
    return n;
  }
  int_type overflow(int_type c) override {
    if (c != traits_type::eof()) out_.push_back(static_cast<std::byte>(c));
    return c;
  }

 private:
  std::vector<std::byte>& out_;
};

class ByteSource : public std::streambuf {
 public:
  explicit ByteSource(std::span<const std::byte> in) {
    char* b = const_cast<char*>(reinterpret_cast<const char*>(in.data()));
    setg(b, b, b + in.size());
  }
  std::size_t remaining() const { return static_cast<std::size_t>(egptr() - gptr()); }
};

template <class T>
std::size_t raw_size(const T& v) {
  if constexpr (std::is_trivially_copyable_v<T>) return sizeof(T);
  else return v.size() * sizeof(typename T::value_type);
}
template <class T>
const std::byte* raw_data(const T& v) {
  if constexpr (std::is_trivially_copyable_v<T>) return reinterpret_cast<const std::byte*>(&v);
  else return reinterpret_cast<const std::byte*>(v.data());
}
[[noreturn]] void throw_type_mismatch(std::uint64_t got, std::uint64_t expected,
                                      std::string_view expected_name);
}  // namespace detail

namespace detail {
/// Appends the encoding of `v` (raw bytes or Cereal archive) to `out`.
template <class T>
void append_encoded(std::vector<std::byte>& out, const T& v) {
  if constexpr (is_bitwise_sendable_v<T>) {
    const std::byte* p = raw_data(v);
    out.insert(out.end(), p, p + raw_size(v));
  } else {
    ByteSink sink(out);
    std::ostream os(&sink);
    cereal::BinaryOutputArchive ar(os);
    ar(v);
  }
}
}  // namespace detail

/// Encodes `v` into a Message (raw bytes or Cereal archive).
template <class T>
Message encode(const T& v) {
  rmpi::detail::remember_type<T>();
  Message m;
  m.type_tag = type_tag<T>();
  detail::append_encoded(m.payload, v);
  return m;
}

/// Decodes a payload known to hold a T (tag already checked). Throws
/// rmpi::ProtocolError if the bytes do not decode to exactly one T.
template <class T>
T decode_payload(std::span<const std::byte> payload) {
  T v{};
  if constexpr (is_bitwise_sendable_v<T>) {
    if constexpr (std::is_trivially_copyable_v<T>) {
      if (payload.size() != sizeof(T))
        throw ProtocolError("message of " + std::to_string(payload.size()) + " bytes where " +
                            std::string(type_name<T>()) + " takes " + std::to_string(sizeof(T)));
      std::memcpy(&v, payload.data(), sizeof(T));
    } else {
      using E = typename T::value_type;
      if (payload.size() % sizeof(E) != 0)
        throw ProtocolError("message of " + std::to_string(payload.size()) +
                            " bytes is not a whole number of " + std::string(type_name<E>()));
      const std::size_t n = payload.size() / sizeof(E);
      if constexpr (requires { v.resize(n); }) {
        v.resize(n);
      } else if (n != v.size()) {
        throw ProtocolError("message holds " + std::to_string(n) + " elements where " +
                            std::string(type_name<T>()) + " has " + std::to_string(v.size()));
      }
      if (n) std::memcpy(v.data(), payload.data(), payload.size());
    }
  } else {
    detail::ByteSource src(payload);
    std::istream is(&src);
    const auto saved_limit = detail::decode_limit;
    detail::decode_limit = payload.size();
    try {
      cereal::BinaryInputArchive ar(is);
      ar(v);
    } catch (const rmpi::Error&) {
      detail::decode_limit = saved_limit;
      throw;
    } catch (const std::exception& e) {
      detail::decode_limit = saved_limit;
      throw ProtocolError("message does not decode as " + std::string(type_name<T>()) + ": " +
                          e.what());
    }
    detail::decode_limit = saved_limit;
    if (src.remaining() != 0)
      throw ProtocolError("message has " + std::to_string(src.remaining()) +
                          " bytes left over after decoding " + std::string(type_name<T>()));
  }
  return v;
}

/// Decodes a Message as T; throws rmpi::TypeError if it was sent as another type.
template <class T>
T decode(const Message& m) {
  rmpi::detail::remember_type<T>();
  if (m.type_tag != type_tag<T>())
    detail::throw_type_mismatch(m.type_tag, type_tag<T>(), type_name<T>());
  return decode_payload<T>(m.payload);
}

}  // namespace rmpi::places

#include <rmpi/collective_overrides.hpp>

#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include <rmpi/error.hpp>

namespace rmpi {
namespace {

/// `text` cut to 40 characters, with anything unprintable as \xNN.
std::string escaped(std::string_view text) {
  constexpr std::size_t kMax = 40;
  std::string out;
  for (std::size_t i = 0; i < text.size() && i < kMax; ++i) {
    const auto c = static_cast<unsigned char>(text[i]);
    if (c >= 0x20 && c < 0x7f && c != '\\' && c != '\'') {
      out += static_cast<char>(c);
    } else {
      char hex[5];
      std::snprintf(hex, sizeof hex, "\\x%02x", c);
      out += hex;
    }
  }
  if (text.size() > kMax) out += "...";
  return out;
}

template <class Algorithm>
std::optional<Algorithm> parse(const char* (*lookup)(const char*), const char* name) {
  const char* value = lookup(name);
  if (value == nullptr || *value == '\0') return std::nullopt;
  if (auto algorithm = collectives::parse_algorithm<Algorithm>(value)) return algorithm;
  std::string valid;
  for (auto n : collectives::algorithm_names<Algorithm>()) {
    valid += (valid.empty() ? "" : ", ") + std::string(n);
  }
  throw ConfigError("rmpi: " + std::string(name) + "='" + escaped(value) +
                    "' is not an algorithm; valid values: " + valid);
}

const char* getenv_lookup(const char* name) { return std::getenv(name); }

}  // namespace

CollectiveOverrides parse_collective_overrides(const char* (*lookup)(const char* name)) {
  CollectiveOverrides o;
  o.allreduce = parse<collectives::AllreduceAlgorithm>(lookup, "RMPI_COLL_ALLREDUCE");
  o.broadcast = parse<collectives::BroadcastAlgorithm>(lookup, "RMPI_COLL_BROADCAST");
  o.barrier = parse<collectives::BarrierAlgorithm>(lookup, "RMPI_COLL_BARRIER");
  o.allgather = parse<collectives::AllgatherAlgorithm>(lookup, "RMPI_COLL_ALLGATHER");
  return o;
}

const CollectiveOverrides& collective_overrides() {
  static const CollectiveOverrides overrides = parse_collective_overrides(&getenv_lookup);
  return overrides;
}

}  // namespace rmpi

#include <rmpi/message.hpp>

#include <cstdio>
#include <mutex>
#include <unordered_map>

namespace rmpi::detail {
namespace {
std::mutex& registry_mutex() {
  static std::mutex mu;
  return mu;
}
std::unordered_map<std::uint64_t, std::string>& registry() {
  static std::unordered_map<std::uint64_t, std::string> names;
  return names;
}
}  // namespace

void remember_type(std::uint64_t tag, std::string_view name) {
  std::lock_guard lock(registry_mutex());
  registry().emplace(tag, std::string(name));
}

std::string describe_type(std::uint64_t tag) {
  {
    std::lock_guard lock(registry_mutex());
    if (auto it = registry().find(tag); it != registry().end()) return it->second;
  }
  char buf[48];
  std::snprintf(buf, sizeof buf, "an unknown type (tag %016llx)",
                static_cast<unsigned long long>(tag));
  return buf;
}
}  // namespace rmpi::detail

namespace rmpi::places::detail {
void throw_type_mismatch(std::uint64_t got, std::uint64_t expected, std::string_view expected_name) {
  (void)expected;
  throw TypeError("received a message sent as " + rmpi::detail::describe_type(got) +
                  " where " + std::string(expected_name) + " was expected");
}
}  // namespace rmpi::places::detail

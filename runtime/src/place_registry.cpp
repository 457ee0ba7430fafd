#include <limits.h>
#include <unistd.h>

#include <map>
#include <mutex>

#include "local_place.hpp"

namespace rmpi::places {

namespace detail {
namespace {
struct Registry {
  std::mutex mu;
  std::map<std::string, PlaceFunction> functions;
  std::map<std::string, PlaceThunk> thunks;
};
Registry& registry() {
  static auto* r = new Registry();  // leaked: used from static initializers and until _exit
  return *r;
}
}  // namespace

bool register_place(const char* name, PlaceFunction fn) {
  auto& r = registry();
  std::lock_guard lock(r.mu);
  r.functions[name] = fn;
  return true;
}

bool register_place_thunk(const char* name, PlaceThunk fn) {
  auto& r = registry();
  std::lock_guard lock(r.mu);
  r.thunks[name] = fn;
  return true;
}

PlaceFunction find_place(const std::string& name) {
  auto& r = registry();
  std::lock_guard lock(r.mu);
  auto it = r.functions.find(name);
  return it == r.functions.end() ? nullptr : it->second;
}

PlaceThunk find_place_thunk(const std::string& name) {
  auto& r = registry();
  std::lock_guard lock(r.mu);
  auto it = r.thunks.find(name);
  return it == r.thunks.end() ? nullptr : it->second;
}
}  // namespace detail

std::string executable_path() {
  char buf[PATH_MAX + 1] = {};
  const ssize_t n = ::readlink("/proc/self/exe", buf, PATH_MAX);
  if (n <= 0) return {};
  return std::string(buf, static_cast<std::size_t>(n));
}

}  // namespace rmpi::places

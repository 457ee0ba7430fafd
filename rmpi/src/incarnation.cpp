#include <rmpi/incarnation.hpp>

#include <cstdlib>
#include <string>

#include <rmpi/error.hpp>
#include <rmpi/quoted_input.hpp>

namespace rmpi {

int restart_count() {
  static const int count = [] {
    const char* v = std::getenv(kRestartCountEnv);
    if (!v || !*v) return 0;
    char* end = nullptr;
    const long n = std::strtol(v, &end, 10);
    if (*end != '\0' || n < 0 || n > 1'000'000'000)
      throw ConfigError(std::string("rmpi: ") + kRestartCountEnv + "=" + quoted_input(v) +
                        " is not a count of restarts");
    return static_cast<int>(n);
  }();
  return count;
}

bool detail::restartable() {
  const char* v = std::getenv(kRestartCountEnv);
  return v && *v;
}

}  // namespace rmpi

// The choice of path for a frame over shared memory (shm/large_path.hpp),
// and RMPI_SHM_CMA, which forces it.
#include "shm/large_path.hpp"

#include <doctest/doctest.h>

#include <cstdlib>
#include <initializer_list>
#include <string>

#include <rmpi/error.hpp>

#include "shm/context.hpp"

namespace shm = rmpi::detail::shm;
using shm::CmaMode;
using shm::CmaVerdict;
using shm::LargePath;

namespace {
constexpr std::size_t kEager = 16 * 1024;
constexpr std::size_t kPull = 32 * 1024;

LargePath path(std::size_t size, CmaVerdict v, CmaMode m, bool posted) {
  return shm::choose_path(
      {.size = size, .eager_limit = kEager, .pull_threshold = kPull, .verdict = v, .mode = m, .receive_posted = posted});
}
}  // namespace

TEST_CASE("up to the eager limit a frame goes whole, whatever the rest") {
  for (const auto v : {CmaVerdict::unknown, CmaVerdict::allowed, CmaVerdict::refused})
    for (const auto m : {CmaMode::automatic, CmaMode::never, CmaMode::always})
      for (const bool posted : {false, true}) {
        CHECK(path(0, v, m, posted) == LargePath::eager);
        CHECK(path(kEager, v, m, posted) == LargePath::eager);
      }
}

TEST_CASE("above it: wait for the peer's verdict; refused means pipelined") {
  for (const auto m : {CmaMode::automatic, CmaMode::never, CmaMode::always}) {
    CHECK(path(kEager + 1, CmaVerdict::unknown, m, true) == LargePath::wait_verdict);
    CHECK(path(1 << 20, CmaVerdict::refused, m, true) == LargePath::pipelined);
  }
}

TEST_CASE("RMPI_SHM_CMA=0 / =1 force the path when the kernel allows CMA") {
  for (const bool posted : {false, true}) {
    CHECK(path(kEager + 1, CmaVerdict::allowed, CmaMode::never, posted) == LargePath::pipelined);
    CHECK(path(1 << 30, CmaVerdict::allowed, CmaMode::never, posted) == LargePath::pipelined);
    CHECK(path(kEager + 1, CmaVerdict::allowed, CmaMode::always, posted) == LargePath::pull);
    CHECK(path(1 << 30, CmaVerdict::allowed, CmaMode::always, posted) == LargePath::pull);
  }
}

TEST_CASE("automatic: pulled from the threshold on into a posted receive, pipelined otherwise") {
  const auto a = CmaVerdict::allowed;
  const auto m = CmaMode::automatic;
  CHECK(path(kPull - 1, a, m, true) == LargePath::pipelined);
  CHECK(path(kPull, a, m, true) == LargePath::pull);
  CHECK(path(64 << 20, a, m, true) == LargePath::pull);
  CHECK(path(kPull, a, m, false) == LargePath::pipelined);
  CHECK(path(64 << 20, a, m, false) == LargePath::pipelined);
  // A threshold under the eager limit: everything above the limit qualifies.
  CHECK(shm::choose_path({.size = kEager + 1, .eager_limit = kEager, .pull_threshold = 0, .verdict = a,
                          .mode = m, .receive_posted = true}) == LargePath::pull);
  static_assert(shm::kDefaultPullThreshold > 16 * 1024);  // above the default eager limit
}

TEST_CASE("RMPI_SHM_CMA other than 0 or 1 is a ConfigError naming it, the value escaped") {
  ::setenv(shm::kCmaEnv, "yes\n", 1);
  std::string what;
  try {
    (void)shm::Context::create(0, 2, "large-path-test");
  } catch (const rmpi::ConfigError& e) {
    what = e.what();
  }
  ::unsetenv(shm::kCmaEnv);
  CHECK(what.find("RMPI_SHM_CMA=") != std::string::npos);
  CHECK(what.find("expected 0") != std::string::npos);
  CHECK(what.find('\n') == std::string::npos);  // escaped
  CHECK(shm::Context::create(0, 2, "large-path-test") != nullptr);  // unset: fine
}

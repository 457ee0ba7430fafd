// RMPI_COLL_* parsing: each variable forces one algorithm; a bad value is one
// line naming the variable, the value and the valid values.
#include <rmpi/collective_overrides.hpp>

#include <doctest/doctest.h>

#include <map>
#include <string>

#include <rmpi/error.hpp>

namespace rc = rmpi::collectives;

namespace {

std::map<std::string, std::string> fake_env;

const char* fake_lookup(const char* name) {
  auto it = fake_env.find(name);
  return it == fake_env.end() ? nullptr : it->second.c_str();
}

}  // namespace

TEST_CASE("no RMPI_COLL_* variable: nothing is forced") {
  fake_env = {{"RMPI_COLL_ALLREDUCE", ""}};
  const auto o = rmpi::parse_collective_overrides(&fake_lookup);
  CHECK_FALSE(o.allreduce);
  CHECK_FALSE(o.broadcast);
  CHECK_FALSE(o.barrier);
  CHECK_FALSE(o.allgather);
}

TEST_CASE("each RMPI_COLL_* variable forces its collective's algorithm") {
  fake_env = {{"RMPI_COLL_ALLREDUCE", "ring"},
              {"RMPI_COLL_BROADCAST", "scatter_allgather"},
              {"RMPI_COLL_BARRIER", "hypercube"},
              {"RMPI_COLL_ALLGATHER", "bruck"}};
  const auto o = rmpi::parse_collective_overrides(&fake_lookup);
  CHECK(o.allreduce == rc::AllreduceAlgorithm::ring);
  CHECK(o.broadcast == rc::BroadcastAlgorithm::scatter_allgather);
  CHECK(o.barrier == rc::BarrierAlgorithm::hypercube);
  CHECK(o.allgather == rc::AllgatherAlgorithm::bruck);
  for (const char* name : {"hypercube", "recursive_doubling", "rabenseifner", "ring"}) {
    fake_env = {{"RMPI_COLL_ALLREDUCE", name}};
    const auto parsed = rmpi::parse_collective_overrides(&fake_lookup).allreduce;
    REQUIRE(parsed);
    CHECK(rc::algorithm_name(*parsed) == name);
  }
}

TEST_CASE("an unknown algorithm is a ConfigError naming the variable and the valid values") {
  fake_env = {{"RMPI_COLL_ALLREDUCE", "Ring"}};
  CHECK_THROWS_WITH_AS(rmpi::parse_collective_overrides(&fake_lookup),
                       "rmpi: RMPI_COLL_ALLREDUCE='Ring' is not an algorithm; valid values: "
                       "hypercube, recursive_doubling, rabenseifner, ring",
                       rmpi::ConfigError);
  fake_env = {{"RMPI_COLL_BARRIER", "ring"}};
  CHECK_THROWS_WITH_AS(rmpi::parse_collective_overrides(&fake_lookup),
                       "rmpi: RMPI_COLL_BARRIER='ring' is not an algorithm; valid values: "
                       "hypercube, dissemination",
                       rmpi::ConfigError);
}

TEST_CASE("the echoed value is cut short and escaped") {
  fake_env = {{"RMPI_COLL_BROADCAST", "a\nb'" + std::string(100, 'x')}};
  try {
    (void)rmpi::parse_collective_overrides(&fake_lookup);
    FAIL("no error");
  } catch (const rmpi::ConfigError& e) {
    const std::string what = e.what();
    CHECK(what.find('\n') == std::string::npos);
    CHECK(what.find("'a\\x0ab\\x27xxx") != std::string::npos);
    CHECK(what.find("...' is not an algorithm; valid values: hypercube, scatter_allgather") !=
          std::string::npos);
    CHECK(what.size() < 160);
  }
}

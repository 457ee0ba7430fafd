// The launch environment: parsing, defaults, and errors naming the variable.
#include <rmpi/launch_env.hpp>

#include <cstdlib>
#include <string>

#include <doctest/doctest.h>

#include <rmpi/error.hpp>

namespace {

void set_all(const std::map<std::string, std::string>& vars) {
  for (const char* v : {rmpi::kRankEnv, rmpi::kSizeEnv, rmpi::kLocalRankEnv, rmpi::kLocalSizeEnv,
                        rmpi::kNodeIdEnv, rmpi::kJobSecretEnv, rmpi::kRendezvousEnv, rmpi::kAdvertiseEnv,
                        rmpi::kPortRangeEnv, rmpi::kJobIdEnv, rmpi::kSpinEnv, rmpi::kInitTimeoutEnv,
                        rmpi::kYieldWhenIdleEnv})
    ::unsetenv(v);
  for (const auto& [k, v] : vars) ::setenv(k.c_str(), v.c_str(), 1);
}

std::string error_of(const std::map<std::string, std::string>& vars) {
  set_all(vars);
  try {
    rmpi::read_launch_env();
  } catch (const rmpi::ConfigError& e) {
    return e.what();
  }
  return "";
}

}  // namespace

TEST_CASE("read_launch_env round-trips launch_env_vars") {
  rmpi::LaunchEnv e;
  e.rank = 3;
  e.size = 5;
  e.local_rank = 1;
  e.local_size = 2;
  e.node_id = "host2";
  e.secret = "abc";
  e.rendezvous_host = "10.0.0.1";
  e.rendezvous_port = 4242;
  e.advertise = "10.0.0.7";
  e.port_first = 7000;
  e.port_last = 7010;
  e.job_id = "job9";
  e.spin = std::chrono::microseconds(0);
  e.init_timeout = std::chrono::seconds(5);
  e.yield_when_idle = true;
  set_all(rmpi::launch_env_vars(e));
  const rmpi::LaunchEnv r = rmpi::read_launch_env();
  CHECK(r.rank == 3);
  CHECK(r.size == 5);
  CHECK(r.local_rank == 1);
  CHECK(r.local_size == 2);
  CHECK(r.node_id == "host2");
  CHECK(r.secret == "abc");
  CHECK(r.rendezvous_host == "10.0.0.1");
  CHECK(r.rendezvous_port == 4242);
  CHECK(r.advertise == "10.0.0.7");
  CHECK(r.port_first == 7000);
  CHECK(r.port_last == 7010);
  CHECK(r.job_id == "job9");
  CHECK(r.spin.count() == 0);
  CHECK(r.init_timeout.count() == 5);
  CHECK(r.yield_when_idle == std::optional<bool>(true));
}

TEST_CASE("defaults for the optional variables") {
  set_all({{"RMPI_RANK", "0"}, {"RMPI_SIZE", "1"}, {"RMPI_JOB_SECRET", "s"}});
  const rmpi::LaunchEnv r = rmpi::read_launch_env();
  CHECK(r.spin.count() == 50);
  CHECK(r.advertise == "127.0.0.1");
  CHECK(r.port_first == 0);
  CHECK(r.node_id == "0");
  CHECK(!r.yield_when_idle);  // the rank decides
}

TEST_CASE("neither RMPI_RANK nor RMPI_SIZE: a singleton, rank 0 of 1, nothing else needed") {
  set_all({});
  const rmpi::LaunchEnv r = rmpi::read_launch_env();
  CHECK(r.rank == 0);
  CHECK(r.size == 1);
  CHECK(r.local_rank == 0);
  CHECK(r.local_size == 1);
}

TEST_CASE("errors name the variable") {
  CHECK(error_of({{"RMPI_RANK", "0"}}).find("RMPI_SIZE is not set") != std::string::npos);
  CHECK(error_of({{"RMPI_SIZE", "2"}}).find("RMPI_RANK is not set") != std::string::npos);
  CHECK(error_of({{"RMPI_SIZE", "2"}, {"RMPI_RANK", "2"}, {"RMPI_JOB_SECRET", "s"}})
            .find("RMPI_RANK='2' is not a number in 0..1") != std::string::npos);
  CHECK(error_of({{"RMPI_SIZE", "2"}, {"RMPI_RANK", "1"}}).find("RMPI_JOB_SECRET is not set") !=
        std::string::npos);
  CHECK(error_of({{"RMPI_SIZE", "2"}, {"RMPI_RANK", "1"}, {"RMPI_JOB_SECRET", "s"}})
            .find("RMPI_RENDEZVOUS is not set") != std::string::npos);
  CHECK(error_of({{"RMPI_SIZE", "2"}, {"RMPI_RANK", "1"}, {"RMPI_JOB_SECRET", "s"},
                  {"RMPI_RENDEZVOUS", "nohost"}})
            .find("RMPI_RENDEZVOUS='nohost' is not host:port") != std::string::npos);
  CHECK(error_of({{"RMPI_SIZE", "1"}, {"RMPI_RANK", "0"}, {"RMPI_JOB_SECRET", "s"},
                  {"RMPI_PORT_RANGE", "9000-8000"}})
            .find("RMPI_PORT_RANGE='9000-8000' is an empty range") != std::string::npos);
  CHECK(error_of({{"RMPI_SIZE", "1"}, {"RMPI_RANK", "0"}, {"RMPI_JOB_SECRET", "s"},
                  {"RMPI_YIELD_WHEN_IDLE", "yes"}})
            .find("RMPI_YIELD_WHEN_IDLE='yes' is not a number in 0..1") != std::string::npos);
}

#include <rmpi/launch_env.hpp>

#include <rmpi/interface_address.hpp>

#include <cstdlib>

#include <rmpi/error.hpp>

#include "net.hpp"

namespace rmpi {
namespace {

const char* get(const char* name) {
  const char* v = std::getenv(name);
  return v && *v ? v : nullptr;
}

long parse_long(const char* name, const std::string& text, long lo, long hi) {
  long v = 0;
  std::size_t used = 0;
  try {
    v = std::stol(text, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  if (used == 0 || used != text.size() || v < lo || v > hi)
    throw ConfigError("rmpi: " + std::string(name) + "='" + text + "' is not a number in " +
                      std::to_string(lo) + ".." + std::to_string(hi));
  return v;
}

long required_long(const char* name, long lo, long hi) {
  const char* v = get(name);
  if (!v)
    throw ConfigError("rmpi: " + std::string(name) +
                      " is not set (start the program with rmpirun, or set the launch environment)");
  return parse_long(name, v, lo, hi);
}

long optional_long(const char* name, long def, long lo, long hi) {
  const char* v = get(name);
  return v ? parse_long(name, v, lo, hi) : def;
}

}  // namespace

LaunchEnv read_launch_env() {
  LaunchEnv e;
  // Started without a launcher (MPI's "singleton"): rank 0 of a world of 1.
  if (!get(kSizeEnv) && !get(kRankEnv)) return e;
  e.size = static_cast<int>(required_long(kSizeEnv, 1, 1 << 20));
  e.rank = static_cast<int>(required_long(kRankEnv, 0, e.size - 1));
  e.local_size = static_cast<int>(optional_long(kLocalSizeEnv, 1, 1, e.size));
  e.local_rank = static_cast<int>(optional_long(kLocalRankEnv, 0, 0, e.local_size - 1));
  if (const char* v = get(kNodeIdEnv)) e.node_id = v;
  const char* secret = get(kJobSecretEnv);
  if (!secret) throw ConfigError("rmpi: " + std::string(kJobSecretEnv) + " is not set");
  e.secret = secret;
  if (const char* v = get(kRendezvousEnv)) {
    std::tie(e.rendezvous_host, e.rendezvous_port) = detail::split_host_port(v, kRendezvousEnv);
  } else if (e.size > 1) {
    throw ConfigError("rmpi: " + std::string(kRendezvousEnv) + " is not set (need host:port)");
  }
  if (const char* v = get(kAdvertiseEnv)) e.advertise = v;
  if (const char* v = get(kIfaceEnv)) e.advertise = resolve_interface_address(v);
  if (const char* v = get(kPortRangeEnv)) {
    const std::string s = v;
    const auto dash = s.find('-');
    if (dash == std::string::npos) {
      e.port_first = e.port_last = static_cast<int>(parse_long(kPortRangeEnv, s, 1, 65535));
    } else {
      e.port_first = static_cast<int>(parse_long(kPortRangeEnv, s.substr(0, dash), 1, 65535));
      e.port_last = static_cast<int>(parse_long(kPortRangeEnv, s.substr(dash + 1), 1, 65535));
      if (e.port_last < e.port_first)
        throw ConfigError("rmpi: " + std::string(kPortRangeEnv) + "='" + s + "' is an empty range");
    }
  }
  if (const char* v = get(kJobIdEnv)) {
    e.job_id = v;
  } else {
    e.job_id = e.rendezvous_host + "-" + std::to_string(e.rendezvous_port);
  }
  e.spin = std::chrono::microseconds(optional_long(kSpinEnv, 50, 0, 10'000'000));
  e.init_timeout = std::chrono::seconds(optional_long(kInitTimeoutEnv, 60, 1, 86'400));
  if (get(kYieldWhenIdleEnv)) e.yield_when_idle = optional_long(kYieldWhenIdleEnv, 0, 0, 1) == 1;
  return e;
}

std::map<std::string, std::string> launch_env_vars(const LaunchEnv& e) {
  std::map<std::string, std::string> m{
      {kRankEnv, std::to_string(e.rank)},
      {kSizeEnv, std::to_string(e.size)},
      {kLocalRankEnv, std::to_string(e.local_rank)},
      {kLocalSizeEnv, std::to_string(e.local_size)},
      {kNodeIdEnv, e.node_id},
      {kJobSecretEnv, e.secret},
      {kAdvertiseEnv, e.advertise},
  };
  if (!e.rendezvous_host.empty())
    m[kRendezvousEnv] = e.rendezvous_host + ":" + std::to_string(e.rendezvous_port);
  if (e.port_first > 0)
    m[kPortRangeEnv] = std::to_string(e.port_first) + "-" + std::to_string(e.port_last);
  if (!e.job_id.empty()) m[kJobIdEnv] = e.job_id;
  if (e.spin != std::chrono::microseconds(50)) m[kSpinEnv] = std::to_string(e.spin.count());
  if (e.init_timeout != std::chrono::seconds(60))
    m[kInitTimeoutEnv] = std::to_string(e.init_timeout.count());
  if (e.yield_when_idle) m[kYieldWhenIdleEnv] = *e.yield_when_idle ? "1" : "0";
  return m;
}

}  // namespace rmpi

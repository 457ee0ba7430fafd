#include <rmpi/launcher/rank_limit.hpp>

#include <sys/resource.h>

#include <algorithm>
#include <fstream>
#include <string>
#include <vector>

#include <rmpi/error.hpp>

namespace rmpi::launcher {
namespace {

constexpr long kRankCap = 1024;

/// A positive number read from a file ("max" and unreadable files give none).
long number_in(const std::string& path) {
  std::ifstream in(path);
  long value = 0;
  return (in >> value) && value > 0 ? value : 0;
}

/// pids.max of this process's cgroup (v2 "0::" line, or the v1 pids controller).
long cgroup_pids_max() {
  std::ifstream in("/proc/self/cgroup");
  long lowest = 0;
  for (std::string line; std::getline(in, line);) {
    const auto first = line.find(':'), second = line.find(':', first + 1);
    if (first == std::string::npos || second == std::string::npos) continue;
    const std::string controllers = line.substr(first + 1, second - first - 1);
    const std::string path = line.substr(second + 1);
    std::string file;
    if (controllers.empty()) file = "/sys/fs/cgroup/unified" + path + "/pids.max";
    else if (controllers == "pids") file = "/sys/fs/cgroup/pids" + path + "/pids.max";
    else continue;
    const long v = number_in(file);
    if (v > 0 && (lowest == 0 || v < lowest)) lowest = v;
    if (controllers.empty()) {
      const long unified = number_in("/sys/fs/cgroup" + path + "/pids.max");
      if (unified > 0 && (lowest == 0 || unified < lowest)) lowest = unified;
    }
  }
  return lowest;
}

}  // namespace

int default_max_ranks_per_host() {
  long limit = kRankCap;
  for (long v : {number_in("/proc/sys/kernel/pid_max"), number_in("/proc/sys/kernel/threads-max"),
                 cgroup_pids_max()})
    if (v > 0) limit = std::min(limit, v);
  rlimit nproc{};
  if (::getrlimit(RLIMIT_NPROC, &nproc) == 0 && nproc.rlim_cur != RLIM_INFINITY)
    limit = std::min(limit, static_cast<long>(nproc.rlim_cur));
  return static_cast<int>(std::max(1L, limit));
}

void check_ranks_per_host(const JobLayout& layout, int max, bool given) {
  std::vector<int> count(layout.hosts.size(), 0);
  for (const auto& r : layout.ranks) ++count[static_cast<std::size_t>(r.host_index)];
  for (std::size_t h = 0; h < count.size(); ++h) {
    if (count[h] <= max) continue;
    throw ConfigError(std::to_string(count[h]) + " ranks on " +
                      layout.hosts[h].name + " exceed --max-ranks-per-host " +
                      std::to_string(max) +
                      (given ? std::string()
                             : " (the default: the lower of 1024 and this host's process limit)") +
                      "; lower -n or raise --max-ranks-per-host");
  }
}

}  // namespace rmpi::launcher

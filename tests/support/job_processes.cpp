#include "job_processes.hpp"

#include "process_exit.hpp"

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>

namespace rmpi::testing {
namespace {
std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}
}  // namespace

std::vector<std::string> processes_with(const std::string& marker) {
  std::vector<std::string> found;
  const std::string self = std::to_string(::getpid());
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator("/proc", ec)) {
    const std::string pid = entry.path().filename().string();
    if (pid.empty() || pid.find_first_not_of("0123456789") != std::string::npos || pid == self)
      continue;
    const std::string env = read_file(entry.path().string() + "/environ");
    std::string cmd = read_file(entry.path().string() + "/cmdline");
    if (env.find(marker) == std::string::npos && cmd.find(marker) == std::string::npos) continue;
    for (auto& c : cmd)
      if (c == '\0') c = ' ';
    found.push_back(pid + ": " + cmd);
  }
  return found;
}

std::vector<std::string> leftovers(const std::string& marker, std::chrono::milliseconds limit) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  for (;;) {
    auto found = processes_with(marker);
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (found.empty() || left.count() <= 0) return found;
    // Wait for those found to end, then look again (one may have started another).
    std::vector<pid_t> pids;
    for (const auto& p : found) pids.push_back(static_cast<pid_t>(std::stol(p)));
    wait_until_gone(pids, left);
  }
}

}  // namespace rmpi::testing

#include "rmpi/ssh.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <climits>
#include <cstdlib>
#include <utility>

#include "rmpi/error.hpp"
#include "rmpi/quoted_input.hpp"

namespace rmpi::places {
namespace {

constexpr std::array<const char*, 5> kFallbackSshPaths = {
    "/usr/local/bin/ssh", "/usr/bin/ssh", "/bin/ssh", "/opt/local/bin/ssh", "/opt/bin/ssh"};

bool is_executable_file(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode) && ::access(path.c_str(), X_OK) == 0;
}

std::string where(const char* file, int line) {
  return std::string(file) + ":" + std::to_string(line);
}

}  // namespace

std::string ssh_bin_path() {
  if (const char* path = std::getenv("PATH")) {
    std::string_view rest(path);
    while (true) {
      const auto colon = rest.find(':');
      const std::string_view dir = rest.substr(0, colon);
      // An empty PATH entry means the current directory; never pick an ssh
      // from wherever the program happens to run.
      if (!dir.empty()) {
        std::string candidate(dir);
        candidate += "/ssh";
        if (is_executable_file(candidate)) return candidate;
      }
      if (colon == std::string_view::npos) break;
      rest.remove_prefix(colon + 1);
    }
  }
  for (const char* candidate : kFallbackSshPaths) {
    if (is_executable_file(candidate)) return candidate;
  }
  std::string tried;
  for (const char* candidate : kFallbackSshPaths)
    tried += std::string(tried.empty() ? "" : ", ") + candidate;
  throw SpawnError(where(__FILE__, __LINE__) + ": ssh not found in PATH or " + tried);
}

std::string shell_quote(std::string_view word) {
  std::string quoted;
  quoted.reserve(word.size() + 2);
  quoted += '\'';
  for (const char c : word) {
    if (c == '\'') {
      quoted += "'\\''";
    } else {
      quoted += c;
    }
  }
  quoted += '\'';
  return quoted;
}

std::string remote_command(const std::vector<std::string>& remote_argv, std::string_view prefix) {
  if (remote_argv.empty()) {
    throw ConfigError(where(__FILE__, __LINE__) + ": ssh: empty remote command");
  }
  std::string command;
  if (!prefix.empty()) {
    const std::string p(prefix);
    // ${X:+:$X}: no trailing ':' when LD_LIBRARY_PATH is unset, since an empty
    // entry would make the loader search the current directory.
    command += "PATH=" + shell_quote(p + "/bin") + ":\"$PATH\" ";
    command +=
        "LD_LIBRARY_PATH=" + shell_quote(p + "/lib") + "\"${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}\" ";
  }
  command += "exec";
  for (const auto& word : remote_argv) {
    command += ' ';
    command += shell_quote(word);
  }
  return command;
}

std::vector<std::string> ssh_argv(std::string_view host,
                                  const std::vector<std::string>& remote_argv,
                                  const SshOptions& options) {
  const auto at = host.rfind('@');
  const std::string_view name = at == std::string_view::npos ? host : host.substr(at + 1);
  if (host.empty() || name.empty()) {
    throw ConfigError(where(__FILE__, __LINE__) + ": ssh: empty host name in " +
                      quoted_input(host));
  }
  if (host.front() == '-' || name.front() == '-') {
    throw ConfigError(where(__FILE__, __LINE__) + ": ssh: host " + quoted_input(host) +
                      " starts with '-' and would be read as an ssh option");
  }
  std::string command = remote_command(remote_argv, options.prefix);

  std::vector<std::string> argv;
  argv.reserve(options.extra_args.size() + 8);
  argv.push_back(options.ssh_path.empty() ? ssh_bin_path() : options.ssh_path);
  argv.emplace_back("-o");
  argv.emplace_back("BatchMode=yes");
  argv.insert(argv.end(), options.extra_args.begin(), options.extra_args.end());
  argv.emplace_back("-T");
  argv.emplace_back("--");
  argv.emplace_back(host);
  argv.push_back(std::move(command));
  return argv;
}


namespace {
bool equal_ignoring_case(std::string_view a, std::string_view b) {
  const auto lower = [](char c) { return (c >= 'A' && c <= 'Z') ? char(c - 'A' + 'a') : c; };
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(),
                                            [&](char x, char y) { return lower(x) == lower(y); });
}

std::string own_hostname() {
  char buffer[HOST_NAME_MAX + 1] = {};
  if (::gethostname(buffer, sizeof buffer - 1) != 0) return {};
  return buffer;
}
}  // namespace

bool is_local_host(std::string_view host, std::string_view own) {
  for (std::string_view loopback :
       {"localhost", "localhost.localdomain", "127.0.0.1", "::1", "[::1]"}) {
    if (equal_ignoring_case(host, loopback)) return true;
  }
  if (host.empty() || own.empty()) return false;
  if (equal_ignoring_case(host, own)) return true;
  // gethostname may give the FQDN: its short form is local too. A qualified name for a short
  // own name cannot be checked without resolving it, so it counts as remote.
  const bool host_is_short = host.find('.') == std::string_view::npos;
  return host_is_short && equal_ignoring_case(host, own.substr(0, own.find('.')));
}

bool is_local_host(std::string_view host) { return is_local_host(host, own_hostname()); }

}  // namespace rmpi::places

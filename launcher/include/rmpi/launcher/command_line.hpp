#pragma once
/// Parsing the rmpirun command line into a LaunchSpec.
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <variant>

#include <rmpi/launcher/launch_spec.hpp>

namespace rmpi::launcher {

/// The outcome of --help or --version: text for stdout and the exit code; nothing is launched.
struct PrintAndExit {
  std::string text;
  int exit_code = 0;
};

/// Either a job to launch or text to print.
using ParseResult = std::variant<LaunchSpec, PrintAndExit>;

/// Looks up an environment variable; empty when it is not set.
using EnvLookup = std::function<std::optional<std::string>(std::string_view name)>;

/// The process environment (std::getenv).
std::optional<std::string> process_env(std::string_view name);

/// Parses `rmpirun [options] program [args...]`, or MPMD parts separated by `:` tokens
/// (`rmpirun [options] -n 1 ./a : -n 3 ./b args`), each with its own -n, -x and -wdir. What
/// follows a program is passed to it untouched, up to a `:`; `--` ends the options; every long
/// option may be spelt with one dash (-np, -hostfile). RMPI_SSH_ARGS and RMPI_PORT_RANGE (read
/// through `env`) are defaults that options override; `-x NAME` reads NAME through `env`.
/// Throws rmpi::ConfigError (one line naming the option, value and MPMD part) for unknown
/// options (with the nearest valid one), missing or bad values, a `:` without a program, a
/// part of an MPMD line without -n, or a missing program.
ParseResult parse_command_line(int argc, const char* const* argv,
                               const EnvLookup& env = process_env);

/// The --help text (usage, options, examples).
std::string usage_text();

/// The --version text, "rmpirun (rmpi) <version>\n".
std::string version_text();

}  // namespace rmpi::launcher

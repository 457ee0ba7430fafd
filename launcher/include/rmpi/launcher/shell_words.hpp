#pragma once
/// Shell-like word splitting, for `--ssh-args` and RMPI_SSH_ARGS.
#include <string>
#include <string_view>
#include <vector>

namespace rmpi::launcher {

/// Splits `text` into words as a POSIX shell would, without expansions: blanks separate words,
/// '...' is literal, "..." keeps blanks and honours \" \\ \$ \` escapes, a backslash outside
/// quotes escapes the next character. Throws rmpi::ConfigError on an unbalanced quote or a
/// trailing backslash.
std::vector<std::string> split_shell_words(std::string_view text);

}  // namespace rmpi::launcher

#pragma once
/// The ssh command line that starts a program on another host: where the ssh
/// client is, how the remote command is quoted, which options are forced.
///
/// Secrets never go into these argv vectors (they are visible to every user
/// through `ps` and /proc on both hosts): the caller writes the job secret to
/// the ssh process's stdin, and the remote program reads it from there.
#include <string>
#include <string_view>
#include <vector>

namespace rmpi::places {

/// The ssh client to run: the first executable `ssh` in PATH, else the first
/// executable of /usr/local/bin/ssh, /usr/bin/ssh, /bin/ssh,
/// /opt/local/bin/ssh, /opt/bin/ssh. Throws rmpi::SpawnError if none exists.
std::string ssh_bin_path();

/// How ssh_argv builds a command line.
struct SshOptions {
  /// The ssh client; empty means ssh_bin_path().
  std::string ssh_path;
  /// Extra ssh options placed before the host, in order (e.g. {"-F", file},
  /// {"-p", "2222"}, {"-o", "SendEnv=RMPI_*"}). BatchMode=yes comes first and
  /// so cannot be overridden (ssh keeps the first value of an option).
  std::vector<std::string> extra_args;
  /// An installation prefix on the remote host: when set, <prefix>/bin is put
  /// first in PATH and <prefix>/lib first in LD_LIBRARY_PATH for the command.
  std::string prefix;
};

/// True for "localhost", "localhost.localdomain", "127.0.0.1", "::1" (also
/// "[::1]") and the machine's own name as gethostname gives it, or its short
/// form when that is a FQDN; compared case-insensitively. Such hosts are
/// started directly; anything else, including 127.0.0.2, user@localhost and a
/// FQDN when gethostname gives a short name, goes through SSH. Never resolves names.
bool is_local_host(std::string_view host);
/// is_local_host with an explicit own host name (deterministic, for tests).
bool is_local_host(std::string_view host, std::string_view own_hostname);

/// Quotes one word for a POSIX shell: the result, read by /bin/sh, is exactly
/// `word` (always single-quoted; a ' inside becomes '\'').
std::string shell_quote(std::string_view word);

/// The remote /bin/sh command line that runs `remote_argv` in place of the
/// remote shell (`exec`), with the PATH / LD_LIBRARY_PATH of `prefix` if set.
/// Throws rmpi::ConfigError if remote_argv is empty.
std::string remote_command(const std::vector<std::string>& remote_argv, std::string_view prefix);

/// The argv to exec locally to run `remote_argv` on `host` ("host" or
/// "user@host", or an alias of the ssh config):
/// {ssh, "-o", "BatchMode=yes", extra_args..., "-T", "--", host, command}
/// where command is remote_command(remote_argv, prefix). BatchMode makes ssh
/// fail instead of prompting for a password or passphrase; -T asks for no
/// terminal, so stdin and stdout stay clean byte streams. Throws
/// rmpi::ConfigError for an empty host, a host starting with '-' (ssh would
/// read it as an option) or an empty remote_argv, and rmpi::SpawnError when
/// ssh_path is empty and no ssh client is found.
std::vector<std::string> ssh_argv(std::string_view host,
                                  const std::vector<std::string>& remote_argv,
                                  const SshOptions& options);

}  // namespace rmpi::places

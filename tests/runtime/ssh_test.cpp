#include <rmpi/ssh.hpp>

#include <doctest/doctest.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <rmpi/error.hpp>

#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <fstream>
#include <string>
#include <vector>

#include "ssh_fixture.hpp"

using rmpi::places::remote_command;
using rmpi::places::shell_quote;
using rmpi::places::ssh_argv;
using rmpi::places::ssh_bin_path;
using rmpi::places::SshOptions;
using rmpi::testing::run_process;
using rmpi::testing::SshFixture;

namespace {

/// Odd words a remote argv may hold.
const std::vector<std::string> kOddWords = {
    "",      "plain", "a b",   "it's", "'",   "''",  "\"q\"",   "$HOME",     "`id`",
    "$(id)", "a\\b",  "*",     "~",    "x;y", "a|b", "#c",      "tab\there", "nl\nnl",
    "-n",    "--",    "%s %d", "&&",   "!",   "\\",  "'\"'\"'", "é ü"};

/// Seconds since `start`, as a double.
double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

/// A TCP port on 127.0.0.1 that is bound by this process but not listening:
/// connections to it are refused, and nobody else can take it meanwhile.
class DeadPort {
 public:
  DeadPort() : fd_(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) {
    REQUIRE(fd_ >= 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    REQUIRE(::bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
    socklen_t len = sizeof addr;
    REQUIRE(::getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len) == 0);
    port_ = ntohs(addr.sin_port);
  }
  ~DeadPort() { ::close(fd_); }
  DeadPort(const DeadPort&) = delete;
  DeadPort& operator=(const DeadPort&) = delete;
  int port() const { return port_; }

 private:
  int fd_;
  int port_ = 0;
};

/// Writes an ssh config with extra aliases next to the fixture's own.
std::string write_config(const SshFixture& fx, const std::string& name, const std::string& body) {
  const std::string path = fx.dir() + "/" + name;
  std::ofstream(path) << body;
  return path;
}

std::string client_options() {
  return "  StrictHostKeyChecking no\n  UserKnownHostsFile /dev/null\n  LogLevel ERROR\n"
         "  ConnectTimeout 5\n  IdentitiesOnly yes\n";
}

}  // namespace

TEST_CASE("shell_quote: /bin/sh reads every quoted word back unchanged") {
  std::string script = "printf '%s\\0'";
  for (const auto& w : kOddWords) script += " " + shell_quote(w);
  const auto r = run_process({"/bin/sh", "-c", script});
  REQUIRE(r.ok());
  std::string expected;
  for (const auto& w : kOddWords) expected += w + std::string(1, '\0');
  CHECK(r.out == expected);
}

TEST_CASE("shell_quote: always single-quoted, a quote escaped outside the quotes") {
  CHECK(shell_quote("") == "''");
  CHECK(shell_quote("abc") == "'abc'");
  CHECK(shell_quote("it's") == "'it'\\''s'");
}

TEST_CASE("remote_command: exec of the quoted words, with the prefix's PATH and libraries") {
  CHECK(remote_command({"/bin/echo", "a b"}, "") == "exec '/bin/echo' 'a b'");
  CHECK(remote_command({"rmpi-node"}, "/opt/r mpi") ==
        "PATH='/opt/r mpi/bin':\"$PATH\" "
        "LD_LIBRARY_PATH='/opt/r mpi/lib'\"${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}\" "
        "exec 'rmpi-node'");
  CHECK_THROWS_AS(remote_command({}, ""), rmpi::ConfigError);

  SUBCASE("the prefix's bin comes first in PATH, and no empty LD_LIBRARY_PATH entry") {
    const std::string cmd =
        "unset LD_LIBRARY_PATH; " +
        remote_command({"/bin/sh", "-c", "echo \"$PATH|$LD_LIBRARY_PATH\""}, "/opt/rmpi");
    const auto r = run_process({"/bin/sh", "-c", cmd});
    REQUIRE(r.ok());
    CHECK(r.out.rfind("/opt/rmpi/bin:", 0) == 0);
    CHECK(r.out.find("|/opt/rmpi/lib\n") != std::string::npos);
  }
}

TEST_CASE("ssh_argv: BatchMode first, extra args in order, then -T -- host command") {
  const SshOptions options{.ssh_path = "/usr/bin/ssh",
                           .extra_args = {"-F", "/tmp/cfg", "-o", "SendEnv=RMPI_*"},
                           .prefix = {}};
  const auto argv = ssh_argv("alice@node7", {"rmpi-node", "--port", "0"}, options);
  const std::vector<std::string> expected = {"/usr/bin/ssh",
                                             "-o",
                                             "BatchMode=yes",
                                             "-F",
                                             "/tmp/cfg",
                                             "-o",
                                             "SendEnv=RMPI_*",
                                             "-T",
                                             "--",
                                             "alice@node7",
                                             "exec 'rmpi-node' '--port' '0'"};
  CHECK(argv == expected);

  SUBCASE("the prefix goes into the remote command only") {
    const auto with_prefix =
        ssh_argv("node7", {"rmpi-node"},
                 {.ssh_path = "/usr/bin/ssh", .extra_args = {}, .prefix = "/opt/rmpi"});
    REQUIRE(with_prefix.size() == 7);
    CHECK(with_prefix[5] == "node7");
    CHECK(with_prefix[6] ==
          "PATH='/opt/rmpi/bin':\"$PATH\" "
          "LD_LIBRARY_PATH='/opt/rmpi/lib'\"${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}\" "
          "exec 'rmpi-node'");
  }
  SUBCASE("an empty ssh_path means ssh_bin_path()") {
    CHECK(ssh_argv("node7", {"true"}, {}).front() == ssh_bin_path());
  }
  SUBCASE("a host that ssh would read as an option is refused") {
    CHECK_THROWS_AS(ssh_argv("-oProxyCommand=touch /tmp/x", {"true"}, options), rmpi::ConfigError);
    CHECK_THROWS_AS(ssh_argv("me@-oProxyCommand=x", {"true"}, options), rmpi::ConfigError);
    CHECK_THROWS_AS(ssh_argv("", {"true"}, options), rmpi::ConfigError);
    CHECK_THROWS_AS(ssh_argv("node7", {}, options), rmpi::ConfigError);
  }
}

TEST_CASE("ssh_bin_path: finds the system ssh, also with an unhelpful PATH") {
  const std::string saved = std::getenv("PATH") ? std::getenv("PATH") : "";
  REQUIRE(::access("/usr/bin/ssh", X_OK) == 0);
  ::setenv("PATH", "/usr/bin:/bin", 1);
  CHECK(ssh_bin_path() == "/usr/bin/ssh");
  // An empty entry (the current directory) is skipped; the fixed list follows.
  ::setenv("PATH", "/nonexistent:", 1);
  const bool local_ssh = ::access("/usr/local/bin/ssh", X_OK) == 0;
  CHECK(ssh_bin_path() == (local_ssh ? "/usr/local/bin/ssh" : "/usr/bin/ssh"));
  ::setenv("PATH", saved.c_str(), 1);
}

TEST_CASE("ssh over the fixture's private sshd") {
  pid_t sshd_pid = -1;
  {
    SshFixture fx;
    sshd_pid = fx.sshd_pid();
    REQUIRE(sshd_pid > 0);
    CHECK(::kill(sshd_pid, 0) == 0);
    CHECK(fx.port() != 22);
    CHECK(fx.ssh_args() == std::vector<std::string>{"-F", fx.ssh_config_path()});

    SUBCASE("ssh_argv's quoting survives the remote login shell") {
      const auto argv = ssh_argv("host1", {"/bin/echo", "a b", "it's"},
                                 {.ssh_path = {}, .extra_args = fx.ssh_args(), .prefix = {}});
      const auto r = run_process(argv);
      INFO("ssh stderr: " << r.err);
      REQUIRE(r.ok());
      CHECK(r.out == "a b it's\n");
    }

    SUBCASE("odd words arrive intact as the remote program's argv") {
      std::vector<std::string> remote = {"printf", "%s\\0"};
      remote.insert(remote.end(), kOddWords.begin(), kOddWords.end());
      const auto r = run_process(
          ssh_argv("host2", remote, {.ssh_path = {}, .extra_args = fx.ssh_args(), .prefix = {}}));
      INFO("ssh stderr: " << r.err);
      REQUIRE(r.ok());
      std::string expected;
      for (const auto& w : kOddWords) expected += w + std::string(1, '\0');
      CHECK(r.out == expected);
    }

    SUBCASE("stdin reaches the remote program, so a secret need not be in argv") {
      const auto r = run_process(
          ssh_argv("host3", {"cat"}, {.ssh_path = {}, .extra_args = fx.ssh_args(), .prefix = {}}),
          "s3cret\n");
      INFO("ssh stderr: " << r.err);
      REQUIRE(r.ok());
      CHECK(r.out == "s3cret\n");
    }

    SUBCASE("all four hosts answer, each on its own address") {
      const auto hosts = fx.hosts();
      REQUIRE(hosts == std::vector<std::string>{"host1", "host2", "host3", "host4"});
      for (std::size_t i = 0; i < hosts.size(); ++i) {
        // SSH_CONNECTION: client-ip client-port server-ip server-port.
        const std::string conn = fx.run(hosts[i], "echo $SSH_CONNECTION");
        CHECK(conn.find(" 127.0.0." + std::to_string(i + 2) + " " + std::to_string(fx.port())) !=
              std::string::npos);
      }
      CHECK(fx.run("host0", "echo ok") == "ok\n");
    }

    SUBCASE("run throws with ssh's stderr when the command fails") {
      CHECK_THROWS_WITH_AS(fx.run("host1", "echo oops >&2; exit 3"), doctest::Contains("oops"),
                           rmpi::ConnectError);
    }

    SUBCASE("BatchMode: a client without an authorized key fails fast instead of prompting") {
      const std::string key = fx.dir() + "/unauthorized_key";
      REQUIRE(run_process({"ssh-keygen", "-q", "-N", "", "-t", "ed25519", "-f", key}).ok());
      const std::string cfg =
          write_config(fx, "nokey_config",
                       "Host nokey\n  HostName 127.0.0.2\n  Port " + std::to_string(fx.port()) +
                           "\n  IdentityFile " + key + "\n" + client_options());
      const auto start = std::chrono::steady_clock::now();
      const auto r = run_process(
          ssh_argv("nokey", {"true"}, {.ssh_path = {}, .extra_args = {"-F", cfg}, .prefix = {}}),
          {}, std::chrono::seconds(20));
      CHECK_FALSE(r.timed_out);
      CHECK(r.exit_code == 255);
      CHECK(r.err.find("Permission denied") != std::string::npos);
      CHECK(seconds_since(start) < 5.0);
    }

    SUBCASE("a host whose sshd is down fails within seconds with ssh's error") {
      DeadPort dead;
      const std::string cfg =
          write_config(fx, "down_config",
                       "Host down\n  HostName 127.0.0.1\n  Port " + std::to_string(dead.port()) +
                           "\n  IdentityFile " + fx.identity_file() + "\n" + client_options());
      const auto start = std::chrono::steady_clock::now();
      const auto r = run_process(
          ssh_argv("down", {"true"}, {.ssh_path = {}, .extra_args = {"-F", cfg}, .prefix = {}}), {},
          std::chrono::seconds(20));
      CHECK_FALSE(r.timed_out);
      CHECK(r.exit_code == 255);
      CHECK(r.err.find("Connection refused") != std::string::npos);
      CHECK(seconds_since(start) < 5.0);
    }
  }
  // The destructor stopped sshd and its parent reaped it.
  errno = 0;
  const int rc = ::kill(sshd_pid, 0);
  const int kill_errno = errno;
  CHECK(rc == -1);
  CHECK(kill_errno == ESRCH);
}

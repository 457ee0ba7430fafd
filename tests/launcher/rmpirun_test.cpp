// rmpirun end to end: real sshd (the SSH fixture's four loopback "hosts"), real
// rmpi-node processes and real ranks (rank-probe). Every case runs rmpirun with
// a unique marker in its environment (forwarded over ssh with SendEnv) and in
// every rank's (-x), then checks that no process carrying it is left.
#include <arpa/inet.h>
#include <doctest/doctest.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <regex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <hwloc.h>

#include "job_processes.hpp"
#include "process_exit.hpp"
#include "ssh_fixture.hpp"

extern char** environ;

namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;
using rmpi::testing::ProcessResult;
using rmpi::testing::run_process;
using rmpi::testing::SshFixture;

const std::string kRmpirun = RMPI_RMPIRUN_PATH;
const std::string kProbe = RMPI_RANK_PROBE_PATH;
const std::string kFourHosts = std::string(RMPI_HOSTFILES_DIR) + "/four-hosts";
constexpr const char* kMarkerVar = "RMPI_TEST_MARKER";

/// One fixture (one sshd) for the whole test binary, started on first use.
SshFixture& fixture() {
  static SshFixture f;
  return f;
}

std::string new_marker() {
  static std::atomic<int> counter{0};
  std::random_device rd;
  return "m" + std::to_string(::getpid()) + "-" + std::to_string(counter++) + "-" +
         std::to_string(rd());
}

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

void check_no_leftovers(const std::string& marker) {
  const auto found = rmpi::testing::leftovers(marker);
  std::string text;
  for (const auto& f : found) text += f + "\n";
  INFO("processes of the job still running:\n" << text);
  CHECK(found.empty());
}

/// --ssh-args for `config`, forwarding the marker variable to the nodes.
std::string ssh_args_for(const std::string& config) {
  return "-F " + config + " -o SendEnv=" + kMarkerVar;
}

/// The full rmpirun command line for one case: ssh args, marker, then `args`.
std::vector<std::string> rmpirun_argv(const std::string& marker,
                                      const std::vector<std::string>& args,
                                      const std::string& ssh_config) {
  std::vector<std::string> argv = {kRmpirun, "--ssh-args", ssh_args_for(ssh_config), "-x",
                                   std::string(kMarkerVar) + "=" + marker};
  argv.insert(argv.end(), args.begin(), args.end());
  return argv;
}

struct Run {
  ProcessResult r;
  std::chrono::milliseconds elapsed{};
};

/// Runs rmpirun with `args` (fresh marker in its environment), then checks that
/// nothing of the job remains.
Run rmpirun(const std::vector<std::string>& args, const std::string& input = {},
            std::chrono::milliseconds timeout = 60s, const std::string& ssh_config = {}) {
  const std::string config = ssh_config.empty() ? fixture().ssh_config_path() : ssh_config;
  const std::string marker = new_marker();
  ::setenv(kMarkerVar, marker.c_str(), 1);
  const auto t0 = Clock::now();
  Run run;
  run.r = run_process(rmpirun_argv(marker, args, config), input, timeout);
  run.elapsed = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - t0);
  ::unsetenv(kMarkerVar);
  INFO("stderr: " << run.r.err);
  CHECK_FALSE(run.r.timed_out);
  check_no_leftovers(marker);
  return run;
}

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

/// stderr without the lines that root's login shell on this machine may print on
/// ssh logins (concurrent `pyenv rehash` from ~/.bashrc); everything else is kept.
std::string without_shell_noise(const std::string& err) {
  std::string kept;
  std::size_t pos = 0;
  while (pos < err.size()) {
    std::size_t nl = err.find('\n', pos);
    nl = nl == std::string::npos ? err.size() : nl + 1;
    const std::string line = err.substr(pos, nl - pos);
    if (line.find("/.pyenv/shims") == std::string::npos &&
        line.rfind("pyenv: cannot rehash", 0) != 0)
      kept += line;
    pos = nl;
  }
  return kept;
}

/// "info k=v k=v ..." lines keyed by RMPI_RANK.
std::map<int, std::map<std::string, std::string>> infos_of(const std::string& out) {
  std::map<int, std::map<std::string, std::string>> by_rank;
  for (const auto& line : lines_of(out)) {
    if (line.rfind("info ", 0) != 0) continue;
    std::map<std::string, std::string> kv;
    std::istringstream in(line.substr(5));
    for (std::string w; in >> w;) {
      const auto eq = w.find('=');
      if (eq != std::string::npos) kv[w.substr(0, eq)] = w.substr(eq + 1);
    }
    by_rank[std::stoi(kv["RMPI_RANK"])] = kv;
  }
  return by_rank;
}

/// A file under the fixture's directory holding `text`; returns its path.
std::string temp_file(const std::string& name, const std::string& text) {
  const std::string path = fixture().dir() + "/" + name;
  std::ofstream(path, std::ios::binary) << text;
  return path;
}

/// Checks every rank's variables and host for `n` ranks of four-hosts mapped by `map_by`.
void check_layout(int n, const std::string& map_by) {
  const Run run =
      rmpirun({"-f", kFourHosts, "-n", std::to_string(n), "--map-by", map_by, kProbe, "info"});
  INFO("stderr: " << run.r.err);
  REQUIRE(run.r.exit_code == 0);
  CHECK(without_shell_noise(run.r.err).empty());
  const auto infos = infos_of(run.r.out);
  REQUIRE(infos.size() == static_cast<std::size_t>(n));
  std::vector<int> host_of(static_cast<std::size_t>(n));
  std::vector<int> count(4, 0);
  for (int r = 0; r < n; ++r) {
    host_of[static_cast<std::size_t>(r)] = map_by == "slot" ? r / 2 : r % 4;
    ++count[static_cast<std::size_t>(host_of[static_cast<std::size_t>(r)])];
  }
  const std::string cwd = fs::current_path().string();
  for (int r = 0; r < n; ++r) {
    const int h = host_of[static_cast<std::size_t>(r)];
    const int local = map_by == "slot" ? r % 2 : r / 4;
    auto kv = infos.at(r);
    INFO("rank " << r << " (" << map_by << ")");
    CHECK(kv["RMPI_RANK"] == std::to_string(r));
    CHECK(kv["RANK"] == std::to_string(r));
    CHECK(kv["RMPI_SIZE"] == std::to_string(n));
    CHECK(kv["WORLD_SIZE"] == std::to_string(n));
    CHECK(kv["RMPI_LOCAL_RANK"] == std::to_string(local));
    CHECK(kv["LOCAL_RANK"] == std::to_string(local));
    CHECK(kv["RMPI_LOCAL_SIZE"] == std::to_string(count[static_cast<std::size_t>(h)]));
    CHECK(kv["LOCAL_WORLD_SIZE"] == std::to_string(count[static_cast<std::size_t>(h)]));
    // Nodes are numbered in the order their hosts are first used, which is the
    // host order for both mappings of four-hosts.
    CHECK(kv["RMPI_NODE_ID"] == std::to_string(h));
    CHECK(kv["server"] == "127.0.0." + std::to_string(h + 2));
    CHECK(kv["cwd"] == cwd);
    // The variables of MPICH (PMI_*) and Open MPI (OMPI_COMM_WORLD_*) that scripts read.
    CHECK(kv["PMI_RANK"] == std::to_string(r));
    CHECK(kv["PMI_SIZE"] == std::to_string(n));
    CHECK(kv["OMPI_COMM_WORLD_RANK"] == std::to_string(r));
    CHECK(kv["OMPI_COMM_WORLD_SIZE"] == std::to_string(n));
    CHECK(kv["OMPI_COMM_WORLD_LOCAL_RANK"] == std::to_string(local));
    CHECK(kv["OMPI_COMM_WORLD_LOCAL_SIZE"] == std::to_string(count[static_cast<std::size_t>(h)]));
  }
}

/// A TCP port on `ip` with no listener (bound, then closed).
int closed_port(const char* ip) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  REQUIRE(fd >= 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  ::inet_pton(AF_INET, ip, &a.sin_addr);
  REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
  socklen_t len = sizeof a;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  ::close(fd);
  return ntohs(a.sin_port);
}

}  // namespace

TEST_CASE("rmpirun places ranks across four ssh hosts by slot and by node") {
  for (int n : {1, 2, 5, 8}) {
    for (const char* map_by : {"slot", "node"}) {
      CAPTURE(n);
      CAPTURE(map_by);
      check_layout(n, map_by);
    }
  }
}

TEST_CASE("rmpirun -x passes NAME=VALUE and NAME from its environment") {
  ::setenv("RMPI_TEST_FROM_ENV", "from env", 1);
  const Run run = rmpirun({"-f", kFourHosts, "-n", "3", "-x", "RMPI_TEST_SET=a=b c", "-x",
                           "RMPI_TEST_FROM_ENV", "--tag-output", kProbe, "show", "RMPI_TEST_SET",
                           "show", "RMPI_TEST_FROM_ENV", "show", "RMPI_TEST_NEVER_SET"});
  ::unsetenv("RMPI_TEST_FROM_ENV");
  INFO("stderr: " << run.r.err);
  REQUIRE(run.r.exit_code == 0);
  auto lines = lines_of(run.r.out);
  std::sort(lines.begin(), lines.end());
  std::vector<std::string> expected;
  for (int r = 0; r < 3; ++r) {
    const std::string tag = "[" + std::to_string(r) + "] ";
    expected.push_back(tag + "show RMPI_TEST_SET=a=b c");
    expected.push_back(tag + "show RMPI_TEST_FROM_ENV=from env");
    expected.push_back(tag + "show RMPI_TEST_NEVER_SET unset");
  }
  std::sort(expected.begin(), expected.end());
  CHECK(lines == expected);
}

TEST_CASE("rmpirun --tag-output tags long lines in 64 KiB pieces and completes partial last lines") {
  constexpr std::size_t kLong = 200000;
  const Run run = rmpirun({"-f", kFourHosts, "-n", "4", "--map-by", "node", "--tag-output", kProbe,
                           "long", std::to_string(kLong)});
  INFO("stderr: " << run.r.err);
  REQUIRE(run.r.exit_code == 0);
  REQUIRE(!run.r.out.empty());
  CHECK(run.r.out.back() == '\n');
  auto lines = lines_of(run.r.out);
  std::sort(lines.begin(), lines.end());
  std::vector<std::string> expected;
  for (int r = 0; r < 4; ++r) {
    const std::string tag = "[" + std::to_string(r) + "] ";
    // A line longer than 64 KiB leaves as tagged pieces: no rank's output is held unbounded.
    for (std::size_t left = kLong; left > 0; left -= std::min<std::size_t>(left, 65536))
      expected.push_back(tag + std::string(std::min<std::size_t>(left, 65536), 'L'));
    expected.push_back(tag + "partial-" + std::to_string(r));
  }
  std::sort(expected.begin(), expected.end());
  REQUIRE(lines.size() == expected.size());
  for (std::size_t i = 0; i < lines.size(); ++i) {
    CAPTURE(i);
    CHECK(lines[i].size() == expected[i].size());
    CHECK(lines[i].substr(0, 20) == expected[i].substr(0, 20));
    CHECK(lines[i] == expected[i]);
  }
}

TEST_CASE("rmpirun forwards 100 MB from one rank exactly and in order") {
  constexpr long long kBytes = 100LL * 1024 * 1024;
  const Run run =
      rmpirun({"-f", kFourHosts, "-n", "1", kProbe, "bytes", std::to_string(kBytes)}, {}, 180s);
  INFO("stderr: " << run.r.err);
  REQUIRE(run.r.exit_code == 0);
  const std::string& out = run.r.out;
  REQUIRE(out.size() == static_cast<std::size_t>(kBytes));
  const std::size_t full = static_cast<std::size_t>(kBytes / 100);
  std::size_t bad = 0;
  char head[24];
  for (std::size_t i = 0; i < full; ++i) {
    std::snprintf(head, sizeof head, "%08zu", i);
    if (out.compare(i * 100, 8, head) != 0 || out[i * 100 + 99] != '\n') ++bad;
  }
  CHECK(bad == 0);
  CHECK(out.substr(full * 100) == std::string(static_cast<std::size_t>(kBytes % 100), 'p'));
}

TEST_CASE("rmpirun exit statuses") {
  SUBCASE("all ranks exit 0: status 0 and nothing on stderr") {
    const Run run = rmpirun({"-f", kFourHosts, "-n", "8", kProbe, "exit", "0"});
    CHECK(run.r.exit_code == 0);
    CHECK(without_shell_noise(run.r.err).empty());
  }
  SUBCASE("rank 3 exits 7 while the others exit 0") {
    const Run run = rmpirun({"-f", kFourHosts, "-n", "8", kProbe, "exit", "7", "3"});
    CHECK(run.r.exit_code == 7);
    CHECK(without_shell_noise(run.r.err) == "rmpirun: rank 3 on host2 exited with status 7\n");
  }
  SUBCASE("rank 3 exits 7 while the others block: they are ended") {
    const Run run = rmpirun({"-f", kFourHosts, "-n", "8", kProbe, "fail", "7", "3"});
    CHECK(run.r.exit_code == 7);
    CHECK(without_shell_noise(run.r.err) == "rmpirun: rank 3 on host2 exited with status 7\n");
  }
}

TEST_CASE("rmpirun: a rank killed by SIGKILL gives 137 and a line naming it") {
  const Run run = rmpirun({"-f", kFourHosts, "-n", "4", kProbe, "sigkill", "2"});
  INFO("stderr: " << run.r.err);
  CHECK(run.r.exit_code == 137);
  const auto lines = lines_of(without_shell_noise(run.r.err));
  REQUIRE(lines.size() == 1);
  CHECK(lines[0].rfind("rmpirun: rank 2 on host2 ", 0) == 0);
  CHECK(lines[0].find("signal 9") != std::string::npos);
}

TEST_CASE("rmpirun: SIGINT ends every rank and exits 130") {
  const std::string marker = new_marker();
  ::setenv(kMarkerVar, marker.c_str(), 1);
  const auto argv = rmpirun_argv(marker, {"-f", kFourHosts, "-n", "8", kProbe, "ready", "block"},
                                 fixture().ssh_config_path());
  ::unsetenv(kMarkerVar);
  int out_pipe[2];
  REQUIRE(::pipe2(out_pipe, O_CLOEXEC) == 0);
  const std::string err_path = fixture().dir() + "/sigint-" + marker + ".err";
  std::vector<char*> cargv;
  for (const auto& a : argv) cargv.push_back(const_cast<char*>(a.c_str()));
  cargv.push_back(nullptr);
  std::vector<std::string> env_strings;
  for (char** e = environ; *e; ++e) env_strings.emplace_back(*e);
  env_strings.push_back(std::string(kMarkerVar) + "=" + marker);
  std::vector<char*> cenv;
  for (auto& e : env_strings) cenv.push_back(e.data());
  cenv.push_back(nullptr);

  const pid_t pid = ::fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    const int in = ::open("/dev/null", O_RDONLY);
    const int err = ::open(err_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    ::dup2(in, 0);
    ::dup2(out_pipe[1], 1);
    ::dup2(err, 2);
    sigset_t none;
    sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
    ::signal(SIGINT, SIG_DFL);
    ::signal(SIGALRM, SIG_DFL);
    ::execve(cargv[0], cargv.data(), cenv.data());
    ::_exit(127);
  }
  ::close(out_pipe[1]);

  // Wait for all 8 "ready" lines.
  std::string out;
  int ready = 0;
  const auto deadline = Clock::now() + 30s;
  while (ready < 8 && Clock::now() < deadline) {
    pollfd p{out_pipe[0], POLLIN, 0};
    if (::poll(&p, 1, 100) <= 0) continue;
    char buf[4096];
    const ssize_t n = ::read(out_pipe[0], buf, sizeof buf);
    if (n <= 0) break;
    out.append(buf, static_cast<std::size_t>(n));
    ready = 0;
    for (const auto& line : lines_of(out))
      if (line.rfind("ready ", 0) == 0) ++ready;
  }
  INFO("stdout: " << out);
  INFO("stderr: " << read_file(err_path));
  if (ready < 8) {
    ::kill(pid, SIGKILL);
    ::waitpid(pid, nullptr, 0);
    ::close(out_pipe[0]);
    FAIL("not every rank printed its ready line");
  }

  // The leftover check can see the job: its 4 nodes and 8 ranks carry the marker
  // (so do the nodes' watchdogs, forks of rmpi-node named rmpi-watchdog).
  int nodes = 0;
  int probes = 0;
  for (const auto& p : rmpi::testing::processes_with(marker)) {
    const std::string comm = read_file("/proc/" + std::to_string(std::stoi(p)) + "/comm");
    if (comm.rfind("rmpi-watchdog", 0) == 0) continue;
    if (p.find("rmpi-node") != std::string::npos && p.find("ssh") == std::string::npos) ++nodes;
    if (p.find("rank-probe") != std::string::npos && p.find("rmpirun") == std::string::npos)
      ++probes;
  }
  CHECK(nodes == 4);
  CHECK(probes == 8);

  const auto t0 = Clock::now();
  REQUIRE(::kill(pid, SIGINT) == 0);
  const std::optional<int> reaped = rmpi::testing::reap_child(pid, 15s);
  const auto elapsed = Clock::now() - t0;
  int status = reaped.value_or(0);
  if (!reaped) {
    ::kill(pid, SIGKILL);
    ::waitpid(pid, &status, 0);
  }
  ::close(out_pipe[0]);
  INFO("stderr: " << read_file(err_path));
  REQUIRE(reaped.has_value());
  REQUIRE(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) == 130);
  CHECK(elapsed < 5s);
  check_no_leftovers(marker);
}

TEST_CASE("rmpirun --timeout ends blocked ranks and exits 124") {
  const Run run = rmpirun({"-f", kFourHosts, "-n", "4", "--timeout", "2", kProbe, "block"});
  INFO("stderr: " << run.r.err);
  CHECK(run.r.exit_code == 124);
  CHECK(run.elapsed >= 2s);
  CHECK(run.elapsed < 8s);
  CHECK(run.r.err.find("timed out") != std::string::npos);
}

TEST_CASE("rmpirun: a host whose sshd is down is a clear error within seconds") {
  const int port = closed_port("127.0.0.6");
  std::string config = read_file(fixture().ssh_config_path());
  config += "\nHost deadhost\n  HostName 127.0.0.6\n  Port " + std::to_string(port) + "\n  User " +
            fixture().user() + "\n  IdentityFile " + fixture().identity_file() +
            "\n  IdentitiesOnly yes\n  StrictHostKeyChecking no\n  UserKnownHostsFile /dev/null\n"
            "  BatchMode yes\n  LogLevel ERROR\n  ConnectTimeout 5\n";
  const std::string config_path = temp_file("ssh_config_deadhost", config);
  const std::string hostfile = temp_file("hosts_deadhost", "host1 slots=1\ndeadhost slots=1\n");
  const Run run = rmpirun({"-f", hostfile, "-n", "2", kProbe, "block"}, {}, 60s, config_path);
  INFO("stderr: " << run.r.err);
  CHECK(run.r.exit_code != 0);
  CHECK(run.r.exit_code != -1);
  CHECK(run.r.err.find("deadhost") != std::string::npos);
  CHECK(run.r.err.find("Connection refused") != std::string::npos);
  CHECK(run.elapsed < 10s);
}

TEST_CASE("rmpirun hostfile errors name file:line and the token") {
  struct Bad {
    const char* name;
    const char* text;
    int line;
    const char* token;
  };
  const Bad cases[] = {
      {"bad-token", "host1 slots=2\nhost2 bogus=3\n", 2, "bogus=3"},
      {"bad-number", "host1 slots=two\n", 1, "two"},
      {"zero-slots", "# comment\nhost1 slots=0\n", 2, "slots=0"},
      {"bad-mpich-count", "host1:x\n", 1, "host1:x"},
  };
  SUBCASE("bad tokens and numbers") {
    for (const auto& c : cases) {
      CAPTURE(c.name);
      const std::string path = temp_file(std::string("hostfile-") + c.name, c.text);
      const Run run = rmpirun({"-f", path, "-n", "1", kProbe, "info"});
      INFO("stderr: " << run.r.err);
      CHECK(run.r.exit_code == 1);
      CHECK(run.r.out.empty());
      const auto lines = lines_of(run.r.err);
      REQUIRE(lines.size() == 1);
      CHECK(lines[0].find(path + ":" + std::to_string(c.line)) != std::string::npos);
      CHECK(lines[0].find(c.token) != std::string::npos);
    }
  }
  SUBCASE("empty file") {
    const std::string path = temp_file("hostfile-empty", "# nothing here\n\n");
    const Run run = rmpirun({"-f", path, "-n", "1", kProbe, "info"});
    CHECK(run.r.exit_code == 1);
    const auto lines = lines_of(run.r.err);
    REQUIRE(lines.size() == 1);
    CHECK(lines[0].find(path) != std::string::npos);
  }
  SUBCASE("missing file") {
    const std::string path = fixture().dir() + "/no-such-hostfile";
    const Run run = rmpirun({"-f", path, "-n", "1", kProbe, "info"});
    CHECK(run.r.exit_code == 1);
    const auto lines = lines_of(run.r.err);
    REQUIRE(lines.size() == 1);
    CHECK(lines[0].find(path) != std::string::npos);
  }
}

TEST_CASE("rmpirun: more ranks than slots without --oversubscribe lists hosts and slots") {
  const Run run = rmpirun({"-f", kFourHosts, "-n", "9", kProbe, "info"});
  INFO("stderr: " << run.r.err);
  CHECK(run.r.exit_code == 1);
  CHECK(run.r.out.empty());
  for (const char* h : {"host1", "host2", "host3", "host4"})
    CHECK(run.r.err.find(h) != std::string::npos);
  CHECK(run.r.err.find("9") != std::string::npos);
  CHECK(run.r.err.find("8") != std::string::npos);
  CHECK(run.r.err.find("oversubscribe") != std::string::npos);
}

namespace {

/// Every fixture host is this machine: its node reports this machine's cores, read here with
/// hwloc as the node does.
int this_host_cores() {
  hwloc_topology_t topology = nullptr;
  REQUIRE(hwloc_topology_init(&topology) == 0);
  REQUIRE(hwloc_topology_load(topology) == 0);
  const int cores = hwloc_get_nbobjs_by_type(topology, HWLOC_OBJ_CORE);
  hwloc_topology_destroy(topology);
  REQUIRE(cores >= 1);
  return cores;
}

}  // namespace

TEST_CASE("rmpirun: a hostfile line without slots= gets the core count its node reports") {
  const int cores = this_host_cores();
  const std::string hostfile = temp_file("hosts_bare", "host1\nhost2\n");
  {
    const Run run = rmpirun({"-f", hostfile, kProbe, "info"});
    INFO("stderr: " << run.r.err);
    REQUIRE(run.r.exit_code == 0);
    const auto infos = infos_of(run.r.out);
    REQUIRE(infos.size() == static_cast<std::size_t>(2 * cores));
    for (int r = 0; r < 2 * cores; ++r) {
      CAPTURE(r);
      auto kv = infos.at(r);
      CHECK(kv["server"] == (r < cores ? "127.0.0.2" : "127.0.0.3"));
      CHECK(kv["RMPI_LOCAL_SIZE"] == std::to_string(cores));
    }
  }
  {
    // One more rank than cores: the error names the hosts and the counts their nodes gave.
    const Run run = rmpirun({"-f", hostfile, "-n", std::to_string(2 * cores + 1), kProbe, "info"});
    CHECK(run.r.exit_code == 1);
    CHECK(run.r.err.find("host1 (" + std::to_string(cores) + "), host2 (" +
                         std::to_string(cores) + ")") != std::string::npos);
  }
  {
    // -n 1 over three bare hosts: all three nodes report, two run nothing and end at once.
    const Run run = rmpirun({"-f", temp_file("hosts_bare3", "host1\nhost2\nhost3\n"), "-n", "1",
                             kProbe, "info"});
    INFO("stderr: " << run.r.err);
    REQUIRE(run.r.exit_code == 0);
    CHECK(infos_of(run.r.out).size() == 1);
  }
}

TEST_CASE("rmpirun: --map-by ppr:1:core over -H hosts runs one rank per core of each") {
  const int cores = this_host_cores();
  const Run run = rmpirun({"-H", "host1,host2", "--map-by", "ppr:1:core", kProbe, "info"});
  INFO("stderr: " << run.r.err);
  REQUIRE(run.r.exit_code == 0);
  CHECK(infos_of(run.r.out).size() == static_cast<std::size_t>(2 * cores));
  const Run over = rmpirun({"-H", "host1,host2", "--map-by", "ppr:1:core", "-n",
                            std::to_string(2 * cores + 1), kProbe, "info"});
  CHECK(over.r.exit_code == 1);
  CHECK(over.r.err.find("host2: 1 per core x " + std::to_string(cores)) != std::string::npos);
}

TEST_CASE("rmpirun sends stdin to rank 0 and /dev/null to the others") {
  const Run run =
      rmpirun({"-f", kFourHosts, "-n", "3", "--tag-output", kProbe, "echo"}, "hello\nworld");
  INFO("stderr: " << run.r.err);
  REQUIRE(run.r.exit_code == 0);
  std::string rank0, others;
  for (const auto& line : lines_of(run.r.out)) {
    if (line.rfind("[0] ", 0) == 0)
      rank0 += line.substr(4) + "\n";
    else
      others += line + "\n";
  }
  CHECK(rank0 == "stdin[hello\nworld]\n");
  std::vector<std::string> rest = lines_of(others);
  std::sort(rest.begin(), rest.end());
  CHECK(rest == std::vector<std::string>{"[1] stdin[]", "[2] stdin[]"});
}

// Fails most runs, a real bug left for the lead: runtime/src/node_launch.cpp
// forward_lines() gets the stderr read before the node was up as `pending` and,
// when the next read is EOF, writes prefix + pending + "\n" in one piece: only
// the first line carries "rmpi-node@host1: " and an empty line follows.
TEST_CASE("rmpirun prefixes every stderr line of a node with its host") {
  // A node path that writes two lines to stderr before it becomes the node.
  const std::string node = fs::path(kRmpirun).parent_path().string() + "/rmpi-node";
  const std::string wrapper = temp_file("noisy-node",
                                        "#!/bin/sh\necho 'wrapper line one' >&2\n"
                                        "echo 'wrapper line two' >&2\nexec '" +
                                            node + "' \"$@\"\n");
  fs::permissions(wrapper, fs::perms::owner_all);
  const Run run =
      rmpirun({"-f", kFourHosts, "-n", "1", "--node-path", wrapper, kProbe, "exit", "0"});
  INFO("stderr: " << run.r.err);
  CHECK(run.r.exit_code == 0);
  CHECK(without_shell_noise(run.r.err) ==
        "rmpi-node@host1: wrapper line one\nrmpi-node@host1: wrapper line two\n");
}

TEST_CASE("rmpirun MPMD: parts with distinct programs, arguments and -x take consecutive ranks") {
  // Part 2 is a shell script: a different program from part 1's rank-probe.
  const std::string script = temp_file(
      "mpmd-part.sh",
      "#!/bin/sh\n"
      "set -- \"$#\" \"$@\"\n"
      "echo \"script rank=$RMPI_RANK size=$RMPI_SIZE part=$PART argc=$1 args=$2|$3 "
      "server=$(echo $SSH_CONNECTION | cut -d' ' -f3)\"\n");
  fs::permissions(script, fs::perms::owner_all);
  const Run run = rmpirun({"-f", kFourHosts, "--map-by", "node", "-np", "1", "-x", "PART=a", kProbe,
                           "info", "show", "PART", ":", "-np", "3", "-x", "PART=b", script, "one",
                           "two words"});
  INFO("stderr: " << run.r.err);
  REQUIRE(run.r.exit_code == 0);
  CHECK(without_shell_noise(run.r.err).empty());
  const auto infos = infos_of(run.r.out);
  REQUIRE(infos.size() == 1);
  auto rank0 = infos.at(0);
  CHECK(rank0["RMPI_SIZE"] == "4");
  CHECK(rank0["server"] == "127.0.0.2");
  std::vector<std::string> scripts;
  int shows = 0;
  for (const auto& line : lines_of(run.r.out)) {
    if (line == "show PART=a") ++shows;
    if (line.rfind("script ", 0) == 0) scripts.push_back(line);
  }
  CHECK(shows == 1);
  std::sort(scripts.begin(), scripts.end());
  std::vector<std::string> expected;
  for (int r = 1; r < 4; ++r)
    expected.push_back("script rank=" + std::to_string(r) +
                       " size=4 part=b argc=2 args=one|two words server=127.0.0." +
                       std::to_string(r + 2));
  CHECK(scripts == expected);
}

TEST_CASE("rmpirun MPMD errors: a stray ':' and a part of -n 0 launch nothing") {
  for (const std::vector<std::string>& args :
       {std::vector<std::string>{"-f", kFourHosts, "-np", "1", kProbe, "info", ":"},
        std::vector<std::string>{"-f", kFourHosts, "-np", "1", kProbe, ":", "-np", "0", kProbe}}) {
    const Run run = rmpirun(args);
    INFO("stderr: " << run.r.err);
    CHECK(run.r.exit_code == 1);
    CHECK(run.r.out.empty());
    const auto lines = lines_of(run.r.err);
    REQUIRE(lines.size() == 1);
    CHECK(lines[0].rfind("rmpirun: MPMD part 2", 0) == 0);
  }
}

TEST_CASE("rmpirun -wdir, -genv, -l and --merge-stderr-to-stdout over ssh hosts") {
  const std::string script = temp_file("wdir-genv.sh",
                                       "#!/bin/sh\necho \"pwd=$(pwd) G=$G\"\necho to-stderr >&2\n");
  fs::permissions(script, fs::perms::owner_all);
  const Run run = rmpirun({"-hostfile", kFourHosts, "-np", "3", "-wdir", fixture().dir(), "-genv",
                           "G", "g v", "-l", "--merge-stderr-to-stdout", script});
  INFO("stderr: " << run.r.err);
  REQUIRE(run.r.exit_code == 0);
  CHECK(without_shell_noise(run.r.err).empty());
  auto lines = lines_of(run.r.out);
  std::sort(lines.begin(), lines.end());
  std::vector<std::string> expected;
  for (int r = 0; r < 3; ++r) {
    const std::string tag = "[" + std::to_string(r) + "] ";
    expected.push_back(tag + "pwd=" + fs::canonical(fixture().dir()).string() + " G=g v");
    expected.push_back(tag + "to-stderr");
  }
  std::sort(expected.begin(), expected.end());
  CHECK(lines == expected);
}

TEST_CASE("rmpirun -envall, -ppn, --output-filename and --timestamp-output over ssh hosts") {
  ::setenv("RMPI_TEST_ENVALL", "from rmpirun", 1);
  const std::string out_dir = fixture().dir() + "/output-" + new_marker();
  const Run run =
      rmpirun({"-machinefile", kFourHosts, "-ppn", "1", "-np", "3", "-envall",
               "--allow-run-as-root", "--output-filename", out_dir, "--timestamp-output", kProbe,
               "info", "show", "RMPI_TEST_ENVALL"});
  ::unsetenv("RMPI_TEST_ENVALL");
  INFO("stderr: " << run.r.err);
  REQUIRE(run.r.exit_code == 0);
  CHECK(run.r.out.empty());
  const std::regex stamp(R"(^\[\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3}\] )");
  for (int r = 0; r < 3; ++r) {
    CAPTURE(r);
    const std::string dir = out_dir + "/1/rank." + std::to_string(r);
    const auto lines = lines_of(read_file(dir + "/stdout"));
    REQUIRE(lines.size() == 2);
    for (const auto& line : lines) CHECK(std::regex_search(line, stamp));
    const auto info = infos_of(std::regex_replace(lines[0], stamp, "") + "\n");
    REQUIRE(info.count(r) == 1);
    // -ppn 1: one rank per host, in host order.
    CHECK(info.at(r).at("server") == "127.0.0." + std::to_string(r + 2));
    CHECK(std::regex_replace(lines[1], stamp, "") == "show RMPI_TEST_ENVALL=from rmpirun");
    CHECK(read_file(dir + "/stderr").empty());
  }
  CHECK_FALSE(fs::exists(out_dir + "/1/rank.3"));
}

// Runaway input and output, and what errors echo (issue 9, problems 7-10):
// a cap on ranks per host, stdin forwarded with back-pressure, output
// delivered byte-exact in bounded memory, and errors that quote input cut
// short and escaped, with file:line, host and option named once.
#include <doctest/doctest.h>

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <fstream>
#include <string>
#include <vector>

#include "job_processes.hpp"
#include "running_job.hpp"

using namespace std::chrono_literals;
using rmpi::testing::RunningJob;
using rmpi::testing::check_no_leftovers;

namespace {

/// A file in a fresh temporary directory holding `text`.
std::string temp_file(const std::string& text) {
  char dir[] = "/tmp/rmpi-limits-XXXXXX";
  REQUIRE(::mkdtemp(dir) != nullptr);
  const std::string path = std::string(dir) + "/hosts";
  std::ofstream(path, std::ios::binary) << text;
  return path;
}

/// rmpirun's single error line for a bad invocation; checks it is one short, printable line.
std::string one_error_line(const std::vector<std::string>& args) {
  RunningJob job(RMPIRUN_EXE, args);
  job.close_stdin();
  const int st = job.wait_exit(20s);
  INFO("stderr: " << job.err().substr(0, 2000));
  CHECK(WIFEXITED(st));
  CHECK(WEXITSTATUS(st) == 1);
  const std::string& err = job.err();
  REQUIRE(!err.empty());
  CHECK(std::count(err.begin(), err.end(), '\n') == 1);
  CHECK(err.back() == '\n');
  CHECK(err.size() < 400);
  CHECK(std::all_of(err.begin(), err.end() - 1, [](char c) {
    return static_cast<unsigned char>(c) >= 0x20 && static_cast<unsigned char>(c) < 0x7f;
  }));
  check_no_leftovers(job);
  return err;
}

}  // namespace

TEST_CASE("-n 999999 --oversubscribe fails at once, naming --max-ranks-per-host") {
  const std::string err = one_error_line({"-n", "999999", "--oversubscribe", "true"});
  CHECK(err.find("--max-ranks-per-host") != std::string::npos);
  CHECK(err.find("localhost") != std::string::npos);
  const std::string given =
      one_error_line({"--max-ranks-per-host", "2", "-n", "3", "--oversubscribe", "true"});
  CHECK(given.find("localhost: exceeds --max-ranks-per-host 2;") != std::string::npos);
  RunningJob fits(RMPIRUN_EXE, {"--max-ranks-per-host", "3", "-n", "3", "--oversubscribe", "true"});
  fits.close_stdin();
  const int st = fits.wait_exit(20s);
  CHECK(WIFEXITED(st));
  CHECK(WEXITSTATUS(st) == 0);
}

TEST_CASE("stdin to a rank that never reads it is held back: bounded memory in rmpirun and node") {
  RunningJob job(RMPIRUN_EXE, {"-n", "1", "sh", "-c", "echo ready; exec sleep 300"});
  job.wait_for("ready\n", false);
  const pid_t node = rmpi::testing::local_node_of(job.marker(), job.pid());
  REQUIRE(node > 0);
  const long rmpirun_before = rmpi::testing::rss_kib(job.pid());
  const long node_before = rmpi::testing::rss_kib(node);
  // Write until rmpirun stops taking more (2 s without room), at most 256 MB.
  const int fd = job.stdin_fd();
  REQUIRE(::fcntl(fd, F_SETFL, O_NONBLOCK) == 0);
  const std::string block(1 << 16, 's');
  constexpr std::size_t kMost = 256u << 20;
  std::size_t written = 0;
  while (written < kMost) {
    const ssize_t n = ::write(fd, block.data(), block.size());
    if (n > 0) {
      written += static_cast<std::size_t>(n);
      continue;
    }
    REQUIRE(errno == EAGAIN);
    pollfd p{fd, POLLOUT, 0};
    if (::poll(&p, 1, 2000) == 0) break;
  }
  const long rmpirun_after = rmpi::testing::rss_kib(job.pid());
  const long node_after = rmpi::testing::rss_kib(node);
  MESSAGE("stdin taken: " << written / 1024 << " KiB; rmpirun RSS " << rmpirun_before << " -> "
                          << rmpirun_after << " KiB; node RSS " << node_before << " -> "
                          << node_after << " KiB");
  CHECK(written < (32u << 20));
  CHECK(rmpirun_after - rmpirun_before < 32 * 1024);
  CHECK(node_after - node_before < 32 * 1024);
  job.signal(SIGTERM);
  const int st = job.wait_exit(20s);
  CHECK(WIFEXITED(st));
  CHECK(WEXITSTATUS(st) == 143);
  check_no_leftovers(job);
}

TEST_CASE("output without a newline arrives byte-exact, with nothing added") {
  SUBCASE("printf abc is 3 bytes") {
    RunningJob job(RMPIRUN_EXE, {"-n", "1", "sh", "-c", "printf abc"});
    job.close_stdin();
    const int st = job.wait_exit(20s);
    CHECK(WEXITSTATUS(st) == 0);
    CHECK(job.out() == "abc");
  }
  SUBCASE("3 MB of NUL bytes with no newline") {
    RunningJob job(RMPIRUN_EXE, {"-n", "1", "head", "-c", "3000000", "/dev/zero"});
    job.close_stdin();
    const int st = job.wait_exit(30s);
    CHECK(WEXITSTATUS(st) == 0);
    CHECK(job.out().size() == 3000000);
    CHECK(job.out() == std::string(3000000, '\0'));
  }
  SUBCASE("--tag-output still tags line by line") {
    RunningJob job(RMPIRUN_EXE, {"-n", "2", "--oversubscribe", "--tag-output", "sh", "-c",
                                 "echo one; printf two"});
    job.close_stdin();
    const int st = job.wait_exit(20s);
    CHECK(WEXITSTATUS(st) == 0);
    std::vector<std::string> lines;
    for (std::size_t pos = 0, nl; (nl = job.out().find('\n', pos)) != std::string::npos; pos = nl + 1)
      lines.push_back(job.out().substr(pos, nl - pos));
    std::sort(lines.begin(), lines.end());
    CHECK(lines == std::vector<std::string>{"[0] one", "[0] two", "[1] one", "[1] two"});
  }
}

TEST_CASE("errors echo input cut to 80 characters and escaped, with file:line") {
  SUBCASE("a 100 KB token") {
    const std::string path = temp_file("localhost slots=2 " + std::string(100000, 'z') + "\n");
    const std::string err = one_error_line({"-f", path, "true"});
    CHECK(err.find(path + ":1: ") != std::string::npos);
    CHECK(err.find("(100000 bytes)") != std::string::npos);
  }
  SUBCASE("control bytes and a NUL byte in a binary hostfile") {
    static const char kBinary[] = "bad\x01\x1b[31mhost\0tail\n";
    const std::string path = temp_file(std::string(kBinary, sizeof kBinary - 1));
    const std::string err = one_error_line({"-f", path, "true"});
    CHECK(err.find(path + ":1: ") != std::string::npos);
    CHECK(err.find("\\x01\\x1b[31mhost\\x00tail") != std::string::npos);
  }
  SUBCASE("a 300 KB host name") {
    const std::string path = temp_file("\n\n" + std::string(300000, 'h') + " slots=1\n");
    const std::string err = one_error_line({"-f", path, "true"});
    CHECK(err.find(path + ":3: host name too long (300000 bytes, at most 253)") !=
          std::string::npos);
  }
  SUBCASE("a long bad option value") {
    const std::string err = one_error_line({"--map-by", std::string(5000, 'm'), "true"});
    CHECK(err.find("--map-by") != std::string::npos);
    CHECK(err.find("(5000 bytes)") != std::string::npos);
  }
}

TEST_CASE("--iface bogus0 is checked once: one line naming the host and what was asked, exit 1") {
  const std::string err = one_error_line({"-n", "3", "--oversubscribe", "--iface", "bogus0", "true"});
  CHECK(err.find("localhost") != std::string::npos);
  CHECK(err.find("'bogus0'") != std::string::npos);
  CHECK(err.find("--iface") != std::string::npos);
}

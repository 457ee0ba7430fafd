// The runtime examples as real programs: exact output, exit 0, and no
// process of theirs left behind (every descendant inherits a marker in its
// environment, which is how leftovers are found in /proc).
#include <dirent.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <doctest/doctest.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

namespace {

struct Run {
  int status = -1;  // exit code, or 128+signal; -1 if it timed out
  std::string out, err;
  std::chrono::milliseconds took{0};
};

std::vector<std::string> lines(const std::string& s) {
  std::vector<std::string> v;
  std::istringstream in(s);
  for (std::string l; std::getline(in, l);) v.push_back(l);
  return v;
}

// Runs `exe args...` with `marker` in its environment; output captured; bounded by `limit`.
Run run(const std::string& exe, const std::string& marker, std::chrono::seconds limit,
        std::vector<std::string> args = {}) {
  args.insert(args.begin(), exe);
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  int out[2], err[2];
  REQUIRE(::pipe(out) == 0);
  REQUIRE(::pipe(err) == 0);
  const auto start = std::chrono::steady_clock::now();
  const pid_t pid = ::fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    ::setpgid(0, 0);
    ::dup2(out[1], 1);
    ::dup2(err[1], 2);
    ::close(out[0]);
    ::close(err[0]);
    ::setenv("RMPI_EXAMPLES_TEST_MARKER", marker.c_str(), 1);
    ::execv(exe.c_str(), argv.data());
    _exit(127);
  }
  ::close(out[1]);
  ::close(err[1]);
  Run r;
  const auto deadline = start + limit;
  bool out_open = true, err_open = true;
  while (out_open || err_open) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) break;
    pollfd fds[2] = {{out_open ? out[0] : -1, POLLIN, 0}, {err_open ? err[0] : -1, POLLIN, 0}};
    if (::poll(fds, 2, static_cast<int>(left.count())) <= 0) continue;
    char buf[4096];
    for (int i = 0; i < 2; ++i) {
      if (!fds[i].revents) continue;
      const ssize_t n = ::read(i == 0 ? out[0] : err[0], buf, sizeof buf);
      if (n > 0) (i == 0 ? r.out : r.err).append(buf, static_cast<std::size_t>(n));
      else (i == 0 ? out_open : err_open) = false;
    }
  }
  ::close(out[0]);
  ::close(err[0]);
  int st = 0;
  for (;;) {
    if (::waitpid(pid, &st, WNOHANG) == pid) {
      r.status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
      break;
    }
    if (std::chrono::steady_clock::now() >= deadline) {
      ::kill(-pid, SIGKILL);
      ::kill(pid, SIGKILL);
      ::waitpid(pid, &st, 0);
      break;
    }
    // The pipes are closed, so the program is exiting: wait for it without spinning hard.
    ::poll(nullptr, 0, 5);
  }
  r.took = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - start);
  return r;
}

// Pids of processes whose environment holds the marker.
std::vector<int> marked_processes(const std::string& marker) {
  std::vector<int> found;
  const std::string needle = "RMPI_EXAMPLES_TEST_MARKER=" + marker;
  DIR* d = ::opendir("/proc");
  if (!d) return found;
  while (dirent* e = ::readdir(d)) {
    const int pid = std::atoi(e->d_name);
    if (pid <= 0) continue;
    std::ifstream env("/proc/" + std::string(e->d_name) + "/environ", std::ios::binary);
    const std::string all((std::istreambuf_iterator<char>(env)), std::istreambuf_iterator<char>());
    std::size_t at = 0;
    for (std::size_t nul; (nul = all.find('\0', at)) != std::string::npos; at = nul + 1)
      if (all.compare(at, nul - at, needle) == 0) found.push_back(pid);
  }
  ::closedir(d);
  return found;
}

std::string new_marker(const char* name) {
  return std::string(name) + "-" + std::to_string(::getpid()) + "-" +
         std::to_string(std::chrono::steady_clock::now().time_since_epoch().count());
}

void check_nothing_left(const std::string& marker) {
  // The program waits for its nodes before exiting; allow their last
  // instants of teardown, bounded.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(3);
  std::vector<int> left = marked_processes(marker);
  while (!left.empty() && std::chrono::steady_clock::now() < deadline) {
    ::poll(nullptr, 0, 20);
    left = marked_processes(marker);
  }
  CHECK(left.empty());
  for (int pid : left) ::kill(pid, SIGKILL);
}

}  // namespace

TEST_CASE("hello-world prints its three lines and exits 0 by itself within 10 s") {
  const std::string marker = new_marker("hello-world");
  const Run r = run(RMPI_HELLO_WORLD_EXE, marker, std::chrono::seconds(15));
  INFO("stdout:\n" << r.out << "stderr:\n" << r.err);
  CHECK(r.status == 0);
  CHECK(r.took < std::chrono::seconds(10));
  auto out = lines(r.out);
  std::vector<std::string> sorted = out;
  std::sort(sorted.begin(), sorted.end());
  CHECK(sorted == std::vector<std::string>{"hello-world received: Hello",
                                           "hello-world sent: Hello World",
                                           "message-router received: Hello World"});
  const auto received = std::find(out.begin(), out.end(), "hello-world received: Hello");
  const auto sent = std::find(out.begin(), out.end(), "hello-world sent: Hello World");
  CHECK(received < sent);
  check_nothing_left(marker);
}

TEST_CASE("named prints the reference's results: the tuple server's, then the bank's") {
  const std::string marker = new_marker("named");
  const Run r = run(RMPI_NAMED_EXE, marker, std::chrono::seconds(30));
  INFO("stdout:\n" << r.out << "stderr:\n" << r.err);
  CHECK(r.status == 0);
  CHECK(lines(r.out) == std::vector<std::string>{"100", "200", "100", "200", "100", "200",
                                                 "(created user1)", "(ok 10)", "(ok 5)"});
  // The casts and log_to_parent lines of the tuple server reach this program.
  CHECK(r.err.find("info: hello") != std::string::npos);
  CHECK(r.err.find("debug: user0 set to 100") != std::string::npos);
  check_nothing_left(marker);
}

std::size_t count(const std::vector<std::string>& v, const std::string& line) {
  return static_cast<std::size_t>(std::count(v.begin(), v.end(), line));
}

TEST_CASE("restart: the place is restarted (3 times within 20 s), then the program stops on request") {
  const std::string marker = new_marker("restart");
  const Run r = run(RMPI_RESTART_EXE, marker, std::chrono::seconds(30),
                    {"--restarts", "3", "--sleep", "0.3"});
  INFO("stdout:\n" << r.out << "stderr:\n" << r.err);
  CHECK(r.status == 0);
  CHECK(r.took < std::chrono::seconds(20));
  const auto out = lines(r.out);
  CHECK(count(out, "restarted 1 time") == 1);
  CHECK(count(out, "restarted 2 times") == 1);
  CHECK(count(out, "restarted 3 times") == 1);
  CHECK(count(out, "SLEEP DONE") >= 3);
  CHECK(count(out, "BEGINING SLEEP") >= count(out, "SLEEP DONE"));
  CHECK(out.back() == "stopped after 3 restarts");
  check_nothing_left(marker);
}

TEST_CASE("restarter: gives up after exactly 3 retries and prints from on_final_fail") {
  const std::string marker = new_marker("restarter");
  const Run r = run(RMPI_RESTARTER_EXE, marker, std::chrono::seconds(30));
  INFO("stdout:\n" << r.out << "stderr:\n" << r.err);
  CHECK(r.status == 0);
  const auto out = lines(r.out);
  CHECK(count(out, "place started, failing with status 1") == 4);
  CHECK(count(out, "retry 1") == 1);
  CHECK(count(out, "retry 2") == 1);
  CHECK(count(out, "retry 3") == 1);
  CHECK(count(out, "retry 4") == 0);
  CHECK(count(out, "on_final_fail: gave up after 3 retries") == 1);
  CHECK(out.back() == "the place's last exit status: 1");
  check_nothing_left(marker);
}

TEST_CASE("logging prints the reference's results; the tuple server's log lines reach the root") {
  const std::string marker = new_marker("logging");
  const Run r = run(RMPI_LOGGING_EXE, marker, std::chrono::seconds(30));
  INFO("stdout:\n" << r.out << "stderr:\n" << r.err);
  CHECK(r.status == 0);
  CHECK(lines(r.out) == std::vector<std::string>{"100", "200", "100", "200", "100", "200",
                                                 "(created user1)", "(ok 10)", "(ok 5)"});
  const std::regex origin(R"(^\[[0-9:.]+\] PLACE 127\.0\.0\.1:[0-9]+ debug: )");
  std::vector<std::string> logged;
  for (const auto& l : lines(r.err)) {
    std::smatch m;
    if (std::regex_search(l, m, origin)) logged.push_back(m.suffix());
  }
  CHECK(logged == std::vector<std::string>{"user0 set to 100", "user2 set to 200"});
  check_nothing_left(marker);
}

TEST_CASE("multiple: three workers on three nodes and a bank on a fourth, all answered") {
  const std::string marker = new_marker("multiple");
  const Run r = run(RMPI_MULTIPLE_EXE, marker, std::chrono::seconds(40));
  INFO("stdout:\n" << r.out << "stderr:\n" << r.err);
  CHECK(r.status == 0);
  std::vector<std::string> sent, received, bank, other;
  int greetings = 0;
  for (const auto& l : lines(r.out)) {
    if (l.starts_with("master received ")) received.push_back(l.substr(16));
    else if (l.starts_with("(ONE ") || l.starts_with("(TWO ") || l.starts_with("(THREE ")) sent.push_back(l);
    else if (l == "Hello from every-seconds") ++greetings;
    else if (l.starts_with("(")) bank.push_back(l);
    else other.push_back(l);
  }
  CHECK(bank == std::vector<std::string>{"(created user0)", "(ok 10)", "(ok 5)"});
  CHECK(greetings >= 1);
  CHECK(other.empty());
  // Each worker's messages, all of them, in its order, both where sent and where received.
  for (const std::string worker : {"ONE", "TWO", "THREE"}) {
    CAPTURE(worker);
    std::vector<std::string> expected, sent_by, received_from;
    for (int i = 0; i < 5; ++i) expected.push_back("(" + worker + " " + std::to_string(i) + ")");
    for (const auto& s : sent)
      if (s.starts_with("(" + worker + " ")) sent_by.push_back(s);
    for (const auto& s : received)
      if (s.starts_with("(" + worker + " ")) received_from.push_back(s);
    CHECK(sent_by == expected);
    CHECK(received_from == expected);
  }
  CHECK(sent.size() == 15);
  CHECK(received.size() == 15);
  check_nothing_left(marker);
}

TEST_CASE("thread: the bank served on a thread of a node answers as the reference's") {
  const std::string marker = new_marker("thread");
  const Run r = run(RMPI_THREAD_EXE, marker, std::chrono::seconds(30));
  INFO("stdout:\n" << r.out << "stderr:\n" << r.err);
  CHECK(r.status == 0);
  CHECK(lines(r.out) == std::vector<std::string>{"(created user0)", "(ok 10)", "(ok 5)"});
  check_nothing_left(marker);
}

// rank-probe: a small program run as every rank by rmpirun_test. It does what
// its arguments say, in order:
//   info              print one line "info k=v ..." with the rank's launcher
//                     variables, the SSH server address it came through, its
//                     cwd and the PMI_* / OMPI_COMM_WORLD_* variables
//   show NAME         print "show NAME=<value>" or "show NAME unset"
//   exit N [R]        exit with status N (only at rank R when R is given)
//   fail N R          rank R exits with status N; every other rank blocks
//   bytes N           write N bytes: 100-byte numbered lines, then a partial one
//   long N            write one line of N 'L's, then "partial-<rank>" with no newline
//   echo              read stdin to EOF and print "stdin[<it>]"
//   ready             print "ready <rank>"
//   block             block until killed
//   sigkill R         rank R kills itself with SIGKILL; every other rank blocks
#include <signal.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

namespace {

void write_all(std::string_view s) {
  while (!s.empty()) {
    const ssize_t n = ::write(1, s.data(), s.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      std::_Exit(3);
    }
    s.remove_prefix(static_cast<std::size_t>(n));
  }
}

std::string env_or(const char* name, const char* fallback) {
  const char* v = std::getenv(name);
  return v ? v : fallback;
}

int my_rank() { return std::atoi(env_or("RMPI_RANK", "-1").c_str()); }

/// Blocks until a signal ends the process: a read on a pipe nobody writes.
[[noreturn]] void block_forever() {
  int fds[2];
  if (::pipe(fds) != 0) std::_Exit(4);
  char c;
  for (;;) (void)!::read(fds[0], &c, 1);
}

/// The server address of SSH_CONNECTION ("client cport server sport"), or "none".
std::string ssh_server_ip() {
  const std::string conn = env_or("SSH_CONNECTION", "");
  std::vector<std::string> parts;
  std::size_t pos = 0;
  while (pos < conn.size()) {
    const std::size_t sp = conn.find(' ', pos);
    parts.push_back(conn.substr(pos, sp == std::string::npos ? std::string::npos : sp - pos));
    if (sp == std::string::npos) break;
    pos = sp + 1;
  }
  return parts.size() >= 3 ? parts[2] : "none";
}

void print_info() {
  std::string line = "info";
  for (const char* name :
       {"RMPI_RANK", "RMPI_SIZE", "RMPI_LOCAL_RANK", "RMPI_LOCAL_SIZE", "RMPI_NODE_ID", "RANK",
        "WORLD_SIZE", "LOCAL_RANK", "LOCAL_WORLD_SIZE", "PMI_RANK", "PMI_SIZE",
        "OMPI_COMM_WORLD_RANK", "OMPI_COMM_WORLD_SIZE", "OMPI_COMM_WORLD_LOCAL_RANK",
        "OMPI_COMM_WORLD_LOCAL_SIZE"}) {
    line += std::string(" ") + name + "=" + env_or(name, "unset");
  }
  line += " server=" + ssh_server_ip();
  line += " cwd=" + std::filesystem::current_path().string();
  write_all(line + "\n");
}

void write_bytes(long long n) {
  std::string buf;
  long long line = 0;
  while (n > 0) {
    if (n >= 100) {
      char head[24];
      std::snprintf(head, sizeof head, "%08lld", line++);
      buf += head;
      buf.append(91, 'b');
      buf += '\n';
      n -= 100;
    } else {
      buf.append(static_cast<std::size_t>(n), 'p');
      n = 0;
    }
    if (buf.size() >= (1u << 20)) {
      write_all(buf);
      buf.clear();
    }
  }
  write_all(buf);
}

}  // namespace

int main(int argc, char** argv) {
  const int rank = my_rank();
  std::vector<std::string> args(argv + 1, argv + argc);
  auto arg = [&](std::size_t i) -> std::string {
    if (i >= args.size()) {
      std::fprintf(stderr, "rank-probe: missing argument after %s\n", args.back().c_str());
      std::_Exit(2);
    }
    return args[i];
  };
  for (std::size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (a == "info") {
      print_info();
    } else if (a == "show") {
      const std::string name = arg(++i);
      const char* v = std::getenv(name.c_str());
      write_all("show " + name + (v ? "=" + std::string(v) : std::string(" unset")) + "\n");
    } else if (a == "exit" || a == "fail") {
      const int code = std::atoi(arg(++i).c_str());
      const bool targeted =
          a == "fail" || (i + 1 < args.size() && !args[i + 1].empty() &&
                          std::isdigit(static_cast<unsigned char>(args[i + 1][0])));
      const int at = targeted ? std::atoi(arg(++i).c_str()) : rank;
      if (at == rank) return code;
      if (a == "fail") block_forever();
      return 0;
    } else if (a == "bytes") {
      write_bytes(std::atoll(arg(++i).c_str()));
    } else if (a == "long") {
      write_all(std::string(static_cast<std::size_t>(std::atol(arg(++i).c_str())), 'L') + "\n");
      write_all("partial-" + std::to_string(rank));
    } else if (a == "echo") {
      std::string in;
      char buf[4096];
      for (;;) {
        const ssize_t n = ::read(0, buf, sizeof buf);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;
        in.append(buf, static_cast<std::size_t>(n));
      }
      write_all("stdin[" + in + "]\n");
    } else if (a == "ready") {
      write_all("ready " + std::to_string(rank) + "\n");
    } else if (a == "block") {
      block_forever();
    } else if (a == "sigkill") {
      if (std::atoi(arg(++i).c_str()) == rank) ::kill(::getpid(), SIGKILL);
      block_forever();
    } else {
      std::fprintf(stderr, "rank-probe: unknown argument %s\n", a.c_str());
      return 2;
    }
  }
  return 0;
}

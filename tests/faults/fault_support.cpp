#include "fault_support.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <fcntl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <set>
#include <sstream>

#include <rmpi/auth.hpp>

#include "process_exit.hpp"

namespace rmpi::faults {

namespace {

std::string read_text(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

constexpr std::size_t kKeep = 1 << 20;

void keep_tail(std::string& s) {
  if (s.size() > 2 * kKeep) s.erase(0, s.size() - kKeep);
}

}  // namespace

// ---- Child -----------------------------------------------------------------

Child::Child(Options o) {
  int out[2], err[2];
  if (::pipe2(out, O_CLOEXEC) != 0 || ::pipe2(err, O_CLOEXEC) != 0) throw std::runtime_error("pipe");
  pid_ = ::fork();
  if (pid_ < 0) throw std::runtime_error("fork");
  if (pid_ == 0) {
    ::dup2(out[1], 1);
    ::dup2(err[1], 2);
    const int devnull = ::open("/dev/null", O_RDONLY);
    if (devnull >= 0) ::dup2(devnull, 0);
    for (const auto& [k, v] : o.env) ::setenv(k.c_str(), v.c_str(), 1);
    if (o.max_files > 0) {
      rlimit r{static_cast<rlim_t>(o.max_files), static_cast<rlim_t>(o.max_files)};
      ::setrlimit(RLIMIT_NOFILE, &r);
    }
    std::vector<char*> argv;
    for (auto& a : o.argv) argv.push_back(a.data());
    argv.push_back(nullptr);
    ::execv(argv[0], argv.data());
    ::_exit(127);
  }
  ::close(out[1]);
  ::close(err[1]);
  out_fd_ = out[0];
  err_fd_ = err[0];
  pump_ = std::thread([this] { pump(); });
}

Child::~Child() {
  if (!status_) {
    ::kill(pid_, SIGKILL);
    int st = 0;
    ::waitpid(pid_, &st, 0);
  }
  if (pump_.joinable()) pump_.join();
  ::close(out_fd_);
  ::close(err_fd_);
}

void Child::pump() {
  bool out_open = true, err_open = true;
  char buf[65536];
  while (out_open || err_open) {
    pollfd fds[2] = {{out_open ? out_fd_ : -1, POLLIN, 0}, {err_open ? err_fd_ : -1, POLLIN, 0}};
    if (::poll(fds, 2, -1) < 0) {
      if (errno == EINTR) continue;
      break;
    }
    for (int i = 0; i < 2; ++i) {
      if (!fds[i].revents) continue;
      const ssize_t n = ::read(i == 0 ? out_fd_ : err_fd_, buf, sizeof buf);
      std::lock_guard lock(mu_);
      if (n > 0) {
        std::string& s = i == 0 ? out_ : err_;
        s.append(buf, static_cast<std::size_t>(n));
        keep_tail(s);
      } else if (n == 0 || errno != EINTR) {
        (i == 0 ? out_open : err_open) = false;
        (i == 0 ? out_open_ : err_open_) = false;
      }
      cv_.notify_all();
    }
  }
}

std::optional<std::vector<std::string>> Child::wait_for(const std::string& pattern, bool in_stderr,
                                                        std::chrono::milliseconds limit) {
  const std::regex re(pattern);
  std::unique_lock lock(mu_);
  std::optional<std::vector<std::string>> found;
  cv_.wait_for(lock, limit, [&] {
    std::smatch m;
    const std::string& text = in_stderr ? err_ : out_;
    if (std::regex_search(text, m, re)) {
      found.emplace();
      for (const auto& g : m) found->push_back(g.str());
      return true;
    }
    return !(in_stderr ? err_open_ : out_open_);
  });
  return found;
}

bool Child::wait_err(const std::function<bool(const std::string&)>& done,
                     std::chrono::milliseconds limit) {
  std::unique_lock lock(mu_);
  return cv_.wait_for(lock, limit, [&] { return done(err_) || !err_open_; }) && done(err_);
}

std::optional<int> Child::wait_exit(std::chrono::milliseconds limit) {
  if (status_) return status_;
  const auto deadline = Clock::now() + limit;
  for (;;) {
    int st = 0;
    const pid_t r = ::waitpid(pid_, &st, WNOHANG);
    if (r == pid_) {
      status_ = st;
      return status_;
    }
    if (Clock::now() >= deadline) return std::nullopt;
    // No child-exit event to wait on without owning SIGCHLD: wait for the
    // child's output to close (it does at exit), bounded.
    std::unique_lock lock(mu_);
    if (out_open_ || err_open_)
      cv_.wait_for(lock, std::chrono::milliseconds(50), [&] { return !out_open_ && !err_open_; });
    else
      cv_.wait_for(lock, std::chrono::milliseconds(10));
  }
}

bool Child::running() {
  if (status_) return false;
  int st = 0;
  if (::waitpid(pid_, &st, WNOHANG) == pid_) {
    status_ = st;
    return false;
  }
  return true;
}

std::string Child::out() const {
  std::lock_guard lock(mu_);
  return out_;
}

std::string Child::err() const {
  std::lock_guard lock(mu_);
  return err_;
}

std::size_t Child::err_lines_with(const std::string& needle) const {
  std::istringstream in(err());
  std::size_t n = 0;
  for (std::string line; std::getline(in, line);)
    if (line.find(needle) != std::string::npos) ++n;
  return n;
}

void Child::signal(int sig) {
  if (!status_) ::kill(pid_, sig);
}

// ---- /proc -----------------------------------------------------------------

ProcStats proc_stats(pid_t pid) {
  ProcStats s;
  const std::string base = "/proc/" + std::to_string(pid);
  std::istringstream status(read_text(base + "/status"));
  for (std::string line; std::getline(status, line);) {
    if (line.rfind("VmRSS:", 0) == 0) s.rss_kb = std::atol(line.c_str() + 6);
    if (line.rfind("VmSize:", 0) == 0) s.vm_kb = std::atol(line.c_str() + 7);
    if (line.rfind("Threads:", 0) == 0) s.threads = std::atoi(line.c_str() + 8);
  }
  const std::string stat = read_text(base + "/stat");
  const auto close_paren = stat.rfind(')');
  if (close_paren != std::string::npos) {
    std::istringstream rest(stat.substr(close_paren + 2));
    std::string field;
    unsigned long utime = 0, stime = 0;
    for (int i = 3; i <= 15 && rest >> field; ++i) {
      if (i == 14) utime = std::stoul(field);
      if (i == 15) stime = std::stoul(field);
    }
    s.cpu_seconds = static_cast<double>(utime + stime) / static_cast<double>(::sysconf(_SC_CLK_TCK));
  }
  std::error_code ec;
  for (auto it = std::filesystem::directory_iterator(base + "/fd", ec);
       !ec && it != std::filesystem::directory_iterator(); it.increment(ec))
    ++s.fds;
  return s;
}

std::string describe(const ProcStats& s) {
  return "RSS " + std::to_string(s.rss_kb / 1024) + " MB, VM " + std::to_string(s.vm_kb / 1024) +
         " MB, " + std::to_string(s.threads) + " threads, " + std::to_string(s.fds) + " fds";
}

std::vector<Listening> listening_sockets(pid_t pid) {
  std::set<std::string> inodes;
  const std::string base = "/proc/" + std::to_string(pid);
  std::error_code ec;
  for (auto it = std::filesystem::directory_iterator(base + "/fd", ec);
       !ec && it != std::filesystem::directory_iterator(); it.increment(ec)) {
    const std::string target = std::filesystem::read_symlink(it->path(), ec).string();
    if (!ec && target.rfind("socket:[", 0) == 0) inodes.insert(target.substr(8, target.size() - 9));
  }
  std::vector<Listening> out;
  for (const char* table : {"/net/tcp", "/net/tcp6"}) {
    std::istringstream in(read_text(base + table));
    std::string line;
    std::getline(in, line);  // header
    while (std::getline(in, line)) {
      std::istringstream f(line);
      std::string sl, local, remote, state, queues, timer, retr, uid, timeout, inode;
      f >> sl >> local >> remote >> state >> queues >> timer >> retr >> uid >> timeout >> inode;
      if (state != "0A" || !inodes.count(inode)) continue;
      const auto colon = local.find(':');
      Listening l;
      l.port = static_cast<std::uint16_t>(std::stoul(local.substr(colon + 1), nullptr, 16));
      const std::string hex = local.substr(0, colon);
      char text[INET6_ADDRSTRLEN] = {};
      if (hex.size() == 8) {
        in_addr a{};
        a.s_addr = static_cast<std::uint32_t>(std::stoul(hex, nullptr, 16));
        ::inet_ntop(AF_INET, &a, text, sizeof text);
      } else {
        in6_addr a{};
        for (int w = 0; w < 4; ++w) {
          const auto word = static_cast<std::uint32_t>(std::stoul(hex.substr(8 * w, 8), nullptr, 16));
          std::memcpy(a.s6_addr + 4 * w, &word, 4);
        }
        ::inet_ntop(AF_INET6, &a, text, sizeof text);
      }
      l.address = text;
      out.push_back(l);
    }
  }
  return out;
}

// ---- Client ----------------------------------------------------------------

Client::Client(std::uint16_t port, std::chrono::milliseconds io_timeout) : io_timeout_(io_timeout) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return;
  timeval tv{static_cast<time_t>(io_timeout.count() / 1000),
             static_cast<suseconds_t>((io_timeout.count() % 1000) * 1000)};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  int one = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
    ::close(fd);
    return;
  }
  fd_ = fd;
}

Client::~Client() { close(); }

void Client::close() {
  if (fd_ < 0) return;
  linger l{1, 0};  // reset: no TIME_WAIT left behind by thousands of connections
  ::setsockopt(fd_, SOL_SOCKET, SO_LINGER, &l, sizeof l);
  ::close(fd_);
  fd_ = -1;
}

bool Client::send(const std::vector<std::byte>& bytes) {
  std::size_t done = 0;
  while (done < bytes.size()) {
    const ssize_t n = ::send(fd_, bytes.data() + done, bytes.size() - done, MSG_NOSIGNAL);
    if (n > 0) done += static_cast<std::size_t>(n);
    else if (n < 0 && errno == EINTR) continue;
    else return false;
  }
  return true;
}

bool Client::read_exact(std::byte* p, std::size_t n) {
  std::size_t got = 0;
  while (got < n) {
    const ssize_t r = ::recv(fd_, p + got, n - got, 0);
    if (r > 0) got += static_cast<std::size_t>(r);
    else if (r < 0 && errno == EINTR) continue;
    else return false;
  }
  return true;
}

std::optional<std::pair<wire::FrameHeader, std::vector<std::byte>>> Client::read_frame(
    std::uint64_t max_length) {
  wire::HeaderBytes hb{};
  if (!read_exact(hb.data(), hb.size())) return std::nullopt;
  wire::FrameHeader h;
  try {
    h = wire::decode_header(hb, max_length);
  } catch (const std::exception&) {
    return std::nullopt;
  }
  std::vector<std::byte> payload(h.length);
  if (!payload.empty() && !read_exact(payload.data(), payload.size())) return std::nullopt;
  return std::make_pair(h, std::move(payload));
}

bool Client::authenticate(const std::string& secret) {
  if (fd_ < 0) return false;
  const auth::Nonce mine = auth::make_nonce();
  if (!send(frame_bytes({.kind = wire::FrameKind::auth}, {mine.begin(), mine.end()}))) return false;
  auto reply = read_frame(64);
  if (!reply || reply->first.kind != wire::FrameKind::auth || reply->second.size() != 64) return false;
  auth::Nonce theirs{};
  auth::Proof proof{};
  std::memcpy(theirs.data(), reply->second.data(), 32);
  std::memcpy(proof.data(), reply->second.data() + 32, 32);
  if (!auth::proofs_equal(proof, auth::acceptor_proof(secret, mine, theirs))) return false;
  const auth::Proof p = auth::connector_proof(secret, mine, theirs);
  return send(frame_bytes({.kind = wire::FrameKind::auth}, {p.begin(), p.end()}));
}

bool Client::closed_by_peer(std::chrono::milliseconds limit) {
  const auto deadline = Clock::now() + limit;
  char buf[4096];
  for (;;) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    if (left.count() <= 0) return false;
    pollfd p{fd_, POLLIN, 0};
    const int r = ::poll(&p, 1, static_cast<int>(left.count()));
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) return false;
    const ssize_t n = ::recv(fd_, buf, sizeof buf, MSG_DONTWAIT);
    if (n == 0) return true;
    if (n < 0 && errno != EAGAIN && errno != EINTR) return true;  // reset
  }
}

// ---- frames ----------------------------------------------------------------

std::vector<std::byte> frame_bytes(const wire::FrameHeader& h, const std::vector<std::byte>& payload) {
  wire::FrameHeader hh = h;
  hh.length = payload.size();
  const auto hb = wire::encode_header(hh);
  std::vector<std::byte> out(hb.size() + payload.size());
  std::memcpy(out.data(), hb.data(), hb.size());
  if (!payload.empty()) std::memcpy(out.data() + hb.size(), payload.data(), payload.size());
  return out;
}

namespace {

// Control messages a fuzzer must not send a node it wants to keep: they
// spawn, end or terminate (indices in protocol::ControlMessage).
constexpr std::uint32_t kSpawnPlace = 2, kExit = 11, kSpawnProcess = 13, kTerminate = 17;
constexpr std::uint32_t kControlKinds = 20;
constexpr std::uint16_t kHelloFlag = 2;  // rmpi/src/world.hpp kHelloFrame

template <class T>
T get_le(const std::vector<std::byte>& f, std::size_t at) {
  T v{};
  std::memcpy(&v, f.data() + at, sizeof v);
  return v;
}
template <class T>
void put_le(std::vector<std::byte>& f, std::size_t at, T v) {
  std::memcpy(f.data() + at, &v, sizeof v);
}

}  // namespace

FrameFuzzer::FrameFuzzer(Listener target, std::uint64_t seed, std::uint32_t job_size)
    : target_(target), job_size_(job_size), rng_(seed) {}

std::uint64_t FrameFuzzer::pick_length() {
  static constexpr std::uint64_t kLengths[] = {0,       1,           31,          32,
                                               33,      63,          64,          65,
                                               4096,    1u << 20,    1ull << 30,  (1ull << 30) + 1,
                                               1ull << 40, 1ull << 62, ~0ull,     0x8000000000000000ull};
  return kLengths[rng_() % std::size(kLengths)];
}

std::vector<std::byte> FrameFuzzer::before_auth() {
  std::vector<std::byte> payload(32);
  for (auto& b : payload) b = static_cast<std::byte>(rng_());
  std::vector<std::byte> f = frame_bytes({.kind = wire::FrameKind::auth}, payload);
  switch (rng_() % 6) {
    case 0: {  // garbage of any length
      f.resize(1 + rng_() % 200);
      for (auto& b : f) b = static_cast<std::byte>(rng_());
      return f;
    }
    case 1: {  // another kind before the handshake
      f[5] = static_cast<std::byte>(2 + rng_() % 3);
      return f;
    }
    case 2: {  // a challenge of the wrong size, with its length told truthfully or not
      f.resize(wire::kHeaderSize + rng_() % 128);
      put_le<std::uint64_t>(f, 24, rng_() % 2 ? f.size() - wire::kHeaderSize : pick_length());
      return f;
    }
    default: {
      bool ends = false;
      mutate(f, ends);
      return f;
    }
  }
}

std::vector<std::byte> FrameFuzzer::valid_after_auth() {
  std::vector<std::byte> payload(rng_() % 96);
  for (auto& b : payload) b = static_cast<std::byte>(rng_());
  wire::FrameHeader h;
  switch (target_) {
    case Listener::router: {
      const auto k = rng_() % 4;
      h.kind = k == 0 ? wire::FrameKind::data : k == 1 ? wire::FrameKind::io : wire::FrameKind::control;
      h.channel = static_cast<std::uint32_t>(rng_() % 8);
      if (h.kind == wire::FrameKind::control) {
        // A Cereal variant: an int32 index, then the alternative's fields (here random).
        payload.resize(std::max<std::size_t>(payload.size(), 4));
        put_le<std::uint32_t>(payload, 0, static_cast<std::uint32_t>(rng_() % (kControlKinds + 2)));
      }
      break;
    }
    case Listener::rendezvous:
      h.kind = wire::FrameKind::control;
      h.source = static_cast<std::uint32_t>(rng_() % (job_size_ + 3));
      h.channel = static_cast<std::uint32_t>(job_size_ + rng_() % 2);
      break;
    case Listener::rank:
      h.kind = wire::FrameKind::control;
      h.flags = kHelloFlag;
      h.source = static_cast<std::uint32_t>(rng_() % (job_size_ + 3));
      break;
  }
  return frame_bytes(h, payload);
}

void FrameFuzzer::mutate(std::vector<std::byte>& f, bool& ends) {
  const int rounds = 1 + static_cast<int>(rng_() % 3);
  for (int r = 0; r < rounds; ++r) {
    auto op = rng_() % 10;
    if (f.size() < wire::kHeaderSize && op != 0 && op != 6 && op != 7) op = 8;  // no header left
    switch (op) {
      case 0: f[rng_() % f.size()] ^= static_cast<std::byte>(1u << (rng_() % 8)); break;
      case 1: put_le<std::uint32_t>(f, 0, static_cast<std::uint32_t>(rng_())); break;  // magic
      case 2: f[4] = static_cast<std::byte>(rng_()); break;                           // version
      case 3: f[5] = static_cast<std::byte>(rng_() % 8); break;                       // kind
      case 4: put_le<std::uint16_t>(f, 6, static_cast<std::uint16_t>(rng_())); break;  // flags
      case 5: put_le<std::uint64_t>(f, 24, pick_length()); break;                     // length
      case 6:                                                                         // cut short
        f.resize(rng_() % f.size());
        ends = true;
        break;
      case 7:  // random payload bytes
        for (std::size_t i = wire::kHeaderSize; i < f.size(); ++i)
          if (rng_() % 4 == 0) f[i] = static_cast<std::byte>(rng_());
        break;
      case 8: {  // trailing garbage
        const std::size_t n = rng_() % 64;
        for (std::size_t i = 0; i < n; ++i) f.push_back(static_cast<std::byte>(rng_()));
        break;
      }
      default: put_le<std::uint32_t>(f, 8 + rng_() % 2 * 4, static_cast<std::uint32_t>(rng_())); break;
    }
    if (f.empty()) f.push_back(std::byte{0});
  }
  // A header that now claims another length than the bytes sent leaves the stream unsynchronized.
  if (f.size() < wire::kHeaderSize || get_le<std::uint64_t>(f, 24) != f.size() - wire::kHeaderSize)
    ends = true;
}

void FrameFuzzer::make_harmless(std::vector<std::byte>& f) {
  if (f.size() < wire::kHeaderSize || get_le<std::uint32_t>(f, 0) != wire::kMagic ||
      static_cast<std::uint8_t>(f[4]) != wire::kVersion)
    return;
  const auto kind = static_cast<wire::FrameKind>(f[5]);
  if (kind != wire::FrameKind::control) return;
  switch (target_) {
    case Listener::router:
      if (f.size() >= wire::kHeaderSize + 4) {
        const auto index = get_le<std::uint32_t>(f, wire::kHeaderSize);
        if (index == kSpawnPlace || index == kExit || index == kSpawnProcess || index == kTerminate)
          put_le<std::uint32_t>(f, wire::kHeaderSize, 1000 + index);
      }
      break;
    case Listener::rendezvous:  // never a registration: the channel (count) is never the job's
      if (get_le<std::uint32_t>(f, 12) == job_size_ && get_le<std::uint32_t>(f, 8) < job_size_)
        put_le<std::uint32_t>(f, 12, job_size_ + 1);
      break;
    case Listener::rank:  // never a hello from a real rank
      if (get_le<std::uint32_t>(f, 8) < job_size_) put_le<std::uint32_t>(f, 8, job_size_ + 7);
      break;
  }
}

std::vector<std::byte> FrameFuzzer::after_auth(bool& ends) {
  ends = false;
  std::vector<std::byte> f = valid_after_auth();
  if (rng_() % 8 != 0) mutate(f, ends);
  make_harmless(f);
  return f;
}

// ---- programs --------------------------------------------------------------

std::string rmpirun_path() {
  const char* v = std::getenv("RMPI_FAULT_RMPIRUN");
  return v && *v ? v : RMPIRUN_EXE;
}

std::string node_path() {
  const char* v = std::getenv("RMPI_FAULT_NODE");
  return v && *v ? v : RMPI_NODE_EXE;
}

NodeDaemon::NodeDaemon(const std::string& secret, std::vector<std::pair<std::string, std::string>> env,
                       long max_files, std::vector<std::string> args) {
  env.emplace_back(auth::kSecretEnv, secret);
  std::vector<std::string> argv = {node_path(), "--listen-port", "0"};
  argv.insert(argv.end(), args.begin(), args.end());
  child_ = std::make_unique<Child>(Child::Options{argv, env, max_files});
  const auto m = child_->wait_for(R"(RMPI-NODE (\d+))", false, std::chrono::seconds(20));
  if (!m) throw std::runtime_error("rmpi-node did not start: " + child_->err());
  port_ = static_cast<std::uint16_t>(std::stoi((*m)[1]));
}

namespace {

std::string environ_of(pid_t pid) { return read_text("/proc/" + std::to_string(pid) + "/environ"); }

std::string comm_of(pid_t pid) {
  std::string c = read_text("/proc/" + std::to_string(pid) + "/comm");
  while (!c.empty() && c.back() == '\n') c.pop_back();
  return c;
}

// The processes carrying `marker` in their environment.
std::vector<pid_t> marked(const std::string& marker) {
  std::vector<pid_t> out;
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator("/proc", ec)) {
    const std::string name = e.path().filename().string();
    if (name.find_first_not_of("0123456789") != std::string::npos) continue;
    const pid_t pid = std::stoi(name);
    if (pid == ::getpid()) continue;
    if (environ_of(pid).find(marker) != std::string::npos) out.push_back(pid);
  }
  return out;
}

}  // namespace

GatedJob::GatedJob(const std::string& secret, int ranks,
                   std::vector<std::pair<std::string, std::string>> env)
    : ranks_(ranks) {
  static int n = 0;
  const std::string id = std::to_string(::getpid()) + "-" + std::to_string(++n);
  marker_ = "RMPI_FAULT_MARKER=" + id;
  gate_path_ = (std::filesystem::temp_directory_path() / ("rmpi-fault-gate-" + id)).string();
  ::unlink(gate_path_.c_str());
  if (::mkfifo(gate_path_.c_str(), 0600) != 0) throw std::runtime_error("mkfifo " + gate_path_);
  // Held open for reading and writing: rank 1's open never blocks, its read waits for our byte.
  gate_fd_ = ::open(gate_path_.c_str(), O_RDWR | O_CLOEXEC);
  env.emplace_back(auth::kSecretEnv, secret);
  env.emplace_back("RMPI_FAULT_MARKER", id);
  const std::vector<std::string> argv = {
      rmpirun_path(), "-v", "-n", std::to_string(ranks), "-H", "localhost:" + std::to_string(ranks),
      "-x", marker_, "-x", "FAULT_GATE=" + gate_path_, "-x", "RMPI_INIT_TIMEOUT=100",
      "--timeout", "110", FAULT_RANK_EXE};
  rmpirun_ = std::make_unique<Child>(Child::Options{argv, env, 0});
  const auto node = rmpirun_->wait_for(R"(node on localhost up at [0-9.]+:(\d+))", true, std::chrono::seconds(30));
  const auto rdv = rmpirun_->wait_for(R"(rendezvous listening on port (\d+))", true, std::chrono::seconds(30));
  if (!node || !rdv) throw std::runtime_error("the job did not start: " + rmpirun_->err());
  node_port = static_cast<std::uint16_t>(std::stoi((*node)[1]));
  rendezvous_port = static_cast<std::uint16_t>(std::stoi((*rdv)[1]));
  // Rank 0 enters init and listens; no line tells when, so look (bounded).
  const auto deadline = Clock::now() + std::chrono::seconds(30);
  while (rank0_port == 0) {
    if (Clock::now() > deadline) throw std::runtime_error("rank 0 never listened: " + rmpirun_->err());
    for (pid_t pid : marked(marker_)) {
      const std::string comm = comm_of(pid);
      if (comm == "rmpi-node") node_pid = pid;
      if (comm == "fault-rank" && environ_of(pid).find(std::string("RMPI_RANK=0") + '\0') != std::string::npos) {
        rank0_pid = pid;
        for (const auto& l : listening_sockets(pid)) rank0_port = l.port;
      }
    }
    if (rank0_port == 0) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

GatedJob::~GatedJob() {
  if (gate_fd_ >= 0) ::close(gate_fd_);
  ::unlink(gate_path_.c_str());
}

void GatedJob::open_gate() {
  const char go = 'g';
  (void)!::write(gate_fd_, &go, 1);
}

std::string GatedJob::finish(std::chrono::seconds limit) {
  const auto st = rmpirun_->wait_exit(limit);
  if (!st) return "rmpirun did not exit within " + std::to_string(limit.count()) + " s";
  std::string problems;
  if (!WIFEXITED(*st) || WEXITSTATUS(*st) != 0)
    problems += "rmpirun ended with wait status " + std::to_string(*st) + "; ";
  for (int r = 0; r < ranks_; ++r)
    if (rmpirun_->out().find("done " + std::to_string(r) + " ") == std::string::npos)
      problems += "rank " + std::to_string(r) + " did not finish; ";
  // Teardown is asynchronous: give the job's processes a bounded time to go.
  const auto deadline = Clock::now() + std::chrono::seconds(10);
  std::vector<pid_t> left = marked(marker_);
  while (!left.empty() && Clock::now() < deadline) {
    rmpi::testing::wait_until_gone(
        left, std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()));
    left = marked(marker_);
  }
  for (pid_t p : left) problems += "process " + std::to_string(p) + " (" + comm_of(p) + ") is left; ";
  if (!problems.empty()) problems += "stderr: " + rmpirun_->err().substr(0, 4000);
  return problems;
}

// ---- environment, counts -----------------------------------------------------

long env_long(const char* name, long fallback) {
  const char* v = std::getenv(name);
  if (!v || !*v) return fallback;
  char* end = nullptr;
  const long n = std::strtol(v, &end, 10);
  return end && *end == '\0' && n > 0 ? n : fallback;
}

namespace {
// Totals of the cases run so far in this process, by test name.
std::map<std::string, std::array<long, 3>>& totals() {
  static std::map<std::string, std::array<long, 3>> t;
  return t;
}
}  // namespace

Counts::Counts(std::string test) : test_(std::move(test)) {
  path_ = std::string(RMPI_FAULT_COUNTS_DIR) + "/" + test_ + ".counts";
  std::filesystem::create_directories(RMPI_FAULT_COUNTS_DIR);
  std::ofstream(path_) << "incomplete\n";  // until this case ends
}

Counts::~Counts() {
  auto& t = totals()[test_];
  t[0] += runs;
  t[1] += frames;
  t[2] += failures;
  const std::string line = "runs=" + std::to_string(t[0]) + " frames=" + std::to_string(t[1]) +
                           " failures=" + std::to_string(t[2]);
  std::ofstream(path_) << line << "\n";
  std::cout << test_ << ": " << line << std::endl;
}

}  // namespace rmpi::faults

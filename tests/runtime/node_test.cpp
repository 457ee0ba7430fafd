// The rmpi-node daemon as a real process: its port line, processes with
// their output streamed back (100 MB exact and in order), exit statuses,
// places (echo, named, failing), logs, bad peers, port in use, Exit, and the
// parent link taking the node and every child down with it.
#include "router.hpp"

#include <doctest/doctest.h>

#include <poll.h>
#include <signal.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <map>
#include <mutex>
#include <thread>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/write.hpp>

#include <rmpi/auth.hpp>
#include <rmpi/error.hpp>
#include <rmpi/message.hpp>

#include "framed_connection.hpp"
#include "io_thread.hpp"
#include "process.hpp"

namespace asio = boost::asio;
namespace proto = rmpi::places::protocol;
namespace wire = rmpi::wire;
using namespace rmpi::places::detail;
using namespace std::chrono_literals;

namespace {

constexpr auto kWait = 30s;
const std::string kSecret = "node-test-secret-0123456789";

int pidfd_open(pid_t pid) { return static_cast<int>(::syscall(SYS_pidfd_open, pid, 0)); }

// Waits until `pid` (any process, not only a child) has ended.
bool wait_gone(int pidfd, std::chrono::milliseconds timeout) {
  pollfd p{pidfd, POLLIN, 0};
  return ::poll(&p, 1, static_cast<int>(timeout.count())) == 1;
}

// A real rmpi-node process: its port, its stderr (collected), its exit.
class NodeProcess {
 public:
  explicit NodeProcess(std::vector<std::string> args, std::string secret = kSecret) {
    ProcessSpec spec;
    spec.argv = {RMPI_NODE_PATH};
    spec.argv.insert(spec.argv.end(), args.begin(), args.end());
    spec.env = {{rmpi::auth::kSecretEnv, secret}};
    spec.stdout_mode = Stdio::pipe;
    spec.stderr_mode = Stdio::pipe;
    auto child = spawn_process(spec);
    pid_ = child.pid;
    pidfd_ = pidfd_open(pid_);
    out_ = child.stdout_fd;
    err_reader_ = std::thread([this, fd = child.stderr_fd] {
      char buf[4096];
      ssize_t n;
      while ((n = ::read(fd, buf, sizeof buf)) > 0) {
        std::lock_guard l(mu_);
        err_.append(buf, static_cast<std::size_t>(n));
        cv_.notify_all();
      }
      ::close(fd);
      std::lock_guard l(mu_);
      err_done_ = true;
      cv_.notify_all();
    });
    const std::string line = read_line();
    if (line.rfind("RMPI-NODE ", 0) == 0) port_ = static_cast<std::uint16_t>(std::stoi(line.substr(10)));
  }
  ~NodeProcess() {
    if (!exited_) {
      ::kill(pid_, SIGKILL);
      int st;
      ::waitpid(pid_, &st, 0);
    }
    err_reader_.join();
    ::close(out_);
    ::close(pidfd_);
  }
  std::uint16_t port() const { return port_; }
  pid_t pid() const { return pid_; }
  // The node's exit status, or -1 if it did not exit within `timeout`.
  int wait_exit(std::chrono::milliseconds timeout = kWait) {
    if (!wait_gone(pidfd_, timeout)) return -1;
    int st = 0;
    ::waitpid(pid_, &st, 0);
    exited_ = true;
    return exit_status_from_wait(st).status;
  }
  bool wait_stderr(const std::string& needle) {
    std::unique_lock l(mu_);
    return cv_.wait_for(l, kWait, [&] { return err_.find(needle) != std::string::npos || err_done_; }) &&
           err_.find(needle) != std::string::npos;
  }
  std::string stderr_text() {
    std::lock_guard l(mu_);
    return err_;
  }

 private:
  std::string read_line() {
    std::string line;
    char c;
    for (;;) {
      pollfd p{out_, POLLIN, 0};
      if (::poll(&p, 1, static_cast<int>(std::chrono::milliseconds(kWait).count())) != 1) break;
      if (::read(out_, &c, 1) != 1 || c == '\n') break;
      line += c;
    }
    return line;
  }
  pid_t pid_ = -1;
  int pidfd_ = -1;
  int out_ = -1;
  std::uint16_t port_ = 0;
  bool exited_ = false;
  std::mutex mu_;
  std::condition_variable cv_;
  std::string err_;
  bool err_done_ = false;
  std::thread err_reader_;
};

// A spawner/launcher-side client: control messages in a queue, io collected per process.
class Client {
 public:
  struct Output {
    std::string out, err;
    std::uint64_t out_bytes = 0;
    bool out_eof = false, err_eof = false;
  };

  explicit Client(std::uint16_t port, std::string secret = kSecret) {
    ConnectionHandlers h;
    h.on_frame = [this](Frame&& f) { on_frame(std::move(f)); };
    h.on_close = [this](const CloseReason& r) {
      std::lock_guard l(mu_);
      closed_ = r.text;
      cv_.notify_all();
    };
    conn_ = connect_and_authenticate(io_context().get_executor(), "127.0.0.1", port, secret, h);
  }
  ~Client() {
    conn_->close("test over");
    std::unique_lock l(mu_);
    cv_.wait(l, [&] { return closed_.has_value(); });
  }

  FramedConnection& conn() { return *conn_; }
  std::size_t heartbeats() {
    std::lock_guard l(mu_);
    return heartbeats_;
  }
  void send(const proto::ControlMessage& m) { conn_->send_control(m); }

  template <class T>
  T expect() {
    std::unique_lock l(mu_);
    REQUIRE(cv_.wait_for(l, kWait, [&] { return !control_.empty() || closed_; }));
    if (control_.empty()) FAIL("connection closed: " << *closed_);
    auto m = std::move(control_.front());
    control_.pop_front();
    l.unlock();
    INFO("got message kind " << m.index());
    REQUIRE(std::holds_alternative<T>(m));
    return std::get<T>(std::move(m));
  }
  proto::Log expect_log() {
    std::unique_lock l(mu_);
    REQUIRE(cv_.wait_for(l, kWait, [&] { return !logs_.empty() || closed_; }));
    REQUIRE(!logs_.empty());
    auto m = logs_.front();
    logs_.pop_front();
    return m;
  }
  std::pair<std::uint32_t, std::string> expect_data() {
    std::unique_lock l(mu_);
    REQUIRE(cv_.wait_for(l, kWait, [&] { return !data_.empty() || closed_; }));
    if (data_.empty()) FAIL("connection closed: " << *closed_);
    auto f = std::move(data_.front());
    data_.pop_front();
    return {f.header.channel,
            rmpi::places::decode<std::string>({f.header.type_tag, std::move(f.payload)})};
  }
  void send_data(std::uint32_t channel, const std::string& s) {
    auto m = rmpi::places::encode(s);
    conn_->send_data(channel, m.type_tag, std::move(m.payload));
  }
  Output output(std::uint32_t id) {
    std::lock_guard l(mu_);
    return io_[id];
  }
  // Waits until process `id` has written exactly `text` to stdout so far.
  void wait_stdout(std::uint32_t id, const std::string& text) {
    std::unique_lock l(mu_);
    cv_.wait_for(l, kWait, [&] { return io_[id].out.size() >= text.size() || closed_; });
    REQUIRE(io_[id].out == text);
  }
  std::string wait_closed() {
    std::unique_lock l(mu_);
    REQUIRE(cv_.wait_for(l, kWait, [&] { return closed_.has_value(); }));
    return *closed_;
  }
  // Called on the io thread with each stdout chunk of process `id` (for streaming checks).
  std::function<void(std::uint32_t, const std::vector<std::byte>&)> on_stdout;
  bool keep_stdout = true;

 private:
  void on_frame(Frame&& f) {
    std::lock_guard l(mu_);
    if (f.header.kind == wire::FrameKind::control) {
      auto m = decode_control(f.payload);
      if (auto* log = std::get_if<proto::Log>(&m)) logs_.push_back(*log);
      else if (std::holds_alternative<proto::Heartbeat>(m)) ++heartbeats_;
      else control_.push_back(std::move(m));
    } else if (f.header.kind == wire::FrameKind::io) {
      auto& o = io_[f.header.channel];
      const bool is_out = f.header.flags == static_cast<std::uint16_t>(proto::IoStream::stdout_);
      if (f.payload.empty()) {
        (is_out ? o.out_eof : o.err_eof) = true;
      } else if (is_out) {
        o.out_bytes += f.payload.size();
        if (on_stdout) on_stdout(f.header.channel, f.payload);
        if (keep_stdout) o.out.append(reinterpret_cast<const char*>(f.payload.data()), f.payload.size());
      } else {
        o.err.append(reinterpret_cast<const char*>(f.payload.data()), f.payload.size());
      }
    } else if (f.header.kind == wire::FrameKind::data) {
      data_.push_back(std::move(f));
    }
    cv_.notify_all();
  }

  std::shared_ptr<FramedConnection> conn_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<proto::ControlMessage> control_;
  std::deque<proto::Log> logs_;
  std::size_t heartbeats_ = 0;
  std::deque<Frame> data_;
  std::map<std::uint32_t, Output> io_;
  std::optional<std::string> closed_;
};

proto::SpawnProcess command(std::uint32_t id, std::vector<std::string> argv) {
  proto::SpawnProcess sp;
  sp.id = id;
  sp.argv = std::move(argv);
  sp.cwd = "/";
  return sp;
}

// A blocking TCP peer that speaks the handshake by hand, then writes raw bytes.
struct RawPeer {
  asio::io_context io;
  asio::ip::tcp::socket s{io};
  explicit RawPeer(std::uint16_t port) { s.connect({asio::ip::make_address("127.0.0.1"), port}); }
  void send_frame(wire::FrameKind kind, const std::vector<std::byte>& payload) {
    wire::FrameHeader h;
    h.kind = kind;
    h.length = payload.size();
    auto hb = wire::encode_header(h);
    asio::write(s, asio::buffer(hb));
    if (!payload.empty()) asio::write(s, asio::buffer(payload));
  }
  void authenticate(const std::string& secret) {
    auto nc = rmpi::auth::make_nonce();
    send_frame(wire::FrameKind::auth, {nc.begin(), nc.end()});
    wire::HeaderBytes hb;
    asio::read(s, asio::buffer(hb));
    auto h = wire::decode_header(hb, 64);
    std::vector<std::byte> reply(h.length);
    asio::read(s, asio::buffer(reply));
    REQUIRE(reply.size() == 64);
    rmpi::auth::Nonce na;
    std::memcpy(na.data(), reply.data(), 32);
    auto proof = rmpi::auth::connector_proof(secret, nc, na);
    send_frame(wire::FrameKind::auth, {proof.begin(), proof.end()});
  }
  void send_bytes(const void* p, std::size_t n) { asio::write(s, asio::buffer(p, n)); }
  // True once the node has closed this connection (what it sent first, such
  // as heartbeats, is skipped).
  bool closed_by_node() {
    char buf[4096];
    boost::system::error_code ec;
    while (!ec) s.read_some(asio::buffer(buf), ec);
    return ec == asio::error::eof || ec == asio::error::connection_reset;
  }
  // The next control message of kind T from the node (others are skipped).
  template <class T>
  T expect_control() {
    for (;;) {
      wire::HeaderBytes hb;
      asio::read(s, asio::buffer(hb));
      auto h = wire::decode_header(hb, wire::kDefaultControlLimit);
      std::vector<std::byte> payload(h.length);
      asio::read(s, asio::buffer(payload));
      if (h.kind != wire::FrameKind::control) continue;
      auto m = decode_control(payload);
      if (auto* t = std::get_if<T>(&m)) return *t;
    }
  }
};

}  // namespace

TEST_CASE("rmpi-node prints its port, answers Hello with the address it was reached on") {
  NodeProcess node({"--listen-port", "0"});
  REQUIRE(node.port() != 0);
  Client c(node.port());
  c.send(proto::Hello{proto::Role::client});
  auto w = c.expect<proto::Welcome>();
  CHECK(w.host == "127.0.0.1");
  CHECK(w.port == node.port());
}

TEST_CASE("rmpi-node without a secret refuses to start; a port in use is an error naming it") {
  {
    ProcessSpec spec;
    spec.argv = {RMPI_NODE_PATH, "--listen-port", "0"};
    spec.unset_env = {rmpi::auth::kSecretEnv};
    spec.stdout_mode = Stdio::null;
    spec.stderr_mode = Stdio::null;
    auto child = spawn_process(spec);
    int st = 0;
    ::waitpid(child.pid, &st, 0);
    CHECK(exit_status_from_wait(st).status == 2);
  }
  NodeProcess first({"--listen-port", "0"});
  NodeProcess second({"--listen-port", std::to_string(first.port())});
  CHECK(second.wait_exit() == 1);
  CHECK(second.wait_stderr("port " + std::to_string(first.port()) + " is in use on"));
}

TEST_CASE("processes: a stop and a continue are reported, and KillProcess ends a stopped one") {
  NodeProcess node({"--listen-port", "0"});
  Client c(node.port());
  c.send(command(1, {"sh", "-c", "kill -STOP $$; echo continued; exec sleep 600"}));
  const auto started = c.expect<proto::ProcessStarted>();
  const auto stopped = c.expect<proto::ProcessRunStateChanged>();
  CHECK(stopped.id == 1);
  CHECK(stopped.state == proto::ProcessRunState::stopped);
  CHECK(stopped.signal == SIGSTOP);
  ::kill(started.pid, SIGCONT);
  const auto continued = c.expect<proto::ProcessRunStateChanged>();
  CHECK(continued.state == proto::ProcessRunState::continued);
  CHECK(continued.signal == 0);
  // The stop below must not overtake the echo: a process reported continued
  // may not have run yet.
  c.wait_stdout(1, "continued\n");
  // Stopped again from outside (not by itself: a stop that quickly follows a
  // continue supersedes it in waitpid, and only the stop is reported).
  ::kill(started.pid, SIGSTOP);
  CHECK(c.expect<proto::ProcessRunStateChanged>().state == proto::ProcessRunState::stopped);
  // SIGKILL ends it although it is stopped (SIGTERM would wait for a SIGCONT).
  c.send(proto::KillProcess{1});
  const auto exited = c.expect<proto::ProcessExited>();
  CHECK(exited.id == 1);
  CHECK(exited.signal == SIGKILL);
}

TEST_CASE("processes: output comes back as io frames, then their exit status") {
  NodeProcess node({"--listen-port", "0"});
  Client c(node.port());

  SUBCASE("echo hi") {
    c.send(command(1, {"/bin/echo", "hi"}));
    auto started = c.expect<proto::ProcessStarted>();
    CHECK(started.id == 1);
    CHECK(started.pid > 0);
    auto exited = c.expect<proto::ProcessExited>();
    CHECK(exited.id == 1);
    CHECK(exited.status == 0);
    auto o = c.output(1);
    CHECK(o.out == "hi\n");
    CHECK(o.out_eof);
    CHECK(o.err_eof);
  }
  SUBCASE("stderr, PATH lookup, environment and cwd") {
    auto sp = command(2, {"sh", "-c", "echo $FOO; pwd; echo oops >&2"});
    sp.env = {{"FOO", "bar"}};
    sp.cwd = "/tmp";
    c.send(sp);
    c.expect<proto::ProcessStarted>();
    CHECK(c.expect<proto::ProcessExited>().status == 0);
    CHECK(c.output(2).out == "bar\n/tmp\n");
    CHECK(c.output(2).err == "oops\n");
  }
  SUBCASE("exit codes and signals") {
    c.send(command(3, {"sh", "-c", "exit 7"}));
    c.expect<proto::ProcessStarted>();
    auto e = c.expect<proto::ProcessExited>();
    CHECK(e.status == 7);
    CHECK(e.signal == 0);
    c.send(command(4, {"sh", "-c", "kill -9 $$"}));
    c.expect<proto::ProcessStarted>();
    e = c.expect<proto::ProcessExited>();
    CHECK(e.status == 137);
    CHECK(e.signal == 9);
  }
  SUBCASE("exec and cwd failures are ProcessFailed naming what and where") {
    c.send(command(5, {"/no/such/program"}));
    auto f = c.expect<proto::ProcessFailed>();
    CHECK(f.id == 5);
    CHECK(f.reason.find("cannot execute /no/such/program on ") == 0);
    CHECK(f.reason.find("No such file or directory") != std::string::npos);
    auto sp = command(6, {"/bin/true"});
    sp.cwd = "/no/such/dir";
    c.send(sp);
    f = c.expect<proto::ProcessFailed>();
    CHECK(f.reason.find("working directory /no/such/dir does not exist on ") == 0);
  }
  SUBCASE("stdin is forwarded, an empty io frame closes it") {
    auto sp = command(7, {"cat"});
    sp.forward_stdin = true;
    c.send(sp);
    c.expect<proto::ProcessStarted>();
    wire::FrameHeader h;
    h.kind = wire::FrameKind::io;
    h.channel = 7;
    const std::string text = "line one\nline two\n";
    const auto* b = reinterpret_cast<const std::byte*>(text.data());
    c.conn().send(h, {b, b + text.size()});
    // Flow control: the node acknowledges what it wrote to the process.
    const auto ack = c.expect<proto::StdinWritten>();
    CHECK(ack.id == 7);
    CHECK(ack.bytes == text.size());
    c.conn().send(h, {});
    CHECK(c.expect<proto::ProcessExited>().status == 0);
    CHECK(c.output(7).out == text);
  }
  SUBCASE("Terminate: SIGTERM to every process group") {
    c.send(command(8, {"sleep", "1000"}));
    c.expect<proto::ProcessStarted>();
    c.send(proto::Terminate{200});
    auto e = c.expect<proto::ProcessExited>();
    CHECK(e.signal == SIGTERM);
    CHECK(e.status == 128 + SIGTERM);
  }
}

TEST_CASE("100 MB of output all arrive, exactly and in order") {
  NodeProcess node({"--listen-port", "0"});
  Client c(node.port());
  c.keep_stdout = false;
  SUBCASE("byte count") {
    c.send(command(1, {"head", "-c", "100000000", "/dev/zero"}));
    c.expect<proto::ProcessStarted>();
    CHECK(c.expect<proto::ProcessExited>().status == 0);
    CHECK(c.output(1).out_bytes == 100000000u);
  }
  SUBCASE("order: seq 1 12000000 (~93 MB) compared as it streams") {
    std::uint64_t next = 1;
    std::string pending;
    bool ok = true;
    c.on_stdout = [&](std::uint32_t, const std::vector<std::byte>& chunk) {
      pending.append(reinterpret_cast<const char*>(chunk.data()), chunk.size());
      std::size_t pos = 0, nl;
      while ((nl = pending.find('\n', pos)) != std::string::npos) {
        if (pending.compare(pos, nl - pos, std::to_string(next)) != 0) ok = false;
        ++next;
        pos = nl + 1;
      }
      pending.erase(0, pos);
    };
    c.send(command(2, {"seq", "1", "12000000"}));
    c.expect<proto::ProcessStarted>();
    CHECK(c.expect<proto::ProcessExited>().status == 0);
    CHECK(ok);
    CHECK(next == 12000001u);
    CHECK(pending.empty());
  }
}

TEST_CASE("places: spawned from a registered function, bridged, named, failing") {
  NodeProcess node({"--listen-port", "0"});
  Client c(node.port());
  c.send(proto::Hello{proto::Role::spawner});
  c.expect<proto::Welcome>();

  SUBCASE("echo place: data both ways, then its exit status") {
    c.send(proto::SpawnPlace{10, RMPI_TEST_PLACE_PATH, "echo", false, false, ""});
    auto started = c.expect<proto::PlaceStarted>();
    CHECK(started.channel == 10);
    CHECK(started.pid > 0);
    c.send_data(10, "Hello");
    auto [ch, msg] = c.expect_data();
    CHECK(ch == 10);
    CHECK(msg == "Hello");
    c.send_data(10, "exit 3");
    auto exited = c.expect<proto::PlaceExited>();
    CHECK(exited.channel == 10);
    CHECK(exited.status == 3);
    CHECK(exited.description == "exited with status 3");
    // The node survives and goes on serving.
    c.send(proto::Hello{proto::Role::client});
    c.expect<proto::Welcome>();
  }
  SUBCASE("a place killed by a signal is reported with the signal") {
    c.send(proto::SpawnPlace{11, RMPI_TEST_PLACE_PATH, "echo", false, false, ""});
    c.expect<proto::PlaceStarted>();
    c.send_data(11, "kill");
    auto exited = c.expect<proto::PlaceExited>();
    CHECK(exited.status == 137);
    CHECK(exited.description == "killed by signal 9 (SIGKILL)");
  }
  SUBCASE("a missing function is an error naming it and the executable") {
    c.send(proto::SpawnPlace{12, RMPI_TEST_PLACE_PATH, "nope", false, false, ""});
    auto f = c.expect<proto::ChannelFailed>();
    CHECK(f.channel == 12);
    CHECK(f.failure == proto::Failure::no_function);
    CHECK(f.reason.find("no place function 'nope'") != std::string::npos);
    CHECK(f.reason.find("rmpi_test_place") != std::string::npos);
  }
  SUBCASE("a module that cannot be executed") {
    c.send(proto::SpawnPlace{13, "/no/such/exe", "f", false, false, ""});
    auto f = c.expect<proto::ChannelFailed>();
    CHECK(f.failure == proto::Failure::other);
    CHECK(f.reason.find("cannot execute /no/such/exe") != std::string::npos);
  }
  SUBCASE("named place reached through two more connections; a missing name is an error") {
    c.send(proto::SpawnPlace{14, RMPI_TEST_PLACE_PATH, "echo", false, false, "tuple"});
    c.expect<proto::PlaceStarted>();
    Client a(node.port()), b(node.port());
    a.send(proto::ConnectNamed{1, "tuple"});
    b.send(proto::ConnectNamed{1, "tuple"});
    CHECK(a.expect<proto::Connected>().channel == 1);
    CHECK(b.expect<proto::Connected>().channel == 1);
    a.send_data(1, "from a");
    b.send_data(1, "from b");
    CHECK(a.expect_data().second == "from a");
    CHECK(b.expect_data().second == "from b");
    a.send(proto::ConnectNamed{2, "missing"});
    auto f = a.expect<proto::ChannelFailed>();
    CHECK(f.failure == proto::Failure::no_name);
    CHECK(f.reason == "no place named 'missing' on 127.0.0.1:" + std::to_string(node.port()));
    c.send_data(14, "exit 0");
    CHECK(c.expect<proto::PlaceExited>().status == 0);
    // The named connections hear the exit status too.
    CHECK(a.expect<proto::PlaceExited>().channel == 1);
    CHECK(b.expect<proto::PlaceExited>().channel == 1);
  }
  SUBCASE("a place's log reaches the parent with its PLACE host:port origin") {
    c.send(proto::SpawnPlace{15, RMPI_TEST_PLACE_PATH, "logger", false, false, ""});
    c.expect<proto::PlaceStarted>();
    CHECK(c.expect_data().second == "logged");
    auto log = c.expect_log();
    CHECK(log.text == "hello from the logger place");
    CHECK(log.severity == "warning");
    CHECK(log.origin == "PLACE 127.0.0.1:" + std::to_string(node.port()));
  }
  SUBCASE("thread places run in one module host; each reports its own exit status") {
    c.send(proto::SpawnPlace{16, RMPI_TEST_PLACE_PATH, "echo", false, true, ""});
    const auto started = c.expect<proto::PlaceStarted>();
    CHECK(started.pid > 0);
    c.send(proto::SpawnPlace{17, RMPI_TEST_PLACE_PATH, "echo", false, true, ""});
    CHECK(c.expect<proto::PlaceStarted>().pid == started.pid);  // the host's
    c.send_data(16, "Hello");
    CHECK(c.expect_data() == std::pair<std::uint32_t, std::string>{16, "Hello"});
    c.send_data(16, "exit 3");
    const auto exited = c.expect<proto::PlaceExited>();
    CHECK(exited.channel == 16);
    CHECK(exited.status == 3);
    CHECK(exited.description == "exited with status 3");
    c.send_data(17, "still here");  // the host went on for the other place
    CHECK(c.expect_data() == std::pair<std::uint32_t, std::string>{17, "still here"});
    c.send_data(17, "exit 0");
    CHECK(c.expect<proto::PlaceExited>().status == 0);
  }
  SUBCASE("a thread place's log reaches the parent with its PLACE host:port origin") {
    c.send(proto::SpawnPlace{19, RMPI_TEST_PLACE_PATH, "logger", false, true, ""});
    c.expect<proto::PlaceStarted>();
    CHECK(c.expect_data().second == "logged");
    auto log = c.expect_log();
    CHECK(log.text == "hello from the logger place");
    CHECK(log.origin == "PLACE 127.0.0.1:" + std::to_string(node.port()));
  }
  SUBCASE("a thread place of a module that cannot be executed: a clear error") {
    c.send(proto::SpawnPlace{18, "/no/such/exe", "f", false, true, ""});
    const auto f = c.expect<proto::ChannelFailed>();
    CHECK(f.reason.find("cannot start thread place function 'f' of /no/such/exe") != std::string::npos);
    CHECK(f.reason.find("cannot execute /no/such/exe") != std::string::npos);
  }
}

TEST_CASE("bad peers lose their own connection; every other connection goes on") {
  NodeProcess node({"--listen-port", "0"});
  Client good(node.port());
  auto still_served = [&] {
    good.send(proto::Hello{proto::Role::client});
    CHECK(good.expect<proto::Welcome>().port == node.port());
  };

  SUBCASE("wrong secret") {
    CHECK_THROWS_WITH_AS(Client(node.port(), "not the secret"),
                         doctest::Contains("failed job-secret authentication"),
                         rmpi::ConnectError);
    CHECK(node.wait_stderr("failed job-secret authentication"));
    still_served();
  }
  SUBCASE("garbage before authenticating") {
    RawPeer p(node.port());
    const std::string junk = "SSH-2.0-OpenSSH_9.2\r\n and then some more bytes";
    p.send_bytes(junk.data(), junk.size());
    CHECK(p.closed_by_node());
    CHECK(node.wait_stderr("bad frame magic"));
    still_served();
  }
  SUBCASE("a control frame before authenticating") {
    RawPeer p(node.port());
    p.send_frame(wire::FrameKind::control, encode_control(proto::Terminate{0}));
    CHECK(p.closed_by_node());
    CHECK(node.wait_stderr("before authenticating"));
    still_served();
  }
  SUBCASE("authenticated, then bad frames") {
    struct Case {
      const char* name;
      std::function<void(RawPeer&)> send;
      const char* reason;
    };
    const std::vector<Case> cases = {
        {"truncated header", [](RawPeer& p) {
           auto h = wire::encode_header({});
           p.send_bytes(h.data(), 10);
           p.s.shutdown(asio::socket_base::shutdown_send);
         }, "connection closed after 10 of 32 header bytes"},
        {"wrong version", [](RawPeer& p) {
           auto h = wire::encode_header({});
           h[4] = std::byte{7};
           p.send_bytes(h.data(), h.size());
         }, "wrong frame version 7"},
        {"unknown kind", [](RawPeer& p) {
           auto h = wire::encode_header({});
           h[5] = std::byte{9};
           p.send_bytes(h.data(), h.size());
         }, "unknown frame kind 9"},
        {"oversized", [](RawPeer& p) {
           wire::FrameHeader fh;
           fh.kind = wire::FrameKind::data;
           fh.length = (1ull << 30) + 1;
           auto h = wire::encode_header(fh);
           p.send_bytes(h.data(), h.size());
         }, "over the limit"},
        {"undecodable control message", [](RawPeer& p) {
           p.send_frame(wire::FrameKind::control, std::vector<std::byte>(16, std::byte{0xee}));
         }, "bad control message from 127.0.0.1:"},
    };
    for (const auto& k : cases) {
      INFO(k.name);
      RawPeer p(node.port());
      p.authenticate(kSecret);
      k.send(p);
      CHECK(p.closed_by_node());
      CHECK(node.wait_stderr(k.reason));
      still_served();
    }
  }
}

TEST_CASE("a spawner's socket closed in the middle of a frame: its place ends, the node goes on") {
  NodeProcess node({"--listen-port", "0", "--kill-grace", "0.2"});
  Client good(node.port());
  RawPeer spawner(node.port());
  spawner.authenticate(kSecret);
  spawner.send_frame(wire::FrameKind::control,
                     encode_control(proto::SpawnPlace{1, RMPI_TEST_PLACE_PATH, "echo", false, false, ""}));
  const int place = pidfd_open(spawner.expect_control<proto::PlaceStarted>().pid);
  REQUIRE(place >= 0);
  wire::FrameHeader h;
  h.kind = wire::FrameKind::data;
  h.channel = 1;
  h.length = 100;
  auto hb = wire::encode_header(h);
  spawner.send_bytes(hb.data(), hb.size());
  const std::string part = "ten bytes!";
  spawner.send_bytes(part.data(), part.size());
  spawner.s.close();
  CHECK(node.wait_stderr("connection closed after 10 of 100 payload bytes"));
  CHECK(wait_gone(place, kWait));
  ::close(place);
  good.send(proto::Hello{proto::Role::client});
  CHECK(good.expect<proto::Welcome>().port == node.port());
}

TEST_CASE("a spawner that goes away: its thread places end, then their host; the node goes on") {
  NodeProcess node({"--listen-port", "0"});
  Client parent(node.port());
  parent.send(proto::Hello{proto::Role::spawner});
  parent.expect<proto::Welcome>();
  int host = -1;
  {
    Client spawner(node.port());
    spawner.send(proto::Hello{proto::Role::spawner});
    spawner.expect<proto::Welcome>();
    spawner.send(proto::SpawnPlace{1, RMPI_TEST_PLACE_PATH, "echo", false, true, ""});
    host = pidfd_open(spawner.expect<proto::PlaceStarted>().pid);
    REQUIRE(host >= 0);
    spawner.send_data(1, "Hello");
    CHECK(spawner.expect_data().second == "Hello");
  }
  CHECK(wait_gone(host, kWait));
  ::close(host);
  // The node still runs thread places, in a new host.
  parent.send(proto::SpawnPlace{2, RMPI_TEST_PLACE_PATH, "echo", false, true, ""});
  parent.expect<proto::PlaceStarted>();
  parent.send_data(2, "again");
  CHECK(parent.expect_data().second == "again");
}

TEST_CASE("heartbeats: a peer that speaks them and goes silent is cut off within the bound, named") {
  ::setenv("RMPI_HEARTBEAT_MS", "300", 1);
  NodeProcess node({"--listen-port", "0", "--kill-grace", "0.2"});
  ::unsetenv("RMPI_HEARTBEAT_MS");
  Client quiet(node.port());  // never says a heartbeat: left alone
  Client silent(node.port());
  silent.send(proto::Heartbeat{});  // from now on watched, and silent
  const std::string reason = silent.wait_closed();
  CHECK(reason.find("connection closed by") != std::string::npos);
  CHECK(node.wait_stderr("sent nothing for 300 ms"));
  CHECK(node.stderr_text().find("peer 127.0.0.1:") != std::string::npos);
  CHECK(quiet.heartbeats() > 0);  // the node beats toward every peer
  quiet.send(proto::Hello{proto::Role::client});
  CHECK(quiet.expect<proto::Welcome>().port == node.port());
}

TEST_CASE("Exit: the node ends its children and exits with the code") {
  NodeProcess node({"--listen-port", "0", "--kill-grace", "0.2"});
  Client c(node.port());
  c.send(command(1, {"sleep", "1000"}));
  auto started = c.expect<proto::ProcessStarted>();
  const int child = pidfd_open(started.pid);
  REQUIRE(child >= 0);
  c.send(proto::Exit{5});
  CHECK(node.wait_exit() == 5);
  CHECK(wait_gone(child, kWait));
  ::close(child);
}

TEST_CASE("parent link: when the spawner's connection drops, the node and all its children exit") {
  NodeProcess node({"--listen-port", "0", "--parent-link", "--kill-grace", "0.5"});
  std::vector<int> children;
  {
    Client parent(node.port());
    parent.send(proto::Hello{proto::Role::spawner});
    parent.expect<proto::Welcome>();
    parent.send(command(1, {"sleep", "1000"}));
    children.push_back(pidfd_open(parent.expect<proto::ProcessStarted>().pid));
    // A process that ignores SIGTERM needs the SIGKILL after the grace.
    parent.send(command(2, {"sh", "-c", "trap '' TERM; echo ready; while :; do sleep 1; done"}));
    children.push_back(pidfd_open(parent.expect<proto::ProcessStarted>().pid));
    parent.send(proto::SpawnPlace{3, RMPI_TEST_PLACE_PATH, "echo", false, false, ""});
    children.push_back(pidfd_open(parent.expect<proto::PlaceStarted>().pid));
    for (int fd : children) REQUIRE(fd >= 0);
  }  // the parent connection closes here
  CHECK(node.wait_exit() == 0);
  for (int fd : children) {
    CHECK(wait_gone(fd, kWait));
    ::close(fd);
  }
}

TEST_CASE("in-process Router: logs at the root go to on_log, shutdown calls on_exit") {
  std::mutex mu;
  std::condition_variable cv;
  std::vector<std::string> lines;
  std::optional<int> exit_code;
  RouterOptions o;
  o.listen_port = 0;
  o.listen_address = "127.0.0.1";
  o.secret = kSecret;
  o.on_log = [&](const proto::Log& l) {
    std::lock_guard g(mu);
    lines.push_back(format_log_line(l));
    cv.notify_all();
  };
  o.on_exit = [&](int code) {
    std::lock_guard g(mu);
    exit_code = code;
    cv.notify_all();
  };
  Router r(io_context().get_executor(), o);
  {
    Client c(r.port());
    c.send(proto::Log{"info", "PLACE 10.0.0.1:7", "hi there", 0});
    std::unique_lock l(mu);
    REQUIRE(cv.wait_for(l, kWait, [&] { return !lines.empty(); }));
    CHECK(lines[0].size() > 15);
    CHECK(lines[0][0] == '[');
    CHECK(lines[0].find("] PLACE 10.0.0.1:7 info: hi there") == 13);
  }
  CHECK_THROWS_WITH_AS(Router(io_context().get_executor(), [&] {
                         auto o2 = o;
                         o2.listen_port = r.port();
                         return o2;
                       }()),
                       doctest::Contains("is in use on"), rmpi::ConnectError);
  r.shutdown(4);
  std::unique_lock l(mu);
  REQUIRE(cv.wait_for(l, kWait, [&] { return exit_code.has_value(); }));
  CHECK(*exit_code == 4);
}

TEST_CASE("SIGTERM to the node ends its children and the node") {
  NodeProcess node({"--listen-port", "0", "--kill-grace", "0.2"});
  Client c(node.port());
  c.send(command(1, {"sleep", "1000"}));
  const int child = pidfd_open(c.expect<proto::ProcessStarted>().pid);
  REQUIRE(child >= 0);
  ::kill(node.pid(), SIGTERM);
  CHECK(node.wait_exit() == 128 + SIGTERM);
  CHECK(wait_gone(child, kWait));
  ::close(child);
}


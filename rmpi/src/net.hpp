#pragma once
// Internal socket helpers of rmpi: RAII descriptors, listeners, connects with
// a bounded retry, deadline-bounded blocking I/O over non-blocking sockets,
// whole frames, and the job-secret handshake (rmpi/auth.hpp) on both ends.
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <rmpi/transport/frame.hpp>
#include <rmpi/wire.hpp>

namespace rmpi::detail {

using Clock = std::chrono::steady_clock;

/// Owns a file descriptor; closes it on destruction.
class Fd {
 public:
  Fd() = default;
  explicit Fd(int fd) : fd_(fd) {}
  Fd(Fd&& o) noexcept : fd_(o.release()) {}
  Fd& operator=(Fd&& o) noexcept;
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  ~Fd() { reset(); }
  int get() const { return fd_; }
  explicit operator bool() const { return fd_ >= 0; }
  int release() {
    const int f = fd_;
    fd_ = -1;
    return f;
  }
  void reset(int fd = -1);

 private:
  int fd_ = -1;
};

/// A TCP listener on `host` (an IP address or name; empty = any) and the
/// first free port of [first, last] (0 = a free port chosen by the OS).
Fd listen_tcp(const std::string& host, int first_port, int last_port);
/// A Unix-domain listener in the abstract namespace (`name` without the NUL).
Fd listen_unix(const std::string& name);
/// The local port of a bound socket.
std::uint16_t local_port(int fd);
/// "ip:port" of the peer of a connected socket, for log lines.
std::string peer_name(int fd);

/// Connects to host:port, retrying refused/unreachable attempts until
/// `deadline`; throws rmpi::ConnectError naming `what`, host and port.
Fd connect_tcp(const std::string& host, std::uint16_t port, Clock::time_point deadline,
               const std::string& what, bool retry_refused = true);
/// Connects to an abstract Unix socket with the same retry policy.
Fd connect_unix(const std::string& name, Clock::time_point deadline, const std::string& what,
                bool retry_refused = true);

void set_nonblocking(int fd);
void set_nodelay(int fd);

/// Writes all bytes (poll-bounded by `deadline`); throws rmpi::ConnectError.
void write_all(int fd, std::span<const std::byte> bytes, Clock::time_point deadline);
/// Reads exactly `out.size()` bytes; throws rmpi::ConnectError on EOF/timeout.
void read_exact(int fd, std::span<std::byte> out, Clock::time_point deadline);

/// A whole frame read from a socket.
using transport::Frame;
void write_frame(int fd, const wire::FrameHeader& h, std::span<const std::byte> payload,
                 Clock::time_point deadline);
/// Reads and validates one frame (payload at most `max_length` bytes).
Frame read_frame(int fd, std::uint64_t max_length, Clock::time_point deadline);

/// The connector's side of the job-secret handshake; throws rmpi::ConnectError.
void auth_as_connector(int fd, std::string_view secret, Clock::time_point deadline);
/// The acceptor's side; throws rmpi::ConnectError (bad proof) or ProtocolError.
void auth_as_acceptor(int fd, std::string_view secret, Clock::time_point deadline);

/// Splits "host:port"; throws rmpi::ConfigError naming `what`.
std::pair<std::string, std::uint16_t> split_host_port(const std::string& s, const std::string& what);

/// One log line on stderr: "rmpi <origin> <severity>: <msg>".
void log_line(std::string_view severity, std::string_view origin, std::string_view msg);

}  // namespace rmpi::detail

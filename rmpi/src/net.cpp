#include "net.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <thread>

#include <rmpi/auth.hpp>
#include <rmpi/error.hpp>
#include <rmpi/log.hpp>
#include <rmpi/transport/handshake.hpp>
#include <rmpi/transport/peer_address.hpp>
#include <rmpi/transport/retry.hpp>

#include "socket_options.hpp"

namespace rmpi::detail {
namespace {

std::string errno_text(int e) { return std::strerror(e); }

int ms_until(Clock::time_point deadline) {
  const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
  if (left.count() <= 0) return 0;
  return static_cast<int>(std::min<long long>(left.count() + 1, 1 << 30));
}

// Waits for `events` on fd until the deadline; false on timeout.
bool wait_fd(int fd, short events, Clock::time_point deadline) {
  for (;;) {
    pollfd p{fd, events, 0};
    const int n = ::poll(&p, 1, ms_until(deadline));
    if (n > 0) return true;
    if (n == 0) return false;
    if (errno != EINTR) throw ConnectError("rmpi: poll failed: " + errno_text(errno));
  }
}

sockaddr_un abstract_address(const std::string& name, socklen_t& len) {
  sockaddr_un a{};
  a.sun_family = AF_UNIX;
  if (name.size() + 1 > sizeof a.sun_path)
    throw ConfigError("rmpi: local socket name '" + name + "' is too long");
  a.sun_path[0] = '\0';
  std::memcpy(a.sun_path + 1, name.data(), name.size());
  len = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + 1 + name.size());
  return a;
}

addrinfo* resolve(const std::string& host, std::uint16_t port, bool passive) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  if (passive) hints.ai_flags = AI_PASSIVE;
  addrinfo* res = nullptr;
  const std::string p = std::to_string(port);
  const int rc = ::getaddrinfo(host.empty() ? nullptr : host.c_str(), p.c_str(), &hints, &res);
  if (rc != 0)
    throw ConnectError("rmpi: cannot resolve host '" + host + "': " + ::gai_strerror(rc));
  return res;
}

// One non-blocking connect attempt; returns the errno (0 = connected).
int try_connect(int fd, const sockaddr* addr, socklen_t len, Clock::time_point deadline) {
  if (::connect(fd, addr, len) == 0) return 0;
  if (errno != EINPROGRESS) return errno;
  if (!wait_fd(fd, POLLOUT, deadline)) return ETIMEDOUT;
  int err = 0;
  socklen_t el = sizeof err;
  ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &el);
  return err;
}

bool retryable(int e, bool refused) {
  return (refused && e == ECONNREFUSED) || e == ENETUNREACH || e == EHOSTUNREACH || e == EAGAIN ||
         e == ETIMEDOUT || e == ENOENT || e == ECONNRESET;
}

// rmpi's connects: 5 ms doubling to 200 ms between attempts, until the deadline.
transport::RetrySchedule connect_retry(Clock::time_point deadline) {
  return transport::RetrySchedule({.first_delay = std::chrono::milliseconds(5),
                                   .max_delay = std::chrono::milliseconds(200),
                                   .growth = 2},
                                  deadline);
}

}  // namespace

Fd& Fd::operator=(Fd&& o) noexcept {
  if (this != &o) reset(o.release());
  return *this;
}

void Fd::reset(int fd) {
  if (fd_ >= 0) ::close(fd_);
  fd_ = fd;
}

void set_nonblocking(int fd) {
  const int fl = ::fcntl(fd, F_GETFL, 0);
  ::fcntl(fd, F_SETFL, fl | O_NONBLOCK);
}

void set_nodelay(int fd) {
  int one = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

Fd listen_tcp(const std::string& host, int first_port, int last_port) {
  if (first_port <= 0) first_port = last_port = 0;
  std::string last_error;
  for (int port = first_port; port <= last_port; ++port) {
    addrinfo* res = resolve(host, static_cast<std::uint16_t>(port), true);
    for (addrinfo* ai = res; ai; ai = ai->ai_next) {
      Fd fd(::socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, 0));
      if (!fd) continue;
      int one = 1;
      ::setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
      if (::bind(fd.get(), ai->ai_addr, ai->ai_addrlen) == 0 && ::listen(fd.get(), 128) == 0) {
        ::freeaddrinfo(res);
        set_nonblocking(fd.get());
        return fd;
      }
      last_error = errno_text(errno);
    }
    ::freeaddrinfo(res);
  }
  throw ConnectError("rmpi: cannot listen on " + (host.empty() ? std::string("*") : host) + ":" +
                     (first_port == 0 ? std::string("0")
                                      : std::to_string(first_port) + "-" + std::to_string(last_port)) +
                     ": " + last_error);
}

Fd listen_unix(const std::string& name) {
  Fd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  socklen_t len = 0;
  const sockaddr_un a = abstract_address(name, len);
  if (!fd || ::bind(fd.get(), reinterpret_cast<const sockaddr*>(&a), len) != 0 ||
      ::listen(fd.get(), 128) != 0)
    throw ConnectError("rmpi: cannot listen on local socket @" + name + ": " + errno_text(errno));
  set_nonblocking(fd.get());
  return fd;
}

std::uint16_t local_port(int fd) {
  sockaddr_storage ss{};
  socklen_t len = sizeof ss;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&ss), &len);
  if (ss.ss_family == AF_INET) return ntohs(reinterpret_cast<sockaddr_in*>(&ss)->sin_port);
  if (ss.ss_family == AF_INET6) return ntohs(reinterpret_cast<sockaddr_in6*>(&ss)->sin6_port);
  return 0;
}

std::string peer_name(int fd) { return transport::peer_address(fd); }

Fd connect_tcp(const std::string& host, std::uint16_t port, Clock::time_point deadline,
               const std::string& what, bool retry_refused) {
  std::string last = "timed out";
  auto retry = connect_retry(deadline);
  for (;;) {
    addrinfo* res = nullptr;
    try {
      res = resolve(host, port, false);
    } catch (const ConnectError& e) {
      throw ConnectError(e.what() + std::string(" (connecting to ") + what + ")");
    }
    for (addrinfo* ai = res; ai; ai = ai->ai_next) {
      Fd fd(::socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
      if (!fd) continue;
      const int e = try_connect(fd.get(), ai->ai_addr, ai->ai_addrlen, deadline);
      if (e == 0) {
        ::freeaddrinfo(res);
        set_nodelay(fd.get());
        watch_peer_host(fd.get());
        return fd;
      }
      last = errno_text(e);
      if (!retryable(e, retry_refused)) {
        ::freeaddrinfo(res);
        throw ConnectError("rmpi: cannot connect to " + what + " at " + host + ":" +
                           std::to_string(port) + ": " + last);
      }
    }
    ::freeaddrinfo(res);
    const auto next = retry.after_failure(Clock::now());
    if (!next) break;
    std::this_thread::sleep_until(*next);
  }
  throw ConnectError("rmpi: cannot connect to " + what + " at " + host + ":" + std::to_string(port) +
                     ": " + last + " (gave up after retrying)");
}

Fd connect_unix(const std::string& name, Clock::time_point deadline, const std::string& what,
                bool retry_refused) {
  socklen_t len = 0;
  const sockaddr_un a = abstract_address(name, len);
  std::string last = "timed out";
  auto retry = connect_retry(deadline);
  for (;;) {
    Fd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
    const int e = try_connect(fd.get(), reinterpret_cast<const sockaddr*>(&a), len, deadline);
    if (e == 0) return fd;
    last = errno_text(e);
    if (!retryable(e, retry_refused))
      throw ConnectError("rmpi: cannot connect to " + what + " at local socket @" + name + ": " + last);
    const auto next = retry.after_failure(Clock::now());
    if (!next) break;
    std::this_thread::sleep_until(*next);
  }
  throw ConnectError("rmpi: cannot connect to " + what + " at local socket @" + name + ": " + last +
                     " (gave up after retrying)");
}

void write_all(int fd, std::span<const std::byte> bytes, Clock::time_point deadline) {
  std::size_t done = 0;
  while (done < bytes.size()) {
    const ssize_t n = ::send(fd, bytes.data() + done, bytes.size() - done, MSG_NOSIGNAL);
    if (n > 0) {
      done += static_cast<std::size_t>(n);
    } else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      if (!wait_fd(fd, POLLOUT, deadline)) throw ConnectError("timed out writing to " + peer_name(fd));
    } else if (n < 0 && errno == EINTR) {
      continue;
    } else {
      throw ConnectError("write to " + peer_name(fd) + " failed: " + errno_text(errno));
    }
  }
}

void read_exact(int fd, std::span<std::byte> out, Clock::time_point deadline) {
  std::size_t done = 0;
  while (done < out.size()) {
    const ssize_t n = ::recv(fd, out.data() + done, out.size() - done, 0);
    if (n > 0) {
      done += static_cast<std::size_t>(n);
    } else if (n == 0) {
      throw ConnectError("the peer " + peer_name(fd) + " closed the connection");
    } else if (errno == EAGAIN || errno == EWOULDBLOCK) {
      if (!wait_fd(fd, POLLIN, deadline)) throw ConnectError("timed out reading from " + peer_name(fd));
    } else if (errno != EINTR) {
      throw ConnectError("read from " + peer_name(fd) + " failed: " + errno_text(errno));
    }
  }
}

void write_frame(int fd, const wire::FrameHeader& h, std::span<const std::byte> payload,
                 Clock::time_point deadline) {
  const auto hb = transport::frame_header(h, payload.size());
  // A gather write: header and payload without a copy into one buffer.
  iovec iov[2] = {{const_cast<std::byte*>(hb.data()), hb.size()},
                  {const_cast<std::byte*>(payload.data()), payload.size()}};
  std::size_t left = hb.size() + payload.size();
  int first = 0;
  while (left > 0) {
    msghdr msg{};
    msg.msg_iov = iov + first;
    msg.msg_iovlen = static_cast<std::size_t>(2 - first);
    const ssize_t n = ::sendmsg(fd, &msg, MSG_NOSIGNAL);
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      if (!wait_fd(fd, POLLOUT, deadline)) throw ConnectError("timed out writing to " + peer_name(fd));
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) throw ConnectError("write to " + peer_name(fd) + " failed: " + errno_text(errno));
    auto done = static_cast<std::size_t>(n);
    left -= done;
    while (first < 2 && done >= iov[first].iov_len) done -= iov[first++].iov_len;
    if (first < 2) {
      iov[first].iov_base = static_cast<std::byte*>(iov[first].iov_base) + done;
      iov[first].iov_len -= done;
    }
  }
}

Frame read_frame(int fd, std::uint64_t max_length, Clock::time_point deadline) {
  transport::FrameAssembler in{transport::FrameLimits(max_length)};
  for (;;) {
    const std::span<std::byte> room = in.room();
    read_exact(fd, room, deadline);
    switch (in.filled(room.size())) {
      case transport::FrameAssembler::Status::more: break;
      case transport::FrameAssembler::Status::frame: return in.take();
      case transport::FrameAssembler::Status::error: throw ProtocolError(in.reason());
    }
  }
}

namespace {
// Runs the handshake over a blocking-with-deadline socket: writes what the
// state machine has to say, reads exactly what it wants next.
void run_handshake(int fd, transport::Handshake& hs, Clock::time_point deadline) {
  std::array<std::byte, wire::kHeaderSize + transport::kMaxHandshakePayload> buf{};
  for (;;) {
    if (hs.has_output()) write_all(fd, hs.take_output(), deadline);
    if (hs.state() != transport::Handshake::State::in_progress) return;
    const std::span<std::byte> next(buf.data(), hs.want());
    read_exact(fd, next, deadline);
    hs.feed(next);
  }
}
}  // namespace

void auth_as_connector(int fd, std::string_view secret, Clock::time_point deadline) {
  transport::Handshake hs(transport::HandshakeRole::connector, secret, deadline);
  run_handshake(fd, hs, deadline);
  if (hs.failed()) throw ConnectError(peer_name(fd) + ": " + hs.reason());
}

void auth_as_acceptor(int fd, std::string_view secret, Clock::time_point deadline) {
  transport::Handshake hs(transport::HandshakeRole::acceptor, secret, deadline);
  run_handshake(fd, hs, deadline);
  if (!hs.failed()) return;
  if (hs.error() == transport::HandshakeError::wrong_secret) throw ConnectError(hs.reason());
  throw ProtocolError(hs.reason());
}

std::pair<std::string, std::uint16_t> split_host_port(const std::string& s, const std::string& what) {
  const auto colon = s.rfind(':');
  if (colon == std::string::npos || colon == 0 || colon + 1 == s.size())
    throw ConfigError("rmpi: " + what + "='" + s + "' is not host:port");
  std::string host = s.substr(0, colon);
  if (host.size() > 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  long port = 0;
  try {
    std::size_t used = 0;
    port = std::stol(s.substr(colon + 1), &used);
    if (used != s.size() - colon - 1) port = -1;
  } catch (const std::exception&) {
    port = -1;
  }
  if (port <= 0 || port > 65535)
    throw ConfigError("rmpi: " + what + "='" + s + "' has no valid port (1-65535)");
  return {host, static_cast<std::uint16_t>(port)};
}

void log_line(std::string_view severity, std::string_view origin, std::string_view msg) {
  const auto sev = severity == "error"     ? places::Severity::error
                   : severity == "warning" ? places::Severity::warning
                                           : places::Severity::info;
  places::log_message(sev, std::string(origin) + ": " + std::string(msg));
}

}  // namespace rmpi::detail

#include "bad_peer.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstring>
#include <thread>

#include <rmpi/auth.hpp>

namespace rmpi::testing {

std::uint16_t free_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
  socklen_t len = sizeof a;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  ::close(fd);
  return ntohs(a.sin_port);
}

using Clock = std::chrono::steady_clock;

int connect_loopback(std::uint16_t port, std::chrono::milliseconds retry_for) {
  const auto deadline = Clock::now() + retry_for;
  for (;;) {
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) return -1;
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0) return fd;
    ::close(fd);
    if (Clock::now() >= deadline) return -1;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
}

void write_frame(int fd, wire::FrameKind kind, const void* payload, std::size_t length) {
  wire::FrameHeader h;
  h.kind = kind;
  h.length = length;
  const auto head = wire::encode_header(h);
  (void)!::write(fd, head.data(), head.size());
  if (length) (void)!::write(fd, payload, length);
}

bool wrong_secret_handshake(int fd) {
  const auto nonce = auth::make_nonce();
  write_frame(fd, wire::FrameKind::auth, nonce.data(), nonce.size());
  // The acceptor's answer: a header, then its nonce and its proof.
  std::byte answer[wire::kHeaderSize + 64];
  std::size_t got = 0;
  while (got < sizeof answer) {
    const ssize_t n = ::read(fd, answer + got, sizeof answer - got);
    if (n <= 0) return false;
    got += static_cast<std::size_t>(n);
  }
  auth::Nonce theirs{};
  std::memcpy(theirs.data(), answer + wire::kHeaderSize, theirs.size());
  const auto proof = auth::connector_proof("not the job secret", nonce, theirs);
  write_frame(fd, wire::FrameKind::auth, proof.data(), proof.size());
  return true;
}

bool closed_by_peer(int fd, std::chrono::milliseconds limit) {
  const auto deadline = Clock::now() + limit;
  char buf[4096];
  for (;;) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    if (left.count() <= 0) return false;
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) continue;
    if (::read(fd, buf, sizeof buf) <= 0) return true;
  }
}

}  // namespace rmpi::testing

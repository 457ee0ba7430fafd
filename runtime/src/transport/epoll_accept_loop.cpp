#include <rmpi/transport/epoll_accept_loop.hpp>

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <utility>

#include <rmpi/error.hpp>
#include <rmpi/transport/peer_address.hpp>

namespace rmpi::transport {
namespace {

// epoll keys: listeners by index from the top, pending connections by id.
constexpr std::uint64_t kStopKey = ~std::uint64_t{0};
std::uint64_t listener_key(std::size_t i) { return kStopKey - 1 - i; }
constexpr auto kAcceptPause = std::chrono::milliseconds(100);
constexpr int kAcceptsPerWake = 64;

bool out_of_resources(int e) { return e == EMFILE || e == ENFILE || e == ENOBUFS || e == ENOMEM; }

}  // namespace

EpollAcceptLoop::EpollAcceptLoop(std::vector<Listening> listening, AcceptorOptions options,
                                 Acceptor::LogSink log, OnReady on_ready)
    : listening_(std::move(listening)),
      acceptor_(std::move(options), std::move(log)),
      on_ready_(std::move(on_ready)),
      epoll_(::epoll_create1(EPOLL_CLOEXEC)),
      stop_(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) {
  if (epoll_ < 0 || stop_ < 0) {
    const int e = errno;
    stop();
    throw Error(std::string("rmpi: cannot set up a listener's event loop: ") + std::strerror(e));
  }
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.u64 = kStopKey;
  ::epoll_ctl(epoll_, EPOLL_CTL_ADD, stop_, &ev);
  watch_listeners(true);
  thread_ = std::thread([this] { loop(); });
}

EpollAcceptLoop::~EpollAcceptLoop() { stop(); }

void EpollAcceptLoop::stop() {
  if (thread_.joinable()) {
    const std::uint64_t one = 1;
    (void)!::write(stop_, &one, sizeof one);
    thread_.join();
  }
  for (auto& [id, p] : pending_) ::close(p.fd);
  pending_.clear();
  for (auto& l : listening_)
    if (l.fd >= 0) ::close(std::exchange(l.fd, -1));
  if (epoll_ >= 0) ::close(std::exchange(epoll_, -1));
  if (stop_ >= 0) ::close(std::exchange(stop_, -1));
  acceptor_.flush_log(Clock::time_point::max());
}

void EpollAcceptLoop::watch_listeners(bool on) {
  for (std::size_t i = 0; i < listening_.size(); ++i) {
    if (listening_[i].fd < 0) continue;
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.u64 = listener_key(i);
    ::epoll_ctl(epoll_, on ? EPOLL_CTL_ADD : EPOLL_CTL_DEL, listening_[i].fd, &ev);
  }
}

void EpollAcceptLoop::close_pending(Acceptor::Id id) {
  const auto it = pending_.find(id);
  if (it == pending_.end()) return;
  ::epoll_ctl(epoll_, EPOLL_CTL_DEL, it->second.fd, nullptr);
  ::close(it->second.fd);
  pending_.erase(it);
}

void EpollAcceptLoop::accept_from(const Listening& l) {
  for (int i = 0; i < kAcceptsPerWake; ++i) {
    const int fd = ::accept4(l.fd, nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK);
    if (fd < 0) {
      if (out_of_resources(errno)) {
        acceptor_.report("?", std::string("cannot accept a connection: ") + std::strerror(errno) +
                                  "; pausing the listener");
        paused_ = true;
        paused_until_ = Clock::now() + kAcceptPause;
        watch_listeners(false);
      }
      return;
    }
    const auto id = acceptor_.admit(l.local ? "a local socket" : peer_address(fd));
    if (!id) {
      ::close(fd);
      continue;
    }
    if (!l.local) {
      int one = 1;
      ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    }
    pending_[*id] = Pending{fd, l.local};
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.u64 = *id;
    ::epoll_ctl(epoll_, EPOLL_CTL_ADD, fd, &ev);
  }
}

void EpollAcceptLoop::on_readable(Acceptor::Id id) {
  const auto it = pending_.find(id);
  if (it == pending_.end()) return;  // closed by an earlier event of this batch
  const Pending p = it->second;
  std::array<std::byte, 4096> buf{};
  for (;;) {
    const std::size_t want = std::min(acceptor_.want(id), buf.size());
    const ssize_t n = ::recv(p.fd, buf.data(), want, 0);
    if (n == 0) {
      acceptor_.closed(id);
      return close_pending(id);
    }
    if (n < 0) {
      if (errno == EAGAIN || errno == EWOULDBLOCK) return;
      if (errno == EINTR) continue;
      acceptor_.closed(id, std::string("read failed (") + std::strerror(errno) + ")");
      return close_pending(id);
    }
    Acceptor::Progress progress = acceptor_.feed(id, std::span<const std::byte>(buf.data(), static_cast<std::size_t>(n)));
    // A fresh socket's send buffer always takes the 96 bytes of the reply.
    if (!progress.reply.empty() && ::send(p.fd, progress.reply.data(), progress.reply.size(), MSG_NOSIGNAL) !=
                                       static_cast<ssize_t>(progress.reply.size())) {
      if (progress.outcome != Acceptor::Outcome::dropped) acceptor_.drop(id, "cannot answer its challenge");
      return close_pending(id);
    }
    switch (progress.outcome) {
      case Acceptor::Outcome::pending:
        continue;
      case Acceptor::Outcome::dropped:
        return close_pending(id);
      case Acceptor::Outcome::ready: {
        ::epoll_ctl(epoll_, EPOLL_CTL_DEL, p.fd, nullptr);
        pending_.erase(id);
        on_ready_(p.fd, p.local, acceptor_.take(id));
        return;
      }
    }
  }
}

void EpollAcceptLoop::loop() {
  std::array<epoll_event, 64> evs{};
  for (;;) {
    auto now = Clock::now();
    Clock::time_point next = now + std::chrono::hours(1);
    if (const auto due = acceptor_.next_due()) next = std::min(next, *due);
    if (paused_) next = std::min(next, paused_until_);
    const auto ms = std::chrono::ceil<std::chrono::milliseconds>(std::max(next - now, Clock::duration::zero()));
    const int n = ::epoll_wait(epoll_, evs.data(), static_cast<int>(evs.size()),
                               static_cast<int>(std::min<long long>(ms.count(), 3'600'000)));
    if (n < 0 && errno != EINTR) return;
    for (int i = 0; i < std::max(n, 0); ++i) {
      const std::uint64_t key = evs[static_cast<std::size_t>(i)].data.u64;
      if (key == kStopKey) return;
      const std::uint64_t from_top = kStopKey - 1 - key;
      if (from_top < listening_.size())
        accept_from(listening_[from_top]);
      else
        on_readable(key);
    }
    now = Clock::now();
    for (const Acceptor::Id id : acceptor_.expire(now)) close_pending(id);
    acceptor_.flush_log(now);
    if (paused_ && now >= paused_until_) {
      paused_ = false;
      watch_listeners(true);
    }
  }
}

}  // namespace rmpi::transport

#include "rank_listener.hpp"

#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstdlib>
#include <cstring>

#include <rmpi/transport/handshake.hpp>
#include <rmpi/error.hpp>
#include <rmpi/wire.hpp>

#include "rank_hello.hpp"
#include "socket_options.hpp"

namespace rmpi::detail {
namespace {

constexpr std::uint64_t kStopKey = ~std::uint64_t{0};
constexpr std::uint64_t kTcpKey = kStopKey - 1;
constexpr std::uint64_t kLocalKey = kStopKey - 2;
constexpr auto kAcceptPause = std::chrono::milliseconds(100);

}  // namespace

/// One connection in its handshake.
struct RankListener::Conn {
  Conn(std::string_view secret, Clock::time_point deadline)
      : deadline(deadline), handshake(transport::HandshakeRole::acceptor, secret, deadline) {}
  Fd fd;
  std::string addr;
  bool local = false;
  bool counted = true;  // holds an unauthenticated slot
  Clock::time_point deadline;
  transport::Handshake handshake;  // then the hello, read below
  std::array<std::byte, wire::kHeaderSize + transport::kMaxHandshakePayload> buf{};
  std::size_t got = 0;
};

RankListener::RankListener(int rank, int size, std::string secret, Fd tcp, Fd local, ListenerLimits limits)
    : rank_(rank), size_(size), secret_(std::move(secret)), tcp_(std::move(tcp)), local_(std::move(local)),
      limits_(limits), cap_(limits.max_unauthenticated),
      bad_log_([rank](const std::string& line) { log_line("warning", "rank " + std::to_string(rank), line); }),
      epoll_(::epoll_create1(EPOLL_CLOEXEC)), stop_(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)),
      ready_(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)), pairs_(static_cast<std::size_t>(size), Pair::none) {
  if (!epoll_ || !stop_ || !ready_) throw Error(std::string("rmpi: cannot set up the rank listener: ") + std::strerror(errno));
  const auto add = [&](int fd, std::uint64_t key) {
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.u64 = key;
    ::epoll_ctl(epoll_.get(), EPOLL_CTL_ADD, fd, &ev);
  };
  add(stop_.get(), kStopKey);
  if (tcp_) add(tcp_.get(), kTcpKey);
  if (local_) add(local_.get(), kLocalKey);
  thread_ = std::thread([this] { loop(); });
}

RankListener::~RankListener() { stop(); }

void RankListener::stop() {
  if (!thread_.joinable()) return;
  const std::uint64_t one = 1;
  (void)!::write(stop_.get(), &one, sizeof one);
  thread_.join();
  conns_.clear();
  tcp_.reset();
  local_.reset();
}

std::size_t RankListener::bad_peers() const {
  std::lock_guard lock(mu_);
  return bad_;
}

std::vector<RankListener::Accepted> RankListener::take() {
  std::uint64_t n = 0;
  (void)!::read(ready_.get(), &n, sizeof n);
  std::lock_guard lock(mu_);
  return std::move(accepted_);
}

std::optional<RankListener::Accepted> RankListener::wait_for(int peer, Clock::time_point deadline) {
  std::unique_lock lock(mu_);
  for (;;) {
    auto it = std::find_if(accepted_.begin(), accepted_.end(), [&](const Accepted& a) { return a.peer == peer; });
    if (it != accepted_.end()) {
      Accepted a = std::move(*it);
      accepted_.erase(it);
      return a;
    }
    if (cv_.wait_until(lock, deadline) == std::cv_status::timeout && Clock::now() >= deadline) return std::nullopt;
  }
}

RankListener::Claim RankListener::claim(int peer) {
  std::lock_guard lock(mu_);
  Pair& p = pairs_[static_cast<std::size_t>(peer)];
  if (p == Pair::linked) return Claim::linked;
  p = Pair::connecting;
  return Claim::connect;
}

void RankListener::connected(int peer, bool won) {
  std::lock_guard lock(mu_);
  Pair& p = pairs_[static_cast<std::size_t>(peer)];
  if (won) p = Pair::linked;
  else if (p == Pair::connecting) p = Pair::none;
}

// ---------------------------------------------------------------- the thread

void RankListener::report(const std::string& addr, const std::string& why) {
  {
    std::lock_guard lock(mu_);
    ++bad_;
  }
  bad_log_.report(addr, "dropped a connection: " + why);
}

void RankListener::erase(Conn* c) {
  if (c->counted) cap_.release();
  std::erase_if(conns_, [&](const std::unique_ptr<Conn>& p) { return p.get() == c; });
}

void RankListener::drop(Conn& c, const std::string& why) {
  report(c.addr, why);
  erase(&c);
}

void RankListener::accept_from(int listen_fd, bool local) {
  for (int i = 0; i < 64; ++i) {
    const int raw = ::accept4(listen_fd, nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK);
    if (raw < 0) {
      if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
        // Out of descriptors: stop accepting for a moment instead of spinning.
        paused_ = true;
        paused_until_ = Clock::now() + kAcceptPause;
        if (tcp_) ::epoll_ctl(epoll_.get(), EPOLL_CTL_DEL, tcp_.get(), nullptr);
        if (local_) ::epoll_ctl(epoll_.get(), EPOLL_CTL_DEL, local_.get(), nullptr);
      }
      return;
    }
    Fd fd(raw);
    const std::string addr = local ? "a local socket" : peer_name(raw);
    if (!cap_.try_admit()) {
      report(addr, "refused: " + std::to_string(limits_.max_unauthenticated) +
                       " connections are already in their handshake (RMPI_MAX_UNAUTHENTICATED)");
      continue;
    }
    if (!local) {
      set_nodelay(raw);
      watch_peer_host(raw);
    }
    auto c = std::make_unique<Conn>(secret_, Clock::now() + limits_.handshake_timeout);
    c->fd = std::move(fd);
    c->addr = addr;
    c->local = local;
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.ptr = c.get();
    ::epoll_ctl(epoll_.get(), EPOLL_CTL_ADD, c->fd.get(), &ev);
    conns_.push_back(std::move(c));
  }
}

void RankListener::on_readable(Conn& c) {
  for (;;) {
    // The handshake takes exactly the bytes it wants; then the hello's header.
    const bool in_handshake = !c.handshake.done();
    const std::size_t want = in_handshake ? c.handshake.want() : wire::kHeaderSize - c.got;
    const ssize_t n = ::recv(c.fd.get(), c.buf.data() + c.got, want, 0);
    if (n == 0) return drop(c, "closed the connection during the handshake");
    if (n < 0) {
      if (errno == EAGAIN || errno == EWOULDBLOCK) return;
      if (errno == EINTR) continue;
      return drop(c, std::string("read failed: ") + std::strerror(errno));
    }
    if (in_handshake) {
      c.handshake.feed(std::span<const std::byte>(c.buf.data() + c.got, static_cast<std::size_t>(n)));
      if (c.handshake.failed()) return drop(c, c.handshake.reason());
      if (c.handshake.has_output()) {
        const auto reply = c.handshake.take_output();
        // A fresh socket's send buffer always takes the 96 bytes of the reply.
        if (::send(c.fd.get(), reply.data(), reply.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(reply.size()))
          return drop(c, "cannot answer its challenge");
      }
      if (c.handshake.done()) {
        c.counted = false;  // authenticated
        cap_.release();
      }
      continue;
    }
    c.got += static_cast<std::size_t>(n);
    if (c.got < wire::kHeaderSize) continue;
    wire::FrameHeader h;
    try {
      h = wire::decode_header(std::span<const std::byte, wire::kHeaderSize>(c.buf.data(), wire::kHeaderSize), 0);
    } catch (const Error& e) {
      return drop(c, e.what());
    }
    const auto message = rank_hello::decode(h);
    const auto* hello = message ? std::get_if<rank_hello::Hello>(&*message) : nullptr;
    const int peer = hello ? hello->rank : -1;
    if (peer < 0 || peer >= size_ || peer == rank_)
      return drop(c, "the first frame after the handshake is not a hello of another rank");
    bool accept = false;
    {
      std::lock_guard lock(mu_);
      Pair& p = pairs_[static_cast<std::size_t>(peer)];
      if (p == Pair::none || (p == Pair::connecting && peer < rank_)) {
        accept = true;
        p = Pair::linked;
      }
    }
    const auto reply = wire::encode_header(rank_hello::encode(
        accept ? rank_hello::Message{rank_hello::Accepted{rank_}} : rank_hello::Message{rank_hello::Declined{rank_}}));
    const bool sent =
        ::send(c.fd.get(), reply.data(), reply.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(reply.size());
    ::epoll_ctl(epoll_.get(), EPOLL_CTL_DEL, c.fd.get(), nullptr);
    if (accept) {
      std::lock_guard lock(mu_);
      if (!sent) {
        pairs_[static_cast<std::size_t>(peer)] = Pair::none;
      } else {
        accepted_.push_back(Accepted{peer, std::move(c.fd), c.local});
        const std::uint64_t one = 1;
        (void)!::write(ready_.get(), &one, sizeof one);
        cv_.notify_all();
      }
    }
    // Declined: the pair's other connection wins (a simultaneous connect).
    return erase(&c);
  }
}

void RankListener::loop() {
  std::array<epoll_event, 64> evs{};
  for (;;) {
    auto now = Clock::now();
    Clock::time_point next = now + std::chrono::hours(1);
    for (const auto& c : conns_) next = std::min(next, c->deadline);
    if (const auto due = bad_log_.flush_due()) next = std::min(next, *due);
    if (paused_) next = std::min(next, paused_until_);
    const auto ms = std::chrono::ceil<std::chrono::milliseconds>(std::max(next - now, Clock::duration::zero()));
    const int n = ::epoll_wait(epoll_.get(), evs.data(), static_cast<int>(evs.size()),
                               static_cast<int>(std::min<long long>(ms.count(), 3'600'000)));
    if (n < 0 && errno != EINTR) return;
    for (int i = 0; i < std::max(n, 0); ++i) {
      const std::uint64_t key = evs[static_cast<std::size_t>(i)].data.u64;
      if (key == kStopKey) return;
      if (key == kTcpKey) {
        accept_from(tcp_.get(), false);
      } else if (key == kLocalKey) {
        accept_from(local_.get(), true);
      } else {
        auto* c = static_cast<Conn*>(evs[static_cast<std::size_t>(i)].data.ptr);
        // It may have been erased by an earlier event of this batch.
        if (std::any_of(conns_.begin(), conns_.end(), [&](const auto& p) { return p.get() == c; })) on_readable(*c);
      }
    }
    now = Clock::now();
    std::vector<Conn*> late;
    for (const auto& c : conns_)
      if (c->deadline <= now) late.push_back(c.get());
    for (Conn* c : late)
      drop(*c, "no handshake within " + std::to_string(limits_.handshake_timeout.count()) +
                   " ms (RMPI_HANDSHAKE_TIMEOUT_MS)");
    bad_log_.flush(now);
    if (paused_ && now >= paused_until_) {
      paused_ = false;
      epoll_event ev{};
      ev.events = EPOLLIN;
      ev.data.u64 = kTcpKey;
      if (tcp_) ::epoll_ctl(epoll_.get(), EPOLL_CTL_ADD, tcp_.get(), &ev);
      ev.data.u64 = kLocalKey;
      if (local_) ::epoll_ctl(epoll_.get(), EPOLL_CTL_ADD, local_.get(), &ev);
    }
  }
}

}  // namespace rmpi::detail

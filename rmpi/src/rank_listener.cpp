#include "rank_listener.hpp"

#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include <rmpi/error.hpp>
#include <rmpi/wire.hpp>

#include "rank_hello.hpp"
#include "socket_options.hpp"

namespace rmpi::detail {
namespace {

std::vector<transport::EpollAcceptLoop::Listening> listening(Fd& tcp, Fd& local) {
  std::vector<transport::EpollAcceptLoop::Listening> out;
  if (tcp) out.push_back({tcp.release(), false});
  if (local) out.push_back({local.release(), true});
  return out;
}

}  // namespace

RankListener::RankListener(int rank, int size, std::string secret, Fd tcp, Fd local, ListenerLimits limits)
    : rank_(rank), size_(size), ready_(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)),
      pairs_(static_cast<std::size_t>(size), Pair::none),
      incarnations_(static_cast<std::size_t>(size), 0),
      loop_(listening(tcp, local),
            // The hello is one control header without payload.
            {.secret = std::move(secret), .limits = limits, .first_frame = transport::FrameLimits(0)},
            [rank](const std::string& line) { log_line("warning", "rank " + std::to_string(rank), line); },
            [this](int fd, bool is_local, transport::AcceptedPeer peer) {
              on_authenticated(Fd(fd), is_local, std::move(peer));
            }) {
  if (!ready_) throw Error(std::string("rmpi: cannot set up the rank listener: ") + std::strerror(errno));
}

RankListener::~RankListener() { stop(); }

void RankListener::stop() { loop_.stop(); }

std::size_t RankListener::bad_peers() const { return loop_.rejected(); }

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

std::uint32_t RankListener::incarnation_of(int peer) const {
  std::lock_guard lock(mu_);
  return incarnations_[static_cast<std::size_t>(peer)];
}

// On the loop's thread: an authenticated peer and its hello.
void RankListener::on_authenticated(Fd fd, bool local, transport::AcceptedPeer peer) {
  if (!local) watch_peer_host(fd.get());
  const auto message = rank_hello::decode(peer.first_frame->header);
  const auto* hello = message ? std::get_if<rank_hello::Hello>(&*message) : nullptr;
  const int from = hello ? hello->rank : -1;
  if (from < 0 || from >= size_ || from == rank_)
    return loop_.report(peer.address,
                        "dropped a connection: the first frame after the handshake is not a hello of another rank");
  bool accept = false;
  {
    std::lock_guard lock(mu_);
    Pair& p = pairs_[static_cast<std::size_t>(from)];
    std::uint32_t& known = incarnations_[static_cast<std::size_t>(from)];
    const bool restarted = hello->incarnation > known;
    if (restarted) known = hello->incarnation;
    // A restarted peer replaces the old link; simultaneous connects are settled as always.
    if ((restarted && p == Pair::linked) || p == Pair::none || (p == Pair::connecting && from < rank_)) {
      accept = true;
      p = Pair::linked;
    }
  }
  const auto reply = wire::encode_header(rank_hello::encode(
      accept ? rank_hello::Message{rank_hello::Accepted{rank_}} : rank_hello::Message{rank_hello::Declined{rank_}}));
  const bool sent =
      ::send(fd.get(), reply.data(), reply.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(reply.size());
  // Declined: the pair's other connection wins (a simultaneous connect).
  if (!accept) return;
  std::lock_guard lock(mu_);
  if (!sent) {
    pairs_[static_cast<std::size_t>(from)] = Pair::none;
    return;
  }
  accepted_.push_back(Accepted{from, std::move(fd), local});
  const std::uint64_t one = 1;
  (void)!::write(ready_.get(), &one, sizeof one);
  cv_.notify_all();
}

}  // namespace rmpi::detail

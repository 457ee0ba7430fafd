#include "world.hpp"

#include <sched.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include <rmpi/error.hpp>

namespace rmpi::detail {
namespace {

constexpr std::size_t kInbufSize = 256 * 1024;
constexpr std::size_t kDirectRead = 32 * 1024;  // payload reads this large bypass inbuf
constexpr std::size_t kMaxTypeName = 4096;
constexpr int kMaxIov = 64;

std::string rank_name(int r) { return "rank " + std::to_string(r); }

}  // namespace

World::World(int rank, int size, std::chrono::microseconds spin, std::vector<std::unique_ptr<Peer>> peers)
    : rank_(rank), size_(size), spin_(spin), peers_(std::move(peers)) {
  for (auto& p : peers_)
    if (p) p->inbuf.resize(kInbufSize);
}

World::~World() = default;

void World::fail_peer(Peer& p, const std::string& why) {
  if (!p.failure.empty()) return;
  p.failure = why;
  log_line("warning", rank_name(rank_), "connection to rank " + std::to_string(p.rank) + " (" + p.where +
                                            ") closed: " + why);
  p.out.clear();
  p.fd.reset();
}

void World::throw_lost(const Peer& p, std::string_view doing) const {
  const std::string who = "rank " + std::to_string(p.rank) + " (" + p.where + ")";
  if (!p.failure.empty())
    throw ChannelClosed("rmpi: rank " + std::to_string(rank_) + " " + std::string(doing) + " " + who +
                        ": the connection failed: " + p.failure);
  throw ChannelClosed("rmpi: rank " + std::to_string(rank_) + " " + std::string(doing) + " " + who +
                      ", which closed its connection (it finished or died)");
}

// ---------------------------------------------------------------- writing

void World::queue_frame(Peer& p, const wire::FrameHeader& h, std::span<const std::byte> payload,
                        std::vector<std::byte>* owned, bool copy) {
  Peer::OutFrame f;
  f.header = wire::encode_header(h);
  if (owned) {
    f.owned = std::move(*owned);
    f.data = f.owned.data();
    f.size = f.owned.size();
  } else if (copy) {
    f.owned.assign(payload.begin(), payload.end());
    f.data = f.owned.data();
    f.size = f.owned.size();
  } else {
    f.data = payload.data();
    f.size = payload.size();
  }
  p.out.push_back(std::move(f));
  ++p.queued;
}

void World::write_peer(Peer& p) {
  while (!p.out.empty() && p.failure.empty()) {
    iovec iov[kMaxIov];
    int n = 0;
    for (auto it = p.out.begin(); it != p.out.end() && n + 2 <= kMaxIov; ++it) {
      std::size_t skip = it->sent;
      if (skip < wire::kHeaderSize) {
        iov[n++] = {it->header.data() + skip, wire::kHeaderSize - skip};
        skip = 0;
      } else {
        skip -= wire::kHeaderSize;
      }
      if (it->size > skip) iov[n++] = {const_cast<std::byte*>(it->data) + skip, it->size - skip};
    }
    msghdr msg{};
    msg.msg_iov = iov;
    msg.msg_iovlen = static_cast<std::size_t>(n);
    ssize_t w = ::sendmsg(p.fd.get(), &msg, MSG_NOSIGNAL);
    if (w < 0) {
      if (errno == EAGAIN || errno == EWOULDBLOCK) return;
      if (errno == EINTR) continue;
      fail_peer(p, std::string("write failed: ") + std::strerror(errno));
      return;
    }
    auto left = static_cast<std::size_t>(w);
    while (!p.out.empty()) {
      auto& f = p.out.front();
      const std::size_t rest = wire::kHeaderSize + f.size - f.sent;
      if (left < rest) {
        f.sent += left;
        break;
      }
      left -= rest;
      p.out.pop_front();
      ++p.written;
    }
  }
}

void World::send(std::uint32_t context, int dest, std::uint16_t tag, std::uint64_t type_tag,
                 std::string_view type_name, std::span<const std::byte> payload,
                 std::vector<std::byte>* owned) {
  if (finished_) throw Error("rmpi: send after rmpi::finish (rank " + std::to_string(rank_) + ")");
  if (dest == rank_) {
    Inbound m;
    m.type_tag = type_tag;
    m.size = payload.size();
    m.data = std::make_unique_for_overwrite<std::byte[]>(std::max<std::size_t>(m.size, 1));
    if (m.size) std::memcpy(m.data.get(), payload.data(), m.size);
    queues_[Key{context, static_cast<std::uint32_t>(dest), tag}].push_back(std::move(m));
    return;
  }
  Peer& p = *peers_[static_cast<std::size_t>(dest)];
  if (!p.failure.empty() || p.eof) throw_lost(p, "cannot send to");
  if (p.announced.insert(type_tag).second) {
    std::vector<std::byte> name(reinterpret_cast<const std::byte*>(type_name.data()),
                                reinterpret_cast<const std::byte*>(type_name.data()) + type_name.size());
    queue_frame(p,
                {.kind = wire::FrameKind::control, .flags = kTypeNameFrame,
                 .source = static_cast<std::uint32_t>(rank_), .type_tag = type_tag,
                 .length = name.size()},
                {}, &name, false);
  }
  const wire::FrameHeader h{.kind = wire::FrameKind::data, .flags = tag,
                            .source = static_cast<std::uint32_t>(rank_), .channel = context,
                            .type_tag = type_tag, .length = payload.size()};
  const bool small = payload.size() < kEagerLimit;
  // Borrowed first; copied below only if it cannot be written at once.
  queue_frame(p, h, payload, nullptr, false);
  const std::uint64_t seq = p.queued;
  write_peer(p);
  if (p.written >= seq) return;
  if (!p.failure.empty()) throw_lost(p, "cannot send to");
  if (small || owned) {
    // Keep the unwritten rest in a buffer the frame owns; return at once.
    auto& f = p.out.back();
    const std::size_t payload_sent = f.sent > wire::kHeaderSize ? f.sent - wire::kHeaderSize : 0;
    if (owned) {
      f.owned = std::move(*owned);
      f.data = f.owned.data();
    } else {
      f.owned.assign(f.data + payload_sent, f.data + f.size);
      f.sent -= payload_sent;
      f.size -= payload_sent;
      f.data = f.owned.data();
    }
    return;
  }
  wait_until([&] {
    if (p.written >= seq) return true;
    if (!p.failure.empty()) throw_lost(p, "cannot send to");
    return false;
  });
}

// ---------------------------------------------------------------- reading

void World::begin_frame(Peer& p, const wire::FrameHeader& h) {
  p.cur = h;
  p.got = 0;
  p.to_posted = false;
  p.in_payload = true;
  if (h.kind == wire::FrameKind::control) {
    if (h.flags != kTypeNameFrame || h.length > kMaxTypeName)
      throw ProtocolError("unexpected control frame (flags " + std::to_string(h.flags) + ", " +
                          std::to_string(h.length) + " bytes)");
  } else if (h.kind != wire::FrameKind::data) {
    throw ProtocolError("unexpected frame kind " + std::to_string(static_cast<int>(h.kind)));
  }
  const Key key{h.channel, static_cast<std::uint32_t>(p.rank), h.flags};
  if (h.kind == wire::FrameKind::data && posting_.recv && !posting_.done && posting_.key == key &&
      posting_.recv->type_tag == h.type_tag && h.length % posting_.recv->elem_size == 0) {
    auto it = queues_.find(key);
    if (it == queues_.end() || it->second.empty()) {
      p.to_posted = true;
      p.dest = posting_.recv->prepare(posting_.recv->target, h.length);
    }
  }
  if (!p.to_posted) {
    p.owned = std::make_unique_for_overwrite<std::byte[]>(std::max<std::uint64_t>(h.length, 1));
    p.dest = p.owned.get();
  }
  if (h.length == 0) complete_frame(p);
}

void World::complete_frame(Peer& p) {
  p.in_payload = false;
  const wire::FrameHeader& h = p.cur;
  if (h.kind == wire::FrameKind::control) {
    rmpi::detail::remember_type(h.type_tag,
                                std::string_view(reinterpret_cast<const char*>(p.owned.get()), h.length));
  } else if (p.to_posted) {
    posting_.done = true;
  } else {
    queues_[Key{h.channel, static_cast<std::uint32_t>(p.rank), h.flags}].push_back(
        Inbound{h.type_tag, std::move(p.owned), h.length});
  }
  p.owned.reset();
  p.to_posted = false;
  p.dest = nullptr;
}

void World::parse(Peer& p) {
  for (;;) {
    const std::size_t avail = p.in_end - p.in_begin;
    if (!p.in_payload) {
      if (avail < wire::kHeaderSize) break;
      const auto h = wire::decode_header(
          std::span<const std::byte, wire::kHeaderSize>(p.inbuf.data() + p.in_begin, wire::kHeaderSize),
          wire::kDefaultDataLimit);
      p.in_begin += wire::kHeaderSize;
      begin_frame(p, h);
    } else {
      if (avail == 0) break;
      const std::size_t take = std::min<std::size_t>(avail, p.cur.length - p.got);
      std::memcpy(p.dest + p.got, p.inbuf.data() + p.in_begin, take);
      p.got += take;
      p.in_begin += take;
      if (p.got == p.cur.length) complete_frame(p);
    }
  }
  if (p.in_begin == p.in_end) {
    p.in_begin = p.in_end = 0;
  } else if (p.in_begin > 0) {
    std::memmove(p.inbuf.data(), p.inbuf.data() + p.in_begin, p.in_end - p.in_begin);
    p.in_end -= p.in_begin;
    p.in_begin = 0;
  }
}

void World::read_peer(Peer& p) {
  try {
    while (p.failure.empty() && !p.eof) {
      std::byte* into;
      std::size_t room;
      const bool direct = p.in_payload && p.in_begin == p.in_end && p.cur.length - p.got >= kDirectRead;
      if (direct) {
        into = p.dest + p.got;
        room = p.cur.length - p.got;
      } else {
        into = p.inbuf.data() + p.in_end;
        room = p.inbuf.size() - p.in_end;
      }
      const ssize_t n = ::recv(p.fd.get(), into, room, 0);
      if (n > 0) {
        if (direct) {
          p.got += static_cast<std::size_t>(n);
          if (p.got == p.cur.length) complete_frame(p);
        } else {
          p.in_end += static_cast<std::size_t>(n);
          parse(p);
        }
      } else if (n == 0) {
        p.eof = true;
        if (p.in_payload || p.in_end != p.in_begin) {
          const bool posted = p.to_posted;
          fail_peer(p, "the peer closed the connection in the middle of a message");
          if (posted) p.to_posted = false;
        }
      } else if (errno == EAGAIN || errno == EWOULDBLOCK) {
        return;
      } else if (errno != EINTR) {
        fail_peer(p, std::string("read failed: ") + std::strerror(errno));
      }
    }
  } catch (const Error& e) {
    fail_peer(p, std::string("bad frame: ") + e.what());
  }
}

// ---------------------------------------------------------------- waiting

void World::poll_once(int timeout_ms) {
  pollfds_.clear();
  polled_.clear();
  for (auto& up : peers_) {
    if (!up || !up->failure.empty()) continue;
    Peer& p = *up;
    short ev = 0;
    if (!p.eof) ev |= POLLIN;
    if (!p.out.empty()) ev |= POLLOUT;
    if (!ev) continue;
    pollfds_.push_back({p.fd.get(), ev, 0});
    polled_.push_back(&p);
  }
  if (pollfds_.empty()) {
    if (timeout_ms != 0) throw Error("rmpi: rank " + std::to_string(rank_) + " waits with no connection left");
    return;
  }
  const int n = ::poll(pollfds_.data(), pollfds_.size(), timeout_ms);
  if (n <= 0) return;
  for (std::size_t i = 0; i < pollfds_.size(); ++i) {
    const short re = pollfds_[i].revents;
    if (!re) continue;
    Peer& p = *polled_[i];
    if (re & POLLOUT) write_peer(p);
    if (re & (POLLIN | POLLHUP | POLLERR)) {
      if (!p.eof) read_peer(p);
      else if (re & (POLLHUP | POLLERR)) write_peer(p);
    }
  }
}

template <class Pred>
void World::wait_until(Pred pred) {
  if (pred()) return;
  const auto spin_end = Clock::now() + spin_;
  for (;;) {
    poll_once(0);
    if (pred()) return;
    if (Clock::now() >= spin_end) break;
    ::sched_yield();
  }
  for (;;) {
    poll_once(-1);
    if (pred()) return;
  }
}

Received World::receive(std::uint32_t context, int src, std::uint16_t tag, std::uint64_t type_tag,
                        std::string_view type_name, PostedRecv* posted, int my_id, int src_id) {
  if (finished_) throw Error("rmpi: recv after rmpi::finish (rank " + std::to_string(rank_) + ")");
  const Key key{context, static_cast<std::uint32_t>(src), tag};
  auto& q = queues_[key];
  const auto take = [&]() -> Received {
    Inbound& m = q.front();
    if (m.type_tag != type_tag)
      throw TypeError("rank " + std::to_string(my_id) + " received a message from rank " +
                      std::to_string(src_id) + " sent as " + rmpi::detail::describe_type(m.type_tag) +
                      " where " + std::string(type_name) + " was expected");
    Received r;
    r.data = std::move(m.data);
    r.size = m.size;
    q.pop_front();
    return r;
  };
  if (!q.empty()) return take();
  if (src == rank_)
    throw Error("rmpi: rank " + std::to_string(my_id) +
                " receives from itself with no message queued (it would wait forever)");
  Peer& p = *peers_[static_cast<std::size_t>(src)];
  struct Unpost {
    World& w;
    Peer& p;
    ~Unpost() {
      if (p.to_posted) w.fail_peer(p, "a receive into a posted buffer was abandoned");
      w.posting_ = Posting{};
    }
  };
  posting_ = Posting{key, posted, false};
  Unpost unpost{*this, p};
  wait_until([&] {
    if (posting_.done || !q.empty()) return true;
    if (!p.failure.empty() || p.eof) throw_lost(p, "waits for a message from");
    return false;
  });
  if (posting_.done) {
    Received r;
    r.into_posted = true;
    return r;
  }
  return take();
}

void World::finish() {
  if (finished_) return;
  finished_ = true;
  wait_until([&] {
    for (auto& p : peers_)
      if (p && p->failure.empty() && !p->out.empty()) return false;
    return true;
  });
  for (auto& p : peers_)
    if (p && p->failure.empty()) ::shutdown(p->fd.get(), SHUT_WR);
  wait_until([&] {
    for (auto& p : peers_)
      if (p && p->failure.empty() && !p->eof) return false;
    return true;
  });
  for (auto& p : peers_)
    if (p) p->fd.reset();
  queues_.clear();
}

}  // namespace rmpi::detail

#include "world.hpp"

#include <sched.h>
#include <sys/epoll.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <new>
#include <thread>

#include <rmpi/error.hpp>
#include <rmpi/failure.hpp>

#include "comm_state.hpp"
#include "mesh.hpp"
#include "shm/doorbell.hpp"

namespace rmpi::detail {
namespace {

constexpr std::size_t kMaxTypeName = 4096;
// Request states a World keeps for reuse (a window of non-blocking requests
// larger than this allocates the rest).
constexpr std::size_t kPooledRequests = 256;
constexpr std::uint64_t kListenerKey = ~std::uint64_t{0};
// While no socket link is open, epoll only has news of new links and of
// peers' deaths, and a non-blocking epoll_wait costs 1-3.5 us on the VMs
// measured (a ring poll: tens of ns): polls that need not block look at
// epoll once every this many times.
constexpr unsigned kEventsEvery = 256;

bool is_socket(const Link& l) { return !l.spins() && l.fd() >= 0; }

std::byte g_empty_payload[1];

}  // namespace

bool World::on_this_host(int peer) const { return peer == rank_ || (mesh_ && mesh_->on_this_node(peer)); }

World::World(int rank, int size, std::chrono::microseconds spin, std::unique_ptr<Mesh> mesh)
    : rank_(rank), size_(size), spin_(spin), mesh_(std::move(mesh)), epoll_(::epoll_create1(EPOLL_CLOEXEC)),
      peers_(static_cast<std::size_t>(size)) {
  if (!epoll_) throw Error(std::string("rmpi: epoll_create1 failed: ") + std::strerror(errno));
  for (int r = 0; r < size; ++r) peers_[static_cast<std::size_t>(r)].rank = r;
  free_requests_.reserve(kPooledRequests);
  if (mesh_) {
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.u64 = kListenerKey;
    ::epoll_ctl(epoll_.get(), EPOLL_CTL_ADD, mesh_->ready_fd(), &ev);  // links, shared memory too, come on demand
  }
}

World::~World() {
  finished_ = true;  // states released from here on are deleted, not pooled
  done_send_.reset();
  for (RequestState* r : free_requests_) delete r;
  if (mesh_) mesh_->stop();
}

std::string World::where(int peer) const { return mesh_ ? mesh_->where(peer) : "this process"; }

// ---------------------------------------------------------------- links

void World::add_link(int peer, std::unique_ptr<Link> link) {
  Peer& p = peers_[static_cast<std::size_t>(peer)];
  if (mesh_ && (p.link || p.gone)) {
    const std::uint32_t incarnation = mesh_->incarnation_of(peer);
    if (incarnation > p.incarnation) restarted(p, incarnation);
  }
  if (p.link) {  // the pair disagreed on its link: the listener links a pair once
    log_line("error", "rank " + std::to_string(rank_),
             "a second link to rank " + std::to_string(peer) + " (" + link->where() + ") was dropped");
    return;
  }
  p.link = std::move(link);
  p.where = p.link->where();
  if (p.link->fd() >= 0) {
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.u64 = static_cast<std::uint64_t>(peer);
    ::epoll_ctl(epoll_.get(), EPOLL_CTL_ADD, p.link->fd(), &ev);
  }
  if (p.link->spins() || p.link->fd() < 0) spinning_.push_back(&p);
  if (is_socket(*p.link)) ++socket_links_;
  if (finishing_) {
    p.goodbye = true;
    p.link->close_write();
  }
  rearm(p);
}

void World::restarted(Peer& p, std::uint32_t incarnation) {
  // Everything that involved the old process fails; nothing it sent is
  // delivered as the new one's.
  if (!p.gone) link_closed(p.rank, false, "it was restarted");
  for (auto it = unexpected_.begin(); it != unexpected_.end();)
    it = it->src == p.rank ? unexpected_.erase(it) : std::next(it);
  std::erase(spinning_, &p);
  const int rank = p.rank;
  p = Peer{};
  p.rank = rank;
  p.incarnation = incarnation;
  log_line("info", "rank " + std::to_string(rank_),
           "rank " + std::to_string(rank) + " is back (restart " + std::to_string(incarnation) + ")");
}

void World::rejoin() {
  for (int r = 0; r < size_; ++r) {
    if (r == rank_ || peers_[static_cast<std::size_t>(r)].link) continue;
    try {
      link_to(r, true);
    } catch (const ConnectError&) {
      // It finished or died: it is gone, as for any rank.
    }
  }
}

void World::adopt_links() {
  if (!mesh_) return;
  for (auto& [peer, link] : mesh_->take_accepted(*this)) add_link(peer, std::move(link));
}

void World::rearm(Peer& p) {
  if (!p.link || p.link->closed() || p.link->fd() < 0) return;
  const bool want = p.link->wants_write();
  if (want == p.out_armed) return;
  epoll_event ev{};
  ev.events = EPOLLIN | (want ? EPOLLOUT : 0u);
  ev.data.u64 = static_cast<std::uint64_t>(p.rank);
  ::epoll_ctl(epoll_.get(), EPOLL_CTL_MOD, p.link->fd(), &ev);
  p.out_armed = want;
}

Link& World::link_to(int peer, bool for_recv) {
  Peer& p = peers_[static_cast<std::size_t>(peer)];
  if (p.link) return *p.link;
  adopt_links();  // its connection may be waiting already
  if (p.link) return *p.link;
  if (!mesh_) throw Error("rmpi: rank " + std::to_string(rank_) + " has no mesh to reach rank " + std::to_string(peer));
  try {
    add_link(peer, mesh_->connect(peer, *this));
  } catch (const ConnectError& e) {
    p.gone = true;
    p.where = mesh_->where(peer);
    p.why = e.what();
    if (for_recv) {
      p.clean = true;  // it listened once, so it is gone (finished or died)
      p.why.clear();
      throw;
    }
    throw_lost(p, "cannot send to");  // it listened once: it died or finished
  }
  return *p.link;
}

void World::link_closed(int peer, bool clean, const std::string& why) {
  ++activity_;
  Peer& p = peers_[static_cast<std::size_t>(peer)];
  p.gone = true;
  p.clean = clean;
  p.why = why;
  if (!clean)
    log_line("warning", "rank " + std::to_string(rank_),
             "connection to rank " + std::to_string(peer) + " (" + p.where + ") closed: " + why);
  if (p.link && p.link->fd() >= 0) ::epoll_ctl(epoll_.get(), EPOLL_CTL_DEL, p.link->fd(), nullptr);
  if (p.link && is_socket(*p.link)) --socket_links_;
  // A frame cut off in the middle.
  if (p.into == Into::request && p.target) {
    fail(*p.target, lost(p, "waits for a message from"));
  } else if (p.into == Into::arrival) {
    if (p.arrival->claimed) fail(*p.arrival->claimed, lost(p, "waits for a message from"));
    unexpected_.erase(p.arrival);
  }
  p.into = Into::nothing;
  p.target.reset();
  // Receives that only this peer could satisfy.
  for (auto it = posted_.begin(); it != posted_.end();) {
    if (it->src == peer) {
      fail(*it, lost(p, "waits for a message from"));
      it = unpost(it);
    } else {
      ++it;
    }
  }
}

void World::await_launcher() const {
  if (awaited_launcher_ || !mesh_ || supervised()) return;
  awaited_launcher_ = true;
  // The launcher ends this process when it sees the peer's end; until then
  // the peer's failure is the job's only one (see rmpi/failure.hpp).
  std::this_thread::sleep_for(detection_bound());
}

std::exception_ptr World::lost(const Peer& p, std::string_view doing) const {
  await_launcher();
  const std::string who = "rank " + std::to_string(p.rank) + " (" + (p.where.empty() ? where(p.rank) : p.where) + ")";
  if (!p.clean && !p.why.empty())
    return std::make_exception_ptr(RankFailed(p.rank, "rmpi: rank " + std::to_string(rank_) + " " +
                                                          std::string(doing) + " " + who +
                                                          ": the connection failed: " + p.why));
  return std::make_exception_ptr(RankFailed(p.rank, "rmpi: rank " + std::to_string(rank_) + " " + std::string(doing) +
                                                        " " + who + ", which closed its connection (it finished or died)"));
}

void World::throw_lost(const Peer& p, std::string_view doing) const { std::rethrow_exception(lost(p, doing)); }

// ---------------------------------------------------------------- matching

bool World::matches(const RequestState& r, std::uint32_t context, int src, std::uint16_t tag) const {
  if (r.context != context) return false;
  if (r.src != kAnyRank && r.src != src) return false;
  if (r.tag == kAnyUserTag) return (tag & kUserTagBit) != 0;
  return r.tag == tag;
}

void World::post(RequestState& r) {
  const int src = r.src;
  intrusive_ptr_add_ref(&r);
  posted_.push_back(r);
  if (posted_from_.empty()) posted_from_.assign(peers_.size() + 1, 0);
  ++posted_from_[src == kAnyRank ? peers_.size() : static_cast<std::size_t>(src)];
  publish_posted(src);
}

World::PostedQueue::iterator World::unpost(PostedQueue::iterator it) {
  RequestState& r = *it;
  const int src = r.src;
  --posted_from_[src == kAnyRank ? peers_.size() : static_cast<std::size_t>(src)];
  it = posted_.erase(it);
  publish_posted(src);
  intrusive_ptr_release(&r);
  return it;
}

void World::publish_posted(int src) {
  const std::uint32_t any = posted_from_.back();
  for (std::size_t p = src == kAnyRank ? 0 : static_cast<std::size_t>(src); p < peers_.size(); ++p) {
    if (peers_[p].link) peers_[p].link->receives_posted(posted_from_[p] + any);
    if (src != kAnyRank) break;
  }
}

std::exception_ptr World::refusal(const RequestState& r, int src, std::uint64_t type_tag, std::size_t size) const {
  const auto comm_rank = [&](int w) { return r.comm ? r.comm->comm_rank_of(w) : w; };
  const int me = r.comm ? r.comm->id : rank_;
  if (r.type_tag != type_tag)
    return std::make_exception_ptr(TypeError("rank " + std::to_string(me) + " received a message from rank " +
                                             std::to_string(comm_rank(src)) + " sent as " +
                                             rmpi::detail::describe_type(type_tag) + " where " +
                                             std::string(r.type_name) + " was expected"));
  if (r.has_posted) {
    const PostedRecv& p = r.posted;
    const bool fits = size % p.elem_size == 0 && (p.exact ? size == p.capacity : size <= p.capacity);
    if (!fits) {
      const std::string buffer =
          p.describe ? p.describe(p) : std::to_string(p.capacity) + " bytes";
      return std::make_exception_ptr(Error(
          "rmpi: rank " + std::to_string(me) + " received a message of " + std::to_string(size) +
          " bytes from rank " + std::to_string(comm_rank(src)) + " into a buffer of " + buffer +
          (p.exact ? " (the sizes must be equal)" : " (too small)") + "; the message stays queued"));
    }
  }
  return nullptr;
}

void World::bind_status(RequestState& r, int src, std::uint16_t tag, std::size_t size) {
  r.status.source = r.comm ? r.comm->comm_rank_of(src) : src;
  r.status.tag = (tag & kUserTagBit) ? (tag & ~kUserTagBit) : tag;
  r.status.bytes = size;
}

namespace {
bool is_shrink_tag(int tag) { return tag >= kShrinkTag && tag < kShrinkTag + kShrinkRounds; }
}  // namespace

std::exception_ptr World::revoked_error(std::uint32_t context) const {
  return std::make_exception_ptr(RankFailed(
      -1, "rmpi: rank " + std::to_string(rank_) + ": the communicator (context " + std::to_string(context) +
              ") was revoked: a rank saw a failure and shrinks it (rmpi::comm_shrink)"));
}

void World::revoke(std::uint32_t context, int from) {
  if (!revoked_.insert(context).second) return;
  (void)from;
  for (auto it = posted_.begin(); it != posted_.end();) {
    if (it->context == context && !is_shrink_tag(it->tag)) {
      fail(*it, revoked_error(context));
      it = unpost(it);
    } else {
      ++it;
    }
  }
}

void World::fail(RequestState& r, std::exception_ptr e) {
  r.error = std::move(e);
  r.done = true;
}

void World::deliver(RequestState& r, Arrival& a) {
  bind_status(r, a.src, a.tag, a.size);
  if (r.has_posted) {
    std::byte* dest = r.posted.prepare(r.posted.target, a.size);
    if (a.size) std::memcpy(dest, a.data.get(), a.size);
    r.received.into_posted = true;
  } else {
    r.received.data = std::move(a.data);
    r.received.size = a.size;
  }
  r.done = true;
}

std::byte* World::frame_begin(int peer, const wire::FrameHeader& h) {
  Peer& p = peers_[static_cast<std::size_t>(peer)];
  p.cur = h;
  p.target.reset();
  if (h.kind == wire::FrameKind::control) {
    if (h.flags != static_cast<std::uint16_t>(ControlFrame::type_name) || h.length > kMaxTypeName)
      throw ProtocolError("unexpected control frame (flags " + std::to_string(h.flags) + ", " +
                          std::to_string(h.length) + " bytes)");
    p.into = Into::control;
    p.control.resize(h.length);
    return h.length ? p.control.data() : g_empty_payload;
  }
  if (h.kind != wire::FrameKind::data)
    throw ProtocolError("unexpected frame kind " + std::to_string(static_cast<int>(h.kind)));
  if (h.flags == kShrinkTag) revoke(h.channel, peer);
  for (auto it = posted_.begin(); it != posted_.end();) {
    RequestState& r = *it;
    if (!matches(r, h.channel, peer, h.flags)) {
      ++it;
      continue;
    }
    if (auto why = refusal(r, peer, h.type_tag, h.length)) {
      fail(r, why);  // the message stays for a later receive
      it = unpost(it);
      continue;
    }
    p.into = Into::request;
    p.target = &r;
    unpost(it);
    bind_status(r, peer, h.flags, h.length);
    if (r.has_posted) {
      r.received.into_posted = true;
      std::byte* d = r.posted.prepare(r.posted.target, h.length);
      return h.length ? d : g_empty_payload;
    }
    r.received.data = std::make_unique_for_overwrite<std::byte[]>(std::max<std::uint64_t>(h.length, 1));
    r.received.size = h.length;
    return r.received.data.get();
  }
  Arrival a;
  a.context = h.channel;
  a.src = peer;
  a.tag = h.flags;
  a.type_tag = h.type_tag;
  a.size = h.length;
  a.data = std::make_unique_for_overwrite<std::byte[]>(std::max<std::uint64_t>(h.length, 1));
  p.into = Into::arrival;
  p.arrival = unexpected_.insert(unexpected_.end(), std::move(a));
  return p.arrival->data.get();
}

void World::frame_end(int peer) {
  ++activity_;
  Peer& p = peers_[static_cast<std::size_t>(peer)];
  switch (p.into) {
    case Into::control:
      rmpi::detail::remember_type(p.cur.type_tag,
                                  std::string_view(reinterpret_cast<const char*>(p.control.data()), p.control.size()));
      break;
    case Into::request:
      p.target->done = true;
      p.target.reset();
      break;
    case Into::arrival: {
      Arrival& a = *p.arrival;
      a.complete = true;
      if (a.claimed) {
        RequestPtr r = std::move(a.claimed);
        deliver(*r, a);
        unexpected_.erase(p.arrival);
      }
      break;
    }
    case Into::nothing:
      break;
  }
  p.into = Into::nothing;
}

// ---------------------------------------------------------------- operations

RequestPtr World::start_send(const std::shared_ptr<CommState>& comm, int dest, std::uint16_t tag, OutMessage m,
                             bool blocking) {
  if (finished_) throw Error("rmpi: send after rmpi::finish (rank " + std::to_string(rank_) + ")");
  const auto new_send = [&] {
    auto r = new_request(RequestState::Kind::send, comm);
    r->peer = dest;
    return r;
  };
  if (dest == rank_) {
    auto r = new_send();
    // Through the matcher as if it had arrived.
    const wire::FrameHeader h{.kind = wire::FrameKind::data, .flags = tag,
                              .source = static_cast<std::uint32_t>(rank_), .channel = comm->context,
                              .type_tag = m.type_tag, .length = m.payload.size()};
    std::byte* into = frame_begin(rank_, h);
    if (!m.payload.empty()) std::memcpy(into, m.payload.data(), m.payload.size());
    frame_end(rank_);
    r->done = true;
    return r;
  }
  Peer& p = peers_[static_cast<std::size_t>(dest)];
  if (p.gone) adopt_links();  // a restarted process of it may have connected
  if (p.gone) throw_lost(p, "cannot send to");
  Link& link = link_to(dest, false);
  if (p.gone) throw_lost(p, "cannot send to");
  if (m.type_tag != p.last_announced && p.announced.insert(m.type_tag).second) {
    OutFrame name;
    name.owned.assign(reinterpret_cast<const std::byte*>(m.type_name.data()),
                      reinterpret_cast<const std::byte*>(m.type_name.data()) + m.type_name.size());
    name.data = name.owned.data();
    name.size = name.owned.size();
    name.header = wire::encode_header({.kind = wire::FrameKind::control,
                                       .flags = static_cast<std::uint16_t>(ControlFrame::type_name),
                                       .source = static_cast<std::uint32_t>(rank_), .type_tag = m.type_tag,
                                       .length = name.size});
    p.last_seq = link.write(std::move(name), WriteMode::copy_if_pending);
  }
  p.last_announced = m.type_tag;
  OutFrame f;
  f.header = wire::encode_header({.kind = wire::FrameKind::data, .flags = tag,
                                  .source = static_cast<std::uint32_t>(rank_), .channel = comm->context,
                                  .type_tag = m.type_tag, .length = m.payload.size()});
  const bool held = m.owns || m.keep;
  if (m.owns) {
    f.owned = std::move(m.owned);
    f.data = f.owned.data();
    f.size = f.owned.size();
  } else {
    f.data = m.payload.data();
    f.size = m.payload.size();
    f.keep = std::move(m.keep);
  }
  const bool eager = held || f.size < kEagerLimit;
  const std::uint64_t seq = link.write(std::move(f), eager ? WriteMode::copy_if_pending : WriteMode::borrow);
  p.last_seq = seq;
  rearm(p);
  if (p.gone) throw_lost(p, "cannot send to");
  // A blocking send that is complete already needs no request of its own
  // (the allocation and reference counts were a tenth of a small send).
  if (eager && blocking) return done_send();
  auto r = new_send();
  r->incarnation = p.incarnation;
  if (eager) {
    r->done = true;
  } else {
    r->seq = seq;
  }
  return r;
}

const RequestPtr& World::done_send() {
  if (!done_send_) {
    done_send_ = new_request(RequestState::Kind::send, nullptr);
    done_send_->done = true;
  }
  return done_send_;
}

RequestPtr World::new_request(RequestState::Kind kind, const std::shared_ptr<CommState>& comm) {
  RequestState* r = nullptr;
  if (free_requests_.empty()) {
    r = new RequestState();
  } else {
    r = free_requests_.back();
    free_requests_.pop_back();
  }
  r->kind = kind;
  r->world = this;
  if (r->comm != comm) r->comm = comm;  // a pooled state kept its last comm
  return RequestPtr(r);
}

void World::recycle(RequestState* r) noexcept {
  if (finished_ || free_requests_.size() >= kPooledRequests) {
    delete r;  // its comm may hold the last reference to this World
    return;
  }
  // As new, but for the comm (dropping it would change its atomic count).
  auto comm = std::move(r->comm);
  r->~RequestState();
  new (r) RequestState();
  r->comm = std::move(comm);
  free_requests_.push_back(r);  // no allocation: reserved for kPooledRequests
}

void intrusive_ptr_add_ref(RequestState* r) noexcept { ++r->refs; }

void intrusive_ptr_release(RequestState* r) noexcept {
  if (--r->refs == 0) r->world->recycle(r);
}

RequestPtr World::start_recv(const std::shared_ptr<CommState>& comm, int src, int tag, std::uint64_t type_tag,
                             std::string_view type_name, const PostedRecv* posted, std::shared_ptr<void> keep) {
  if (finished_) throw Error("rmpi: recv after rmpi::finish (rank " + std::to_string(rank_) + ")");
  auto r = new_request(RequestState::Kind::recv, comm);
  r->context = comm->context;
  r->src = src;
  r->tag = tag;
  r->type_tag = type_tag;
  r->type_name = type_name;
  if (posted) {
    r->has_posted = true;
    r->posted = *posted;
  }
  r->keep = std::move(keep);
  if (!revoked_.empty() && revoked_.count(r->context) && !is_shrink_tag(tag)) {
    fail(*r, revoked_error(r->context));
    return r;
  }
  for (auto it = unexpected_.begin(); it != unexpected_.end(); ++it) {
    Arrival& a = *it;
    if (a.claimed || !matches(*r, a.context, a.src, a.tag)) continue;
    if (auto why = refusal(*r, a.src, a.type_tag, a.size)) {
      fail(*r, why);
      return r;
    }
    if (a.complete) {
      deliver(*r, a);
      unexpected_.erase(it);
    } else {
      a.claimed = r;
    }
    return r;
  }
  if (src != kAnyRank && src != rank_) {
    Peer& p = peers_[static_cast<std::size_t>(src)];
    if (!p.gone && !p.link) {
      try {
        link_to(src, true);  // so that its death is seen while we wait
      } catch (const ConnectError&) {
      }
    }
    if (p.gone) adopt_links();  // a restarted process of it may have connected
    if (p.gone) {
      fail(*r, lost(p, "waits for a message from"));
      return r;
    }
  }
  post(*r);
  return r;
}

std::optional<Status> World::probe(const std::shared_ptr<CommState>& comm, int src, int tag, bool wait) {
  if (finished_) throw Error("rmpi: probe after rmpi::finish (rank " + std::to_string(rank_) + ")");
  RequestState q;
  q.comm = comm;
  q.context = comm->context;
  q.src = src;
  q.tag = tag;
  std::optional<Status> found;
  const auto look = [&] {
    for (const Arrival& a : unexpected_) {
      if (a.claimed || !matches(q, a.context, a.src, a.tag)) continue;
      bind_status(q, a.src, a.tag, a.size);
      found = q.status;
      return true;
    }
    if (src != kAnyRank && src != rank_ && peers_[static_cast<std::size_t>(src)].gone)
      throw_lost(peers_[static_cast<std::size_t>(src)], "probes for a message from");
    return false;
  };
  if (src != kAnyRank && src != rank_ && !peers_[static_cast<std::size_t>(src)].link &&
      !peers_[static_cast<std::size_t>(src)].gone) {
    try {
      link_to(src, true);
    } catch (const ConnectError&) {
    }
  }
  if (look()) return found;
  if (!wait) {
    progress(0);
    look();
    return found;
  }
  if (src == rank_)
    throw Error("rmpi: rank " + std::to_string(comm->id) + " probes for a message from itself with none queued");
  wait_until(look);
  return found;
}

bool World::complete(RequestState& r) {
  if (r.done) return true;
  if (r.kind == RequestState::Kind::send) {
    Peer& p = peers_[static_cast<std::size_t>(r.peer)];
    if (r.incarnation != p.incarnation) {
      fail(r, std::make_exception_ptr(RankFailed(
                  r.peer, "rmpi: rank " + std::to_string(rank_) + " sent to rank " + std::to_string(r.peer) +
                              ", which was restarted before the message was written")));
    } else if (p.link && p.link->written() >= r.seq) {
      r.done = true;
    } else if (p.gone) {
      fail(r, lost(p, "cannot send to"));
    }
  }
  return r.done;
}

void World::wait(RequestState& r) {
  if (!complete(r)) {
    if (r.kind == RequestState::Kind::recv && r.src == rank_)
      throw Error("rmpi: rank " + std::to_string(r.comm ? r.comm->id : rank_) +
                  " receives from itself with no message queued (it would wait forever)");
    wait_until([&] { return complete(r); });
  }
  if (r.error) {
    auto e = r.error;
    r.error = nullptr;
    std::rethrow_exception(e);
  }
}

bool World::test(RequestState& r) {
  if (!complete(r)) {
    progress(0);
    if (!complete(r)) return false;
  }
  if (r.error) std::rethrow_exception(r.error);
  return true;
}

bool World::cancel(RequestState& r) {
  if (r.kind != RequestState::Kind::recv || r.done) return false;
  if (!r.in_posted.is_linked()) return false;  // bound to a message that is arriving
  r.cancelled = true;
  r.done = true;
  r.error = std::make_exception_ptr(Error("rmpi: the receive was cancelled"));
  unpost(posted_.iterator_to(r));
  return true;
}

std::size_t World::wait_any(const std::vector<RequestState*>& rs) {
  if (std::none_of(rs.begin(), rs.end(), [](RequestState* r) { return r != nullptr; })) return rs.size();
  std::size_t found = rs.size();
  const auto any = [&] {
    for (std::size_t i = 0; i < rs.size(); ++i)
      if (rs[i] && complete(*rs[i])) {
        found = i;
        return true;
      }
    return false;
  };
  wait_until(any);
  return found;
}

std::optional<std::size_t> World::test_any(const std::vector<RequestState*>& rs) {
  const auto any = [&]() -> std::optional<std::size_t> {
    for (std::size_t i = 0; i < rs.size(); ++i)
      if (rs[i] && complete(*rs[i])) return i;
    return std::nullopt;
  };
  if (auto i = any()) return i;
  progress(0);
  return any();
}

// ---------------------------------------------------------------- waiting

void World::progress(int timeout_ms) {
  poll_spinning();
  if (timeout_ms == 0 && socket_links_ == 0 && ++polls_ % kEventsEvery != 0) return;
  poll_events(timeout_ms);
}

bool World::poll_spinning() {
  const std::uint64_t before = activity_;
  for (Peer* p : spinning_) {
    // One cheap look per link and pass; progress only when it has work.
    if (!p->link->ready()) continue;
    const std::uint64_t written = p->link->written();
    p->link->progress(0);
    if (p->link->written() != written) ++activity_;  // a send may be complete
    rearm(*p);
  }
  return activity_ != before;
}

bool World::poll_events(int timeout_ms) {
  const std::uint64_t before = activity_;
  std::array<epoll_event, 64> evs{};
  const int n = ::epoll_wait(epoll_.get(), evs.data(), static_cast<int>(evs.size()), timeout_ms);
  for (int i = 0; i < n; ++i) {
    const std::uint64_t key = evs[static_cast<std::size_t>(i)].data.u64;
    if (key == kListenerKey) {
      adopt_links();
      ++activity_;  // a new link: a wait on a peer's death may be over
      continue;
    }
    Peer& p = peers_[static_cast<std::size_t>(key)];
    if (!p.link || p.link->closed()) continue;
    const std::uint64_t written = p.link->written();
    p.link->progress(evs[static_cast<std::size_t>(i)].events);
    if (p.link->written() != written) ++activity_;
    rearm(p);
  }
  return activity_ != before;
}

int World::prepare_to_block() {
  int timeout_ms = -1;
  for (Peer& p : peers_) {
    if (!p.link || p.link->closed()) continue;
    if (p.link->fd() < 0) timeout_ms = 1;  // nothing to wake us: poll it every millisecond
    if (!p.link->prepare_to_block()) return 0;  // data already there (the links armed so far disarm in progress)
  }
  return timeout_ms;
}

shm::Doorbell* World::futex_bell() {
  if (socket_links_ > 0 || !mesh_) return nullptr;
  shm::Doorbell* bell = mesh_->shm_doorbell();
  if (!bell) return nullptr;
  for (Peer& p : peers_) {
    if (p.rank == rank_ || p.gone) continue;
    if (!p.link) {
      // A shared-memory peer links by ringing this doorbell too
      // (Waker::announce); any other may connect: only epoll sees the listener.
      if (!mesh_->shm_reaches(p.rank)) return nullptr;
      continue;
    }
    if (p.link->closed()) continue;
    if (!p.link->doorbell()) return nullptr;
  }
  return bell;
}

void World::sleep_on(shm::Doorbell& bell) {
  // A dead peer does not ring: it is seen through its pidfd (epoll) at the
  // end of the slice, well inside the detection bound.
  constexpr std::chrono::milliseconds kSlice{4};
  shm::Sleeper sleeper(bell);
  sleeper.sleep(kSlice, [&] {
    for (const Peer* p : spinning_)
      if (p->link->ready()) return true;
    return mesh_->shm_has_new();
  });
  poll_events(0);
}

bool World::oversubscribed() {
  if (!oversubscribed_) {
    int node_ranks = 0;
    for (int r = 0; r < size_; ++r) node_ranks += on_this_host(r) ? 1 : 0;
    cpu_set_t set;
    CPU_ZERO(&set);
    const int cpus = ::sched_getaffinity(0, sizeof set, &set) == 0 ? CPU_COUNT(&set) : 1;
    oversubscribed_ = node_ranks > cpus;
  }
  return *oversubscribed_;
}

namespace {

// One spin iteration's pause: lets the sibling hyper-thread run and costs
// no system call.
inline void cpu_relax() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#elif defined(__aarch64__)
  asm volatile("yield" ::: "memory");
#endif
}

}  // namespace

template <class Pred>
void World::wait_until(Pred pred) {
  if (pred()) return;
  // Spin for RMPI_SPIN_US: the shared-memory rings are polled on every
  // iteration (a pause between them); the clock (50-100 ns on a VM) only
  // every kClockEvery iterations; epoll (a system call) as often as the
  // clock while a socket link is open (only epoll sees sockets move), else
  // every kEventsEvery iterations.
  // sched_yield (~4 us on the VMs measured, several one-way latencies) lets
  // the rank with the data run: from the start when the node has more ranks
  // than this process has CPUs, else only after kQuietBeforeYield without
  // news (other load may hold the CPU the peer needs), and from the start
  // for the kYieldEarlyWaits waits after one that lasted that long (under
  // load, measured: spinning those 10 us on most waits doubled the 8 B
  // latency). Open MPI's mpi_yield_when_idle rule, plus that stretch.
  if (spin_.count() > 0) {
    constexpr unsigned kClockEvery = 32;
    constexpr std::chrono::microseconds kQuietBeforeYield{10};
    constexpr unsigned kYieldEarlyWaits = 256;
    const bool yield_early = oversubscribed() || yield_early_waits_ > 0;
    if (yield_early_waits_ > 0) --yield_early_waits_;
    bool long_wait = false;
    const auto start = Clock::now();
    const auto spin_end = start + spin_;
    auto quiet_since = start;
    std::uint64_t seen = activity_;
    for (unsigned round = 1;; ++round) {
      if (!spinning_.empty()) {
        poll_spinning();
        if (pred()) return;
      }
      // With no spinning link, every pass is an epoll system call anyway.
      const unsigned clock_every = spinning_.empty() ? 1 : kClockEvery;
      const unsigned events_every = socket_links_ > 0 ? clock_every : kEventsEvery;
      if (spinning_.empty() || round % events_every == 0) {
        poll_events(0);
        if (pred()) return;
      }
      if (round % clock_every != 0) {
        cpu_relax();
        continue;
      }
      const auto now = Clock::now();
      if (now >= spin_end) break;
      if (activity_ != seen) {
        seen = activity_;
        quiet_since = now;
      }
      const bool quiet_long = now - quiet_since >= kQuietBeforeYield;
      if (quiet_long && !long_wait) {
        long_wait = true;
        yield_early_waits_ = kYieldEarlyWaits;
      }
      if (yield_early ? round > 4 : quiet_long) ::sched_yield();
    }
  }
  // Then block: on the futex of this process's doorbell when only shared
  // memory can bring news, else in epoll; but never when the last pass moved
  // something (the predicate may hold now) or a link has data already
  // (prepare_to_block says so); every link's prepare_to_block() comes right
  // before epoll_wait.
  for (;;) {
    const bool moved = poll_spinning();
    if (pred()) return;
    if (shm::Doorbell* bell = moved ? nullptr : futex_bell()) {
      sleep_on(*bell);
    } else {
      poll_events(moved ? 0 : prepare_to_block());
    }
    if (pred()) return;
  }
}

void World::finish(FinishMode mode) {
  if (finished_ || finishing_) return;
  finishing_ = true;
  adopt_links();
  const auto flushed = [&] {
    for (auto& p : peers_)
      if (p.link && !p.link->closed() && p.link->wants_write()) return false;
    return true;
  };
  const auto goodbyes = [&] {
    for (auto& p : peers_)
      if (p.link && !p.link->closed() && !p.goodbye) {
        p.goodbye = true;
        p.link->close_write();
        rearm(p);
      }
  };
  if (mode == FinishMode::wait_for_peers) {
    wait_until(flushed);
    goodbyes();
    // Every linked peer closes its side once it finishes too.
    wait_until([&] {
      for (auto& p : peers_)
        if (p.link && !p.link->closed()) return false;
      return true;
    });
  } else {
    // At exit: every frame sent is handed over (bounded: a peer may never
    // read), then the process goes without waiting for anyone.
    const auto handed_over = [&] {
      for (auto& p : peers_)
        if (p.link && !p.link->closed() && (p.link->wants_write() || p.link->written() < p.last_seq)) return false;
      return true;
    };
    const auto deadline = Clock::now() + detection_bound();
    while (!handed_over() && Clock::now() < deadline) progress(10);
    goodbyes();
    progress(0);
  }
  finished_ = true;
  done_send_.reset();
  // Pooled states hold their comms, and so this World: let them go.
  for (RequestState* r : free_requests_) delete r;
  free_requests_.clear();
  if (mesh_) mesh_->stop();
  adopt_links();  // close what arrived meanwhile
  for (auto& p : peers_) p.link.reset();
  unexpected_.clear();
  posted_.clear_and_dispose([](RequestState* r) { intrusive_ptr_release(r); });
}

}  // namespace rmpi::detail

#pragma once
// The progress engine of one process (World): its links to other ranks
// (link.hpp), the matcher (posted receives and unexpected messages, both in
// order), and the requests that complete in it. Single-threaded: progress
// happens inside rmpi calls, in the calling thread. Links are made on
// demand by the Mesh (mesh.hpp), at a pair's first message.
//
// Frames on a link (rmpi/wire.hpp header):
//   data    : source = world rank, channel = context id, flags = wire tag
//             (comm.hpp: internal 0..0x7fff, user 0x8000|n), type_tag = the
//             message's type tag, payload = message bytes;
//   control : flags = ControlFrame::type_name: payload = the C++ name of
//             type_tag, sent once per type and link before the first
//             message of it, so the receiver can name the sender's type.
#include <sys/epoll.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <list>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_set>
#include <vector>

#include <boost/intrusive/list.hpp>

#include <rmpi/comm.hpp>
#include <rmpi/wire.hpp>

#include "link.hpp"
#include "net.hpp"

namespace rmpi::detail {

/// The kinds of control frames on rank links (FrameHeader::flags).
enum class ControlFrame : std::uint16_t {
  type_name = 1,       // payload: the name of type_tag
  hello = 2,           // connector → acceptor after the handshake; source = its rank
  hello_accepted = 3,  // acceptor → connector: this connection is the pair's link
  hello_declined = 4,  // acceptor → connector: the acceptor's own connection wins
};

/// Internal tags of comm_shrink's rounds (kShrinkTag + round, round <
/// kShrinkRounds). The first round's message revokes its context at the
/// receiver: every other receive in that context fails from then on, so no
/// survivor waits for a rank that went to shrink (ULFM's MPIX_Comm_revoke).
inline constexpr int kShrinkTag = 0x7e00;
inline constexpr int kShrinkRounds = 0x100;

/// Sends below this many bytes are copied when they cannot be written at
/// once (eager); larger blocking sends wait until written (zero copy).
inline constexpr std::size_t kEagerLimit = 64 * 1024;

class Mesh;

/// One operation of the engine (rmpi/request.hpp's handle points at it).
/// States are pooled by their World: a state keeps its `comm` while pooled,
/// so that the next request on the same communicator changes no atomic count.
struct RequestState {
  enum class Kind : std::uint8_t { send, recv };
  std::uint32_t refs = 0;        // RequestPtr copies (intrusive_ptr_add_ref)
  class World* world = nullptr;  // alive as long as `comm` (or, for done_send, owns this)
  Kind kind = Kind::recv;
  bool done = false;
  bool cancelled = false;
  bool taken = false;
  std::exception_ptr error;
  // send
  int peer = -1;
  std::uint64_t seq = 0;  // link sequence number; 0 = complete at once
  std::uint32_t incarnation = 0;  // of the peer it was written to
  // recv
  std::shared_ptr<CommState> comm;
  std::uint32_t context = 0;
  int src = kAnyRank;      // world rank
  int tag = kAnyUserTag;   // wire tag
  std::uint64_t type_tag = 0;
  std::string_view type_name;
  bool has_posted = false;
  PostedRecv posted{};
  std::shared_ptr<void> keep;  // keeps posted.target alive
  Status status{};
  Received received;
  boost::intrusive::list_member_hook<> in_posted;  // linked while in World::posted_
};

class World final : public FrameSink {
 public:
  World(int rank, int size, std::chrono::microseconds spin, std::unique_ptr<Mesh> mesh);
  ~World();

  int rank() const { return rank_; }
  int size() const { return size_; }
  /// Whether world rank `peer` runs on this rank's host (node).
  bool on_this_host(int peer) const;
  /// True once world rank `peer`'s link closed or could not be made.
  bool peer_gone(int peer) const { return peers_[static_cast<std::size_t>(peer)].gone; }

  /// Starts a send to world rank `dest` (see Comm::start_send).
  RequestPtr start_send(const std::shared_ptr<CommState>& comm, int dest, std::uint16_t tag, OutMessage m,
                        bool blocking);
  /// Posts a receive (`src` world rank or kAnyRank, `tag` wire tag or kAnyUserTag).
  RequestPtr start_recv(const std::shared_ptr<CommState>& comm, int src, int tag, std::uint64_t type_tag,
                        std::string_view type_name, const PostedRecv* posted, std::shared_ptr<void> keep);
  std::optional<Status> probe(const std::shared_ptr<CommState>& comm, int src, int tag, bool wait);

  void wait(RequestState& r);
  bool test(RequestState& r);
  bool cancel(RequestState& r);
  std::size_t wait_any(const std::vector<RequestState*>& rs);
  std::optional<std::size_t> test_any(const std::vector<RequestState*>& rs);

  /// Adds a link made outside the Mesh (shared memory, at init): `peer`'s
  /// messages then go through it. Both sides must attach one.
  void attach(int peer, std::unique_ptr<Link> link) { add_link(peer, std::move(link)); }
  /// Takes the connections the listener accepted (a restarted peer's among
  /// them: it is then no longer gone).
  void adopt_links();
  /// A restarted rank (rmpi::restart_count() > 0) links to every peer at
  /// init, so that each learns it is back (a peer that finished is gone).
  void rejoin();
  /// The launcher's word on whether this node runs more ranks than cores
  /// (RMPI_YIELD_WHEN_IDLE), in place of the rank's own guess.
  void set_oversubscribed(bool yes) { oversubscribed_ = yes; }

  enum class FinishMode : std::uint8_t {
    wait_for_peers,  // rmpi::finish(): until every linked peer said goodbye too
    at_exit,         // the process is exiting: hand over what was sent (bounded) and go
  };
  /// Flushes and says goodbye to every linked peer (and waits for theirs,
  /// with FinishMode::wait_for_peers); idempotent.
  void finish(FinishMode mode = FinishMode::wait_for_peers);
  bool finished() const { return finished_; }

  /// Next context id this process has not used (comm_split agrees on one).
  std::uint32_t next_context = 1;

  /// Takes back a state whose last RequestPtr was dropped (pooled, or
  /// deleted once finished: that may end this World, so nothing follows it).
  void recycle(RequestState* r) noexcept;

  // FrameSink
  std::byte* frame_begin(int peer, const wire::FrameHeader& h) override;
  void frame_end(int peer) override;
  void link_closed(int peer, bool clean, const std::string& why) override;

 private:
  /// A request from the pool (a new one when it is empty).
  RequestPtr new_request(RequestState::Kind kind, const std::shared_ptr<CommState>& comm);
  /// The one request every blocking send that completed at once returns.
  const RequestPtr& done_send();
  /// A message that arrived before a receive matched it (complete or still
  /// arriving), in arrival order.
  struct Arrival {
    std::uint32_t context = 0;
    int src = 0;
    std::uint16_t tag = 0;
    std::uint64_t type_tag = 0;
    std::size_t size = 0;
    std::unique_ptr<std::byte[]> data;
    bool complete = false;
    RequestPtr claimed;  // a receive bound to it while it arrives
  };
  enum class Into : std::uint8_t { nothing, control, request, arrival };
  struct Peer {
    int rank = -1;
    std::unique_ptr<Link> link;
    bool gone = false;
    bool clean = false;
    std::string why;
    std::string where;
    bool out_armed = false;
    std::uint64_t last_seq = 0;  // of the last frame written to the link
    bool goodbye = false;
    std::uint32_t incarnation = 0;  // of the peer's process this link is (or was) to
    std::unordered_set<std::uint64_t> announced;  // type tags whose names were sent
    std::optional<std::uint64_t> last_announced;    // the last one sent (skips the set)
    // the frame being read
    wire::FrameHeader cur{};
    Into into = Into::nothing;
    RequestPtr target;
    std::list<Arrival>::iterator arrival;
    std::vector<std::byte> control;
  };

  bool complete(RequestState& r);
  template <class Pred>
  void wait_until(Pred pred);
  /// One pass: the spinning links, then epoll_wait(timeout_ms) (a non-blocking
  /// one only every kEventsEvery passes while no socket link is open).
  void progress(int timeout_ms);
  /// progress(0) on every link that spins; true if one delivered a frame,
  /// completed a send or closed.
  bool poll_spinning();
  /// epoll_wait(timeout_ms) and progress(events) of the links it names;
  /// true as for poll_spinning.
  bool poll_events(int timeout_ms);
  /// prepare_to_block() on every link: the epoll timeout to use (0 when a
  /// link has data already, 1 ms with a link that has no fd, else -1).
  int prepare_to_block();
  /// The doorbell to sleep on when nothing but shared memory can bring news:
  /// no socket link open, every live peer linked by shared memory or able to
  /// link only through it (a new link rings the doorbell too). Null otherwise
  /// (a socket, or a peer that may connect to the listener): the engine
  /// sleeps in epoll.
  shm::Doorbell* futex_bell();
  /// One futex sleep (a slice, so that peers' deaths and new links are
  /// looked at in between), then epoll_wait(0) for them.
  void sleep_on(shm::Doorbell& bell);
  /// Whether this node runs more ranks than this process has CPUs (then a
  /// spinning rank yields its CPU early: the rank it waits for may need it),
  /// unless the launcher said (set_oversubscribed: a rank it bound to one
  /// core has one CPU, but the core is its own).
  bool oversubscribed();
  void add_link(int peer, std::unique_ptr<Link> link);
  /// `p` connected again as a new process (a restart): the old link's
  /// operations fail, its queued messages are dropped, the peer starts afresh.
  void restarted(Peer& p, std::uint32_t incarnation);
  void rearm(Peer& p);
  /// The link to `peer`, made on first use; throws like Mesh::connect.
  Link& link_to(int peer, bool for_recv);

  bool matches(const RequestState& r, std::uint32_t context, int src, std::uint16_t tag) const;
  /// Why `r` cannot take a message of (type_tag, size) (empty = it can).
  std::exception_ptr refusal(const RequestState& r, int src, std::uint64_t type_tag, std::size_t size) const;
  void bind_status(RequestState& r, int src, std::uint16_t tag, std::size_t size);
  void deliver(RequestState& r, Arrival& a);
  void fail(RequestState& r, std::exception_ptr e);
  /// `from` began a shrink of `context`: its other receives fail from now on.
  void revoke(std::uint32_t context, int from);
  std::exception_ptr revoked_error(std::uint32_t context) const;
  [[noreturn]] void throw_lost(const Peer& p, std::string_view doing) const;
  /// Before the first RankFailed of an unsupervised job: waits the detection
  /// bound for the launcher to end this process (rmpi/failure.hpp).
  void await_launcher() const;
  std::exception_ptr lost(const Peer& p, std::string_view doing) const;
  std::string where(int peer) const;

  int rank_;
  int size_;
  std::chrono::microseconds spin_;
  std::unique_ptr<Mesh> mesh_;
  Fd epoll_;
  std::vector<Peer> peers_;  // indexed by world rank
  std::vector<Peer*> spinning_;
  RequestPtr done_send_;  // shared by blocking sends complete at once (done_send())
  int socket_links_ = 0;  // open links that only epoll can see move (sockets)
  unsigned polls_ = 0;    // progress() calls, to space out epoll when only rings can move
  std::optional<bool> oversubscribed_;  // computed at the first wait
  unsigned yield_early_waits_ = 0;  // waits left that yield early (a recent one was long)
  std::uint64_t activity_ = 0;  // frames delivered, sends completed, links closed
  std::list<Arrival> unexpected_;
  // Posted receives in posting order; the queue holds a reference on each.
  using PostedQueue = boost::intrusive::list<
      RequestState, boost::intrusive::member_hook<RequestState, boost::intrusive::list_member_hook<>,
                                                   &RequestState::in_posted>>;
  PostedQueue posted_;
  std::vector<RequestState*> free_requests_;  // the pool (at most kPooledRequests)
  // Receives in posted_ by source world rank, kAnyRank ones last; each
  // link is told its count (Link::receives_posted).
  std::vector<std::uint32_t> posted_from_;
  void post(RequestState& r);
  PostedQueue::iterator unpost(PostedQueue::iterator it);
  void publish_posted(int src);
  bool finishing_ = false;
  bool finished_ = false;
  mutable bool awaited_launcher_ = false;
  std::unordered_set<std::uint32_t> revoked_;  // contexts a shrink has begun in
};

}  // namespace rmpi::detail

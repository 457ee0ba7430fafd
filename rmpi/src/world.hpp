#pragma once
// The data plane of one process: its connections to every other rank and the
// progress engine that moves frames over them. Single-threaded: progress
// happens inside send, recv and finish, in the calling thread.
//
// Frames on a rank connection (rmpi/wire.hpp header):
//   data    : source = world rank, channel = context id, flags = tag,
//             type_tag = the message's type tag, payload = message bytes;
//   control : flags = kTypeNameFrame: payload = the C++ name of type_tag, sent
//             once per type and connection before the first message of it,
//             so the receiver can name the sender's type in a TypeError;
//             flags = kHelloFrame: the connection's first frame after the
//             handshake, source = the sender's world rank.
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include <poll.h>

#include <rmpi/comm.hpp>
#include <rmpi/wire.hpp>

#include "net.hpp"

namespace rmpi::detail {

inline constexpr std::uint16_t kTypeNameFrame = 1;
inline constexpr std::uint16_t kHelloFrame = 2;
/// Sends below this many bytes are copied and queued (eager).
inline constexpr std::size_t kEagerLimit = 64 * 1024;

/// One connection to another rank.
struct Peer {
  int rank = -1;
  Fd fd;
  std::string where;  // "127.0.0.1:4242" or "local socket @name"
  bool eof = false;
  std::string failure;  // non-empty once the connection broke

  struct OutFrame {
    wire::HeaderBytes header{};
    std::vector<std::byte> owned;
    const std::byte* data = nullptr;
    std::size_t size = 0;
    std::size_t sent = 0;  // of header + payload
  };
  std::deque<OutFrame> out;
  std::uint64_t queued = 0;  // frames ever queued
  std::uint64_t written = 0;  // frames ever fully written
  std::unordered_set<std::uint64_t> announced;

  std::vector<std::byte> inbuf;
  std::size_t in_begin = 0;
  std::size_t in_end = 0;
  bool in_payload = false;
  wire::FrameHeader cur;
  std::byte* dest = nullptr;
  std::size_t got = 0;
  bool to_posted = false;
  std::unique_ptr<std::byte[]> owned;
};

class World {
 public:
  World(int rank, int size, std::chrono::microseconds spin, std::vector<std::unique_ptr<Peer>> peers);
  ~World();

  int rank() const { return rank_; }
  int size() const { return size_; }

  /// Sends to world rank `dest`. `owned`, when given, holds the payload and
  /// may be moved from (no copy); otherwise `payload` is borrowed.
  void send(std::uint32_t context, int dest, std::uint16_t tag, std::uint64_t type_tag,
            std::string_view type_name, std::span<const std::byte> payload,
            std::vector<std::byte>* owned);

  /// Receives the next message of (context, world rank src, tag).
  /// `my_id` / `src_id` are the communicator ranks used in error messages.
  Received receive(std::uint32_t context, int src, std::uint16_t tag, std::uint64_t type_tag,
                   std::string_view type_name, PostedRecv* posted, int my_id, int src_id);

  /// Flushes, says goodbye to every peer and waits for theirs; idempotent.
  void finish();
  bool finished() const { return finished_; }

  /// Next context id this process has not used (comm_split agrees on one).
  std::uint32_t next_context = 1;

 private:
  struct Key {
    std::uint32_t context;
    std::uint32_t src;
    std::uint16_t tag;
    bool operator==(const Key&) const = default;
  };
  struct KeyHash {
    std::size_t operator()(const Key& k) const {
      return std::hash<std::uint64_t>()((std::uint64_t{k.context} << 32) ^ (std::uint64_t{k.src} << 16) ^
                                        k.tag);
    }
  };
  struct Inbound {
    std::uint64_t type_tag = 0;
    std::unique_ptr<std::byte[]> data;
    std::size_t size = 0;
  };
  struct Posting {
    Key key{};
    PostedRecv* recv = nullptr;  // null = no receive posted
    bool done = false;
  };

  template <class Pred>
  void wait_until(Pred pred);
  void poll_once(int timeout_ms);
  void read_peer(Peer& p);
  void parse(Peer& p);
  void begin_frame(Peer& p, const wire::FrameHeader& h);
  void complete_frame(Peer& p);
  void write_peer(Peer& p);
  void fail_peer(Peer& p, const std::string& why);
  void queue_frame(Peer& p, const wire::FrameHeader& h, std::span<const std::byte> payload,
                   std::vector<std::byte>* owned, bool copy);
  [[noreturn]] void throw_lost(const Peer& p, std::string_view doing) const;

  int rank_;
  int size_;
  std::chrono::microseconds spin_;
  std::vector<std::unique_ptr<Peer>> peers_;  // indexed by world rank; null for self
  std::unordered_map<Key, std::deque<Inbound>, KeyHash> queues_;
  Posting posting_;
  std::vector<pollfd> pollfds_;
  std::vector<Peer*> polled_;
  bool finished_ = false;
};

}  // namespace rmpi::detail

#pragma once
// The router's processes: arbitrary commands a launcher starts on the node
// (SpawnProcess), each in its own container, with stdout/stderr streamed
// back as io frames under flow control (reading pauses while the owner's
// socket is backed up), stdin written from io frames and acknowledged
// (StdinWritten), stops and continues reported (ProcessRunStateChanged),
// and ProcessExited sent only after all output.
#include <sys/types.h>

#include <cstddef>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <utility>
#include <vector>

#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/steady_timer.hpp>

#include "process.hpp"
#include "process_containment.hpp"
#include "protocol.hpp"
#include "router.hpp"

namespace rmpi::places::detail {

struct RouterPeer;

class RouterProcesses {
 public:
  explicit RouterProcesses(Router::Impl& router) : router_(router) {}

  /// SpawnProcess from `owner`: ProcessStarted or ProcessFailed.
  void spawn(RouterPeer& owner, const protocol::SpawnProcess& request);
  /// An io frame from the owner: stdin bytes of process `id` (empty = close its stdin).
  void stdin_from_owner(std::uint64_t owner, std::uint32_t id, std::vector<std::byte> data);
  /// KillProcess from `owner`: SIGKILL to process `id`'s container (if it still runs).
  void kill(std::uint64_t owner, std::uint32_t id);
  /// Pids of the live processes the peer launched.
  std::vector<pid_t> owned_by(std::uint64_t owner) const;
  /// Pids of processes not yet reaped.
  void append_live_pids(std::vector<pid_t>& pids) const;
  bool alive(pid_t pid) const;
  /// Signals the container of the process `pid` (if it is one of ours).
  void signal_container(pid_t pid, int sig);

 private:
  using Key = std::pair<std::uint64_t, std::uint32_t>;  // (owner peer, process id)
  struct Stream {
    std::unique_ptr<boost::asio::posix::stream_descriptor> fd;
    bool eof = false;
    bool paused = false;  // flow control: waiting for the owner's queue to drain
  };
  struct Process {
    std::uint64_t owner = 0;
    std::uint32_t id = 0;
    pid_t pid = -1;
    Stream out, err;
    std::unique_ptr<boost::asio::posix::stream_descriptor> in;
    std::deque<std::vector<std::byte>> stdin_queue;
    bool stdin_writing = false;
    bool stdin_close_pending = false;
    bool reaped = false;
    ExitStatus status;
    Container container;
    std::unique_ptr<boost::asio::steady_timer> linger;
    bool output_cut = false;  // pipes given up after the linger
  };

  void read_output(Key key, protocol::IoStream which);
  void arm_output_linger(const std::shared_ptr<Process>& proc);
  void write_stdin(const std::shared_ptr<Process>& proc);
  void on_reaped(Key key, ExitStatus status);
  void maybe_finish(Key key);

  Router::Impl& router_;
  std::map<Key, std::shared_ptr<Process>> processes_;
};

}  // namespace rmpi::places::detail

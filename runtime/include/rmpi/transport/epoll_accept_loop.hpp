#pragma once
/// Drives a transport::Acceptor (acceptor.hpp) from one epoll loop on its
/// own thread, no thread per connection: accept4 on each listening socket,
/// reads of exactly want() bytes, the handshake's replies, the deadlines,
/// the held-back log lines; out of descriptors, it stops accepting for
/// 100 ms instead of spinning. An authenticated connection goes to
/// `on_ready`, on the loop's thread, with its non-blocking descriptor (which
/// the callee then owns).
#include <functional>
#include <thread>
#include <vector>

#include <rmpi/transport/acceptor.hpp>

namespace rmpi::transport {

class EpollAcceptLoop {
 public:
  /// A listening socket (the loop owns it from now on); `local`: a Unix socket.
  struct Listening {
    int fd = -1;
    bool local = false;
  };
  using OnReady = std::function<void(int fd, bool local, AcceptedPeer peer)>;

  EpollAcceptLoop(std::vector<Listening> listening, AcceptorOptions options, Acceptor::LogSink log,
                  OnReady on_ready);
  ~EpollAcceptLoop();
  EpollAcceptLoop(const EpollAcceptLoop&) = delete;
  EpollAcceptLoop& operator=(const EpollAcceptLoop&) = delete;

  /// Stops the thread, closes the listening and pending sockets, writes the
  /// held-back log count (idempotent).
  void stop();

  /// From on_ready: the owner refuses an authenticated peer (a bad hello);
  /// logged and counted like the others.
  void report(std::string_view address, std::string_view what) { acceptor_.report(address, what); }
  std::size_t rejected() const { return acceptor_.rejected(); }
  std::size_t unauthenticated() const { return acceptor_.unauthenticated(); }

 private:
  struct Pending {
    int fd = -1;
    bool local = false;
  };
  void loop();
  void accept_from(const Listening& l);
  void on_readable(Acceptor::Id id);
  void close_pending(Acceptor::Id id);
  void watch_listeners(bool on);

  std::vector<Listening> listening_;
  Acceptor acceptor_;
  OnReady on_ready_;
  int epoll_ = -1;
  int stop_ = -1;
  std::map<Acceptor::Id, Pending> pending_;  // loop thread only
  bool paused_ = false;
  Clock::time_point paused_until_{};
  std::thread thread_;
};

}  // namespace rmpi::transport

#pragma once
/// Drives a transport::Acceptor (acceptor.hpp) from Asio, on one executor
/// (a strand, or an io_context run by one thread), no thread per
/// connection: an accept chain per listening socket, reads of exactly
/// want() bytes, the handshake's replies, one timer for the nearest
/// deadline or held-back log line; out of descriptors, it stops accepting
/// for 100 ms instead of spinning. An authenticated connection goes to
/// `on_ready`, on the executor, with its socket.
#include <array>
#include <functional>
#include <map>
#include <memory>
#include <vector>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>

#include <rmpi/transport/acceptor.hpp>

namespace rmpi::transport {

class AsioAcceptLoop : public std::enable_shared_from_this<AsioAcceptLoop> {
 public:
  using Socket = boost::asio::ip::tcp::socket;
  using OnReady = std::function<void(Socket socket, AcceptedPeer peer)>;

  static std::shared_ptr<AsioAcceptLoop> create(boost::asio::any_io_executor executor, AcceptorOptions options,
                                                Acceptor::LogSink log, OnReady on_ready);

  /// Accepts on `acceptor` (listening, on this loop's executor) until stop().
  /// Call on the executor.
  void listen(boost::asio::ip::tcp::acceptor acceptor);
  /// Closes the listening and pending sockets, writes the held-back log
  /// count. Call on the executor.
  void stop();

  /// From on_ready: the owner refuses an authenticated peer; logged, counted.
  void report(std::string_view address, std::string_view what) { acceptor_.report(address, what); }
  std::size_t rejected() const { return acceptor_.rejected(); }
  std::size_t unauthenticated() const { return acceptor_.unauthenticated(); }

 private:
  struct Pending {
    explicit Pending(Socket s) : socket(std::move(s)) {}
    Socket socket;
    std::array<std::byte, 4096> in{};
    std::vector<std::byte> out;
  };
  AsioAcceptLoop(boost::asio::any_io_executor executor, AcceptorOptions options, Acceptor::LogSink log,
                 OnReady on_ready);
  void accept(std::size_t index);
  void admit(Socket socket);
  void read(Acceptor::Id id);
  void on_read(Acceptor::Id id, const boost::system::error_code& ec, std::size_t n);
  void arm_timer();

  boost::asio::any_io_executor executor_;
  Acceptor acceptor_;
  OnReady on_ready_;
  std::vector<std::unique_ptr<boost::asio::ip::tcp::acceptor>> listening_;
  std::map<Acceptor::Id, std::unique_ptr<Pending>> pending_;
  boost::asio::steady_timer timer_;
  std::optional<Clock::time_point> timer_at_;
  boost::asio::steady_timer pause_;
  bool stopped_ = false;
};

}  // namespace rmpi::transport

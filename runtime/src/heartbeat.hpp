#pragma once
// Death detection of router links: each end sends a Heartbeat control
// message every bound/4 and closes the link when nothing at all arrived for
// `bound` (a peer killed, SIGSTOPped, or cut off without a FIN). The bound
// is RMPI_HEARTBEAT_MS (default 5000 ms; 0 turns detection off).
#include <atomic>
#include <chrono>
#include <memory>
#include <string>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/steady_timer.hpp>

#include "framed_connection.hpp"

namespace rmpi::places::detail {

/// The environment variable of the detection bound, in milliseconds.
inline constexpr const char* kHeartbeatEnv = "RMPI_HEARTBEAT_MS";
/// The detection bound: RMPI_HEARTBEAT_MS, else 5 s; zero = off. Throws
/// rmpi::ConfigError naming the variable and its value when it is not a number.
std::chrono::milliseconds heartbeat_bound();

/// Watches one link. Create it after the connection is up; heard() on every
/// frame received. On silence it closes the connection with a reason
/// naming the peer and the bound, so the link's close handler reports it.
class LinkHeartbeat : public std::enable_shared_from_this<LinkHeartbeat> {
 public:
  /// `watch_at_once`: false = only once the peer sent a Heartbeat itself
  /// (peers that do not speak it are left alone).
  static std::shared_ptr<LinkHeartbeat> start(boost::asio::any_io_executor executor,
                                              std::shared_ptr<FramedConnection> conn,
                                              std::string peer, std::chrono::milliseconds bound,
                                              bool watch_at_once);
  /// A frame arrived (`is_heartbeat`: it was a Heartbeat).
  void heard(bool is_heartbeat = false);
  /// Stops the timer (the link is closing anyway).
  void stop();

 private:
  LinkHeartbeat(boost::asio::any_io_executor executor, std::shared_ptr<FramedConnection> conn,
                std::string peer, std::chrono::milliseconds bound, bool watch_at_once);
  void tick();

  boost::asio::steady_timer timer_;
  std::weak_ptr<FramedConnection> conn_;
  std::string peer_;
  std::chrono::milliseconds bound_;
  std::atomic<bool> watching_;
  std::atomic<std::chrono::steady_clock::rep> last_heard_;
  std::atomic<bool> stopped_{false};
};

}  // namespace rmpi::places::detail

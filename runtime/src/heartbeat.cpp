#include "heartbeat.hpp"

#include <cstdlib>
#include <string>

#include <boost/asio/post.hpp>

#include <rmpi/error.hpp>
#include <rmpi/quoted_input.hpp>

namespace rmpi::places::detail {

namespace asio = boost::asio;
using Clock = std::chrono::steady_clock;

std::chrono::milliseconds heartbeat_bound() {
  const char* v = std::getenv(kHeartbeatEnv);
  if (!v || !*v) return std::chrono::milliseconds(5000);
  char* end = nullptr;
  const long long ms = std::strtoll(v, &end, 10);
  if (*end != '\0' || ms < 0)
    throw ConfigError(std::string(kHeartbeatEnv) + "=" + quoted_input(v) +
                      " is not a number of milliseconds (>= 0)");
  return std::chrono::milliseconds(ms);
}

std::shared_ptr<LinkHeartbeat> LinkHeartbeat::start(asio::any_io_executor executor,
                                                    std::shared_ptr<FramedConnection> conn,
                                                    std::string peer, std::chrono::milliseconds bound,
                                                    bool watch_at_once) {
  std::shared_ptr<LinkHeartbeat> hb(
      new LinkHeartbeat(std::move(executor), std::move(conn), std::move(peer), bound, watch_at_once));
  if (bound.count() > 0) asio::post(hb->timer_.get_executor(), [hb] { hb->tick(); });
  return hb;
}

LinkHeartbeat::LinkHeartbeat(asio::any_io_executor executor, std::shared_ptr<FramedConnection> conn,
                             std::string peer, std::chrono::milliseconds bound, bool watch_at_once)
    : timer_(std::move(executor)),
      conn_(conn),
      peer_(std::move(peer)),
      bound_(bound),
      watching_(watch_at_once),
      last_heard_(Clock::now().time_since_epoch().count()) {}

void LinkHeartbeat::heard(bool is_heartbeat) {
  last_heard_ = Clock::now().time_since_epoch().count();
  if (is_heartbeat) watching_ = true;
}

void LinkHeartbeat::stop() {
  stopped_ = true;
  asio::post(timer_.get_executor(), [self = shared_from_this()] { self->timer_.cancel(); });
}

void LinkHeartbeat::tick() {
  auto conn = conn_.lock();
  if (stopped_ || !conn || !conn->is_open()) return;
  const auto silent = Clock::now() - Clock::time_point(Clock::duration(last_heard_.load()));
  if (watching_ && silent >= bound_) {
    conn->close(peer_ + " sent nothing for " + std::to_string(bound_.count()) +
                    " ms (killed, stopped or cut off; " + kHeartbeatEnv + ")",
                CloseKind::silent);
    return;
  }
  conn->send_control(protocol::Heartbeat{});
  timer_.expires_after(bound_ / 4);
  timer_.async_wait([self = shared_from_this()](const boost::system::error_code& ec) {
    if (!ec) self->tick();
  });
}

}  // namespace rmpi::places::detail

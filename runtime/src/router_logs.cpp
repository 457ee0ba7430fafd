#include "router_logs.hpp"

#include <cstdio>
#include <ctime>

#include "client_endpoints.hpp"
#include "router_impl.hpp"

namespace rmpi::places::detail {

std::string format_log_line(const protocol::Log& log) {
  const std::int64_t us = log.unix_time_us ? log.unix_time_us : unix_time_us();
  const std::time_t secs = static_cast<std::time_t>(us / 1000000);
  std::tm tm{};
  ::localtime_r(&secs, &tm);
  char buf[32];
  std::snprintf(buf, sizeof buf, "[%02d:%02d:%02d.%03d]", tm.tm_hour, tm.tm_min, tm.tm_sec,
                static_cast<int>((us / 1000) % 1000));
  return std::string(buf) + " " + log.origin + " " + log.severity + ": " + log.text;
}

void RouterLogs::route(const protocol::Log& log, std::uint64_t from_peer) {
  const auto parent = router_.peers.parent();
  if (parent && *parent != from_peer) {
    if (auto p = router_.peers.find(*parent)) {
      p->conn->send_control(log);
      return;
    }
  }
  router_.options.on_log(log);
}

void RouterLogs::local(std::string severity, std::string text) {
  route(protocol::Log{std::move(severity), "NODE " + router_.label(), std::move(text),
                      unix_time_us()},
        0);
}

}  // namespace rmpi::places::detail

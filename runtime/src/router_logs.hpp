#pragma once
// The router's log routing: every line goes to the parent, or is printed
// (on_log) when this router is the root.
#include <cstdint>
#include <string>

#include "protocol.hpp"
#include "router.hpp"

namespace rmpi::places::detail {

class RouterLogs {
 public:
  explicit RouterLogs(Router::Impl& router) : router_(router) {}
  /// A line from peer `from_peer` (0 = from a place or this node): forwarded
  /// to the parent unless it came from there, else given to on_log.
  void route(const protocol::Log& log, std::uint64_t from_peer);
  /// A line of this node ("NODE host:port").
  void local(std::string severity, std::string text);

 private:
  Router::Impl& router_;
};

}  // namespace rmpi::places::detail

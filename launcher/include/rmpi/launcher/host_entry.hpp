#pragma once
/// One host a job may run on, as read from a hostfile or a -H list.
#include <optional>
#include <string>

namespace rmpi::launcher {

/// A host entry: the string the user wrote (hosts are told apart by it, never by resolving it),
/// its parts and its slot counts.
struct HostEntry {
  /// The entry without its slot count: `user@host` or `host` ("alice@node7", "node7"); MPICH's
  /// `node7 user=alice` is "alice@node7". The key that identifies the host.
  std::string name;
  /// The user to log in as (`user@host` or MPICH `user=`); empty = the default SSH user.
  std::string user;
  /// The host part without the user ("node7", "127.0.0.1", "::1").
  std::string host;
  /// How many ranks the host runs before it counts as oversubscribed (at least 1).
  int slots = 1;
  /// Hard limit on ranks, even with --oversubscribe; empty = no limit.
  std::optional<int> max_slots;
  /// Where the entry came from: "file:line" (first line naming the host) or "-H".
  std::string origin;

  friend bool operator==(const HostEntry&, const HostEntry&) = default;
};

}  // namespace rmpi::launcher

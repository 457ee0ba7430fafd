#pragma once
/// One host a job may run on, as read from a hostfile or a -H list.
#include <optional>
#include <string>

namespace rmpi::launcher {

/// Where a host entry's slot count comes from.
enum class SlotSource {
  /// Written by the user: `slots=N`, MPICH's `host:N` (a bare line of an MPICH-syntax hostfile
  /// is 1, as in MPICH), a -H item (1 per occurrence, as in Open MPI).
  given,
  /// Not written (an Open MPI hostfile line without slots=, the local host when no hosts are
  /// given): the host's cores, hwthreads with --use-hwthread-cpus, as its node reports them.
  topology,
};

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
  /// How many ranks the host runs before it counts as oversubscribed (at least 1). With
  /// SlotSource::topology, 1 until fill_topology_slots (host_slots.hpp) sets it.
  int slots = 1;
  SlotSource slot_source = SlotSource::given;
  /// Hard limit on ranks, even with --oversubscribe; empty = no limit.
  std::optional<int> max_slots;
  /// Where the entry came from: "file:line" (first line naming the host) or "-H".
  std::string origin;

  friend bool operator==(const HostEntry&, const HostEntry&) = default;
};

}  // namespace rmpi::launcher

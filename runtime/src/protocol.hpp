#pragma once
// The control-plane protocol: one struct per control message, carried in a
// FrameKind::control frame as a Cereal archive of ControlMessage (the
// variant index is the message kind, so an unhandled kind fails to compile
// in std::visit). Place data travels in FrameKind::data frames (channel
// = sub-channel id, type_tag + payload = the encoded Message); process I/O in
// FrameKind::io frames (channel = process id, flags = IoStream, empty payload
// = end of stream).
//
// Sub-channel ids are chosen by the side that opens the sub-channel and are
// unique per connection. On a node↔place socket, channel 0 is the place's
// own channel; channels of named connections are chosen by the node.
#include <array>
#include <cstdint>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include <cereal/types/string.hpp>
#include <cereal/types/utility.hpp>
#include <cereal/types/variant.hpp>
#include <cereal/types/vector.hpp>

namespace rmpi::places::protocol {

using Env = std::vector<std::pair<std::string, std::string>>;

enum class IoStream : std::uint16_t { stdin_ = 0, stdout_ = 1, stderr_ = 2 };

/// Who a connector is. The first spawner to say Hello is the node's parent.
enum class Role : std::uint8_t { client = 0, spawner = 1 };

/// Connector → router, first control message after authentication.
struct Hello {
  Role role = Role::client;
  template <class A> void serialize(A& a) { a(role); }
};
/// Router → connector: who answered and the address peers should use for it.
struct Welcome {
  std::string host;             // the address the connector reached the node on
  std::uint16_t port = 0;       // the router's listen port
  std::string host_facts;       // to spawners only: the node's description of its host (opaque)
  template <class A> void serialize(A& a) { a(host, port, host_facts); }
};

/// Spawner → node: start a place (a process running a registered function).
struct SpawnPlace {
  std::uint32_t channel = 0;  // sub-channel for the new place's main channel
  std::string module;         // executable path
  std::string function;       // registered name
  bool thunk = false;         // function creates and returns the place
  bool thread = false;        // run on a thread of a place host (supervise_thread_at)
  std::string name;           // named place, or empty
  template <class A> void serialize(A& a) { a(channel, module, function, thunk, thread, name); }
};
/// Node → spawner: the place runs (its function was found).
struct PlaceStarted {
  std::uint32_t channel = 0;
  std::int32_t pid = 0;
  template <class A> void serialize(A& a) { a(channel, pid); }
};
/// Why a spawn or a connect failed, for the spawner to pick the error type.
enum class Failure : std::uint8_t {
  other = 0,        // SpawnError
  no_function = 1,  // the module registers no such place function (NameError)
  no_name = 2,      // no place of that name on the node (NameError)
};

/// Node → spawner: a spawn or connect on `channel` failed; `reason` names what and where.
struct ChannelFailed {
  std::uint32_t channel = 0;
  std::string reason;
  Failure failure = Failure::other;
  template <class A> void serialize(A& a) { a(channel, reason, failure); }
};
/// Node → spawner: the place behind `channel` ended. status: exit code, or 128+signal.
struct PlaceExited {
  std::uint32_t channel = 0;
  std::int32_t status = 0;
  std::string description;  // "exited with status 3", "killed by signal 9 (SIGKILL)"
  template <class A> void serialize(A& a) { a(channel, status, description); }
};
/// Spawner → node: open `channel` to the named place `name`.
struct ConnectNamed {
  std::uint32_t channel = 0;
  std::string name;
  template <class A> void serialize(A& a) { a(channel, name); }
};
/// Node → spawner: `channel` is connected.
struct Connected {
  std::uint32_t channel = 0;
  template <class A> void serialize(A& a) { a(channel); }
};
/// Either direction: the sub-channel is closed (its peer is gone).
struct CloseChannel {
  std::uint32_t channel = 0;
  template <class A> void serialize(A& a) { a(channel); }
};
/// Node → place: a new connection on `channel` was accepted for this named place.
struct NewConnection {
  std::uint32_t channel = 0;
  template <class A> void serialize(A& a) { a(channel); }
};
/// Place → node (first message on its socket): ready, or the function was not found.
struct PlaceReady {
  bool ok = true;
  std::string reason;
  Failure failure = Failure::other;
  template <class A> void serialize(A& a) { a(ok, reason, failure); }
};
/// Spawner → node: exit now (node_send_exit): kill its places and processes, exit `code`.
struct Exit {
  std::int32_t code = 0;
  template <class A> void serialize(A& a) { a(code); }
};
/// Any → router → root: a log line. Routers forward toward the root, adding nothing;
/// the root prints "[time] <origin> <severity>: <text>".
struct Log {
  std::string severity;  // fatal error warning info debug
  std::string origin;    // "PLACE host:port"
  std::string text;
  std::int64_t unix_time_us = 0;
  template <class A> void serialize(A& a) { a(severity, origin, text, unix_time_us); }
};

/// Launcher → node: start an arbitrary process (e.g. a launcher's rank). Its stdout/stderr come
/// back as io frames on channel `id`; stdin too if forward_stdin.
struct SpawnProcess {
  std::uint32_t id = 0;
  std::vector<std::string> argv;
  Env env;               // added to the node's environment
  std::string cwd;       // must exist on the node's host
  bool forward_stdin = false;
  std::vector<std::uint32_t> cpus;  // OS indexes of the CPUs it may run on; empty = unbound
  template <class A> void serialize(A& a) { a(id, argv, env, cwd, forward_stdin, cpus); }
};
struct ProcessStarted {
  std::uint32_t id = 0;
  std::int32_t pid = 0;
  template <class A> void serialize(A& a) { a(id, pid); }
};
/// The process could not start (exec failed, cwd missing): reason names host and path.
struct ProcessFailed {
  std::uint32_t id = 0;
  std::string reason;
  template <class A> void serialize(A& a) { a(id, reason); }
};
/// The process ended; sent only after all its output was sent. status: exit code or 128+signal.
struct ProcessExited {
  std::uint32_t id = 0;
  std::int32_t status = 0;
  std::int32_t signal = 0;  // the terminating signal, 0 if it exited
  template <class A> void serialize(A& a) { a(id, status, signal); }
};
/// Node → launcher: process `id` was stopped (by `signal`: 19 for SIGSTOP)
/// or continued (signal 0). The node only reports it; what a stop means is
/// the launcher's to decide.
enum class ProcessRunState : std::uint8_t { stopped = 0, continued = 1 };
struct ProcessRunStateChanged {
  std::uint32_t id = 0;
  ProcessRunState state = ProcessRunState::stopped;
  std::int32_t signal = 0;
  template <class A> void serialize(A& a) { a(id, state, signal); }
};
/// Launcher → node: SIGKILL process `id` and all it started (e.g. a rank
/// stopped for longer than the detection bound). Nothing if it already ended.
struct KillProcess {
  std::uint32_t id = 0;
  template <class A> void serialize(A& a) { a(id); }
};
/// Node → spawner: the place behind `channel` was stopped (by `signal`: 19
/// for SIGSTOP) or continued (signal 0), as waitpid reports it. As for a
/// process, the node only reports it; what a stop means is the spawner's.
struct PlaceRunStateChanged {
  std::uint32_t channel = 0;
  ProcessRunState state = ProcessRunState::stopped;
  std::int32_t signal = 0;
  template <class A> void serialize(A& a) { a(channel, state, signal); }
};
/// Spawner → node: SIGKILL the place it spawned on `channel` and all it
/// started (a thread place, which cannot be killed, has its link closed).
/// Its end comes back as PlaceExited. Nothing if it already ended.
struct KillPlace {
  std::uint32_t channel = 0;
  template <class A> void serialize(A& a) { a(channel); }
};
/// Launcher → node: signal all processes (and places) it started: SIGTERM, then after
/// `grace_ms` SIGKILL for what is still alive.
struct Terminate {
  std::int32_t grace_ms = 3000;
  template <class A> void serialize(A& a) { a(grace_ms); }
};

/// Node → launcher: `bytes` more of process `id`'s stdin were written to it
/// (or dropped because it closed its stdin): the launcher's send window
/// reopens by as much (stdin flow control, bounded memory on both sides).
struct StdinWritten {
  std::uint32_t id = 0;
  std::uint64_t bytes = 0;
  template <class A> void serialize(A& a) { a(id, bytes); }
};

/// Either direction on a router link, every heartbeat period: "I am alive".
/// A peer that sends one is watched: silent for the detection bound, its
/// link is closed (heartbeat.hpp).
struct Heartbeat {
  template <class A> void serialize(A&) {}
};

using ControlMessage =
    std::variant<Hello, Welcome, SpawnPlace, PlaceStarted, ChannelFailed, PlaceExited, ConnectNamed,
                 Connected, CloseChannel, NewConnection, PlaceReady, Exit, Log, SpawnProcess,
                 ProcessStarted, ProcessFailed, ProcessExited, Terminate, StdinWritten, Heartbeat,
                 ProcessRunStateChanged, KillProcess, PlaceRunStateChanged, KillPlace>;

/// The name of each message kind, in ControlMessage's order (for messages to users).
inline constexpr std::array<const char*, std::variant_size_v<ControlMessage>> kMessageNames = {
    "Hello",         "Welcome",       "SpawnPlace",    "PlaceStarted", "ChannelFailed",
    "PlaceExited",   "ConnectNamed",  "Connected",     "CloseChannel", "NewConnection",
    "PlaceReady",    "Exit",          "Log",           "SpawnProcess", "ProcessStarted",
    "ProcessFailed", "ProcessExited", "Terminate",     "StdinWritten",
    "Heartbeat",     "ProcessRunStateChanged", "KillProcess", "PlaceRunStateChanged",
    "KillPlace"};

/// "SpawnPlace" for a SpawnPlace.
template <class M>
const char* message_name(const M&) {
  return kMessageNames[ControlMessage(std::in_place_type<M>).index()];
}

}  // namespace rmpi::places::protocol

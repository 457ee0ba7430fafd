#pragma once
/// A message router on a thread of this process (start-message-router/thread)
/// and the requests sent to it over its channel (mr-spawn-remote-node,
/// mr-supervise-named-dynamic-place-at, mr-connect-to,
/// send-new-place-channel-to-named-dest). Requests are Value lists; the
/// router answers each on the same channel with (list 'ok ...) or
/// (list 'error "reason").
#include <cstdint>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <rmpi/channel.hpp>
#include <rmpi/remote_node.hpp>

namespace rmpi::places {

/// A node address: (host, port) — the reference's dest lists. A destination
/// the router did not spawn is connected to (connect_to_node) at first use.
struct Destination {
  std::string host{};
  std::uint16_t port = 0;
};

/// Starts a router thread that knows `nodes` (and, if listen_port is not
/// negative, a Node listening on it; 0 = any free port). Returns the thread
/// (detached-safe: it ends on (list 'stop)) and the channel to the router.
std::pair<std::thread, PlaceChannel> start_message_router_thread(int listen_port,
                                                                 std::vector<RemoteNode> nodes = {});

/// Asks the router to spawn a node on `host`; answer: (list 'ok host port).
/// Returns the new node's address (its port is the one it picked when
/// listen_port is 0), to name it in later requests.
Destination mr_spawn_remote_node(PlaceChannel& mrch, const std::string& host, int listen_port = 0);
/// Asks the router to start the named place `name` on the node at `dest`
/// from (path, func); answer: (list 'ok name).
void mr_supervise_named_dynamic_place_at(PlaceChannel& mrch, const Destination& dest,
                                         const std::string& name, const std::string& path,
                                         const std::string& func);
/// Asks the router to connect to the named place `name` at `dest`; the router
/// keeps the connection; answer: (list 'ok name).
void mr_connect_to(PlaceChannel& mrch, const Destination& dest, const std::string& name);
/// A new channel to the named place `name` at `dest`, made by the router.
/// Waits for the router's answer; throws rmpi::NameError / rmpi::Error with its reason.
PlaceChannel send_new_place_channel_to_named_dest(PlaceChannel& mrch, const Destination& dest,
                                                  const std::string& name);

}  // namespace rmpi::places

// start_message_router_thread and the mr_* requests. The router thread reads
// requests (Value lists) from its channel and answers each on it:
//   (spawn-node host port)                        → (ok host port)
//   (supervise-named host port name path func)    → (ok name)
//   (connect-to host port name)                   → (ok name)
//   (new-channel host port name token)            → (ok token)   channel handed over in-process
//   (stop)                                        → (ok)         the thread ends
// and (error "reason" kind) when a request fails.
#include <rmpi/message_router.hpp>

#include <map>
#include <memory>
#include <mutex>
#include <optional>

#include <rmpi/error.hpp>
#include <rmpi/node.hpp>

#include "client_endpoints.hpp"
#include "remote_impl.hpp"

namespace rmpi::places {

namespace {

// Channels made by the router thread for send_new_place_channel_to_named_dest, by token.
std::mutex handoff_mu;
std::map<std::int64_t, PlaceChannel>& handoff() {
  static auto* m = new std::map<std::int64_t, PlaceChannel>();
  return *m;
}
std::atomic<std::int64_t> next_token{1};

class RouterThread {
 public:
  RouterThread(PlaceChannel ch, std::vector<RemoteNode> nodes, int listen_port)
      : ch_(std::move(ch)), nodes_(std::move(nodes)), listen_port_(listen_port) {}

  void run() {
    if (listen_port_ >= 0) {
      node_.emplace(listen_port_);
      node_->listen();
    }
    for (;;) {
      Value req;
      try {
        req = ch_.get<Value>();
      } catch (const ChannelClosed&) {
        return;
      }
      Value reply;
      try {
        if (!req.is_list() || req.as_list().empty() || !req[0].is_symbol())
          throw ConfigError("message router: a request is a list headed by a symbol, not " +
                            req.to_string());
        const std::string& kind = req[0].as_symbol().name;
        if (kind == "stop") {
          ch_.put(list(sym("ok")));
          return;
        }
        reply = handle(kind, req);
      } catch (const NameError& e) {
        reply = list(sym("error"), std::string(e.what()), sym("name"));
      } catch (const std::exception& e) {
        reply = list(sym("error"), std::string(e.what()), sym("other"));
      }
      ch_.put(reply);
    }
  }

 private:
  /// The node at host:port: one known to the router, else a new connection to it.
  RemoteNode& find(const Value& host, const Value& port) {
    for (auto& n : nodes_)
      if (n.port() == port.as_int() && (n.host() == host.as_string() || n.impl()->address == host.as_string()))
        return n;
    if (!port_no(port.as_int()) || port.as_int() == 0)
      throw ConfigError("message router: " + std::to_string(port.as_int()) +
                        " is not a node's port (destination " + host.as_string() + ")");
    nodes_.push_back(connect_to_node(host.as_string(), static_cast<std::uint16_t>(port.as_int())));
    return nodes_.back();
  }

  Value handle(const std::string& kind, const Value& r) {
    if (kind == "spawn-node") {
      NodeOptions o;
      o.listen_port = static_cast<int>(r[2].as_int());
      nodes_.push_back(spawn_remote_node(r[1].as_string(), o));
      return list(sym("ok"), nodes_.back().host(), static_cast<std::int64_t>(nodes_.back().port()));
    }
    if (kind == "supervise-named") {
      PlaceOptions o;
      o.named = r[3].as_string();
      kept_.push_back(find(r[1], r[2]).launch_place({r[4].as_string(), r[5].as_string(), false}, o));
      return list(sym("ok"), r[3].as_string());
    }
    if (kind == "connect-to") {
      kept_.push_back(find(r[1], r[2]).remote_connect(r[3].as_string()));
      return list(sym("ok"), r[3].as_string());
    }
    if (kind == "new-channel") {
      RemoteConnection c = find(r[1], r[2]).remote_connect(r[3].as_string());
      auto [mine, theirs] = detail::make_queue_pair("channel to named place '" + r[3].as_string() + "'");
      detail::bridge(c.channel(), PlaceChannel(mine));
      std::lock_guard lock(handoff_mu);
      handoff()[r[4].as_int()] = PlaceChannel(theirs);
      return list(sym("ok"), r[4].as_int());
    }
    throw ConfigError("message router: unknown request " + r.to_string());
  }

  PlaceChannel ch_;
  std::vector<RemoteNode> nodes_;
  int listen_port_;
  std::optional<Node> node_;
  std::vector<RemoteConnection> kept_;
};

Value ask(PlaceChannel& mrch, const Value& request) {
  mrch.put(request);
  Value reply = mrch.get<Value>();
  if (reply.is_list() && !reply.as_list().empty() && reply[0].is_symbol("error")) {
    const std::string& why = reply[1].as_string();
    if (reply.size() > 2 && reply[2].is_symbol("name")) throw NameError(why);
    throw Error(why);
  }
  return reply;
}

}  // namespace

std::pair<std::thread, PlaceChannel> start_message_router_thread(int listen_port,
                                                                 std::vector<RemoteNode> nodes) {
  auto [mine, theirs] = make_place_channel_pair("message router channel");
  auto router = std::make_shared<RouterThread>(theirs, std::move(nodes), listen_port);
  std::thread t([router] { router->run(); });
  return {std::move(t), mine};
}

Destination mr_spawn_remote_node(PlaceChannel& mrch, const std::string& host, int listen_port) {
  const Value reply = ask(mrch, list(sym("spawn-node"), host, listen_port));
  return {reply[1].as_string(), static_cast<std::uint16_t>(reply[2].as_int())};
}

void mr_supervise_named_dynamic_place_at(PlaceChannel& mrch, const Destination& dest,
                                         const std::string& name, const std::string& path,
                                         const std::string& func) {
  ask(mrch, list(sym("supervise-named"), dest.host, static_cast<std::int64_t>(dest.port), name, path, func));
}

void mr_connect_to(PlaceChannel& mrch, const Destination& dest, const std::string& name) {
  ask(mrch, list(sym("connect-to"), dest.host, static_cast<std::int64_t>(dest.port), name));
}

PlaceChannel send_new_place_channel_to_named_dest(PlaceChannel& mrch, const Destination& dest,
                                                  const std::string& name) {
  const std::int64_t token = next_token++;
  ask(mrch, list(sym("new-channel"), dest.host, static_cast<std::int64_t>(dest.port), name, token));
  std::lock_guard lock(handoff_mu);
  auto it = handoff().find(token);
  if (it == handoff().end()) throw Error("message router: no channel for request " + std::to_string(token));
  PlaceChannel ch = std::move(it->second);
  handoff().erase(it);
  return ch;
}

}  // namespace rmpi::places

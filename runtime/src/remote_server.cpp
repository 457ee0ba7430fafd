#include <rmpi/remote_server.hpp>

#include <atomic>
#include <cstring>
#include <map>
#include <memory>
#include <mutex>

#include <rmpi/channel_set.hpp>

namespace rmpi::places {

void log_to_parent(std::string_view msg, Severity severity) { log_message(severity, msg); }

namespace detail {

namespace {

std::atomic<std::uint64_t> next_call{1};

/// The lock that serializes rpcs on one channel (one per endpoint, dropped
/// with the endpoint), so that concurrent callers each get their own reply.
std::shared_ptr<std::mutex> call_lock(const PlaceChannel& ch) {
  struct Entry {
    std::weak_ptr<ChannelEndpoint> endpoint;
    std::shared_ptr<std::mutex> lock;
  };
  static std::mutex mu;
  static auto* locks = new std::map<const ChannelEndpoint*, Entry>();  // leaked: used until exit
  static std::size_t prune_at = 64;
  const auto& ep = ch.endpoint_ptr();
  std::lock_guard guard(mu);
  auto it = locks->find(ep.get());
  if (it != locks->end() && !it->second.endpoint.expired()) return it->second.lock;
  if (locks->size() >= prune_at) {
    std::erase_if(*locks, [](const auto& kv) { return kv.second.endpoint.expired(); });
    prune_at = 2 * locks->size() + 64;
  }
  auto lock = std::make_shared<std::mutex>();
  (*locks)[ep.get()] = Entry{ep, lock};
  return lock;
}

Message reply_message(std::uint64_t call, std::uint64_t status, std::uint64_t tag,
                      std::span<const std::byte> body) {
  const ReplyHeader h{call, status, tag};
  Message m;
  m.type_tag = type_tag<ReplyHeader>();
  m.payload.resize(sizeof h + body.size());
  std::memcpy(m.payload.data(), &h, sizeof h);
  if (!body.empty()) std::memcpy(m.payload.data() + sizeof h, body.data(), body.size());
  return m;
}

Message error_reply(std::uint64_t call, RemoteErrorKind kind, const std::string& text) {
  return reply_message(call, 1 + static_cast<std::uint64_t>(kind), 0,
                       std::as_bytes(std::span(text.data(), text.size())));
}

}  // namespace

Message call_server(PlaceChannel& ch, std::string_view op_name, RequestHeader header,
                    std::vector<std::byte> request) {
  header.call = next_call.fetch_add(1, std::memory_order_relaxed);
  std::memcpy(request.data(), &header, sizeof header);
  Message m{type_tag<RequestHeader>(), std::move(request)};
  if (header.kind == OperationKind::cast) {
    ch.put_message(std::move(m));
    return {};
  }
  Message reply;
  {
    auto lock = call_lock(ch);
    std::lock_guard guard(*lock);
    ch.put_message(std::move(m));
    reply = ch.get_message();
  }
  const std::string where = "operation '" + std::string(op_name) + "' on " + ch.describe();
  if (reply.type_tag != type_tag<ReplyHeader>() || reply.payload.size() < sizeof(ReplyHeader))
    throw ProtocolError(where + ": the answer is a " + rmpi::detail::describe_type(reply.type_tag) +
                        " message, not a server reply");
  ReplyHeader h;
  std::memcpy(&h, reply.payload.data(), sizeof h);
  if (h.call != header.call)
    throw ProtocolError(where + ": the answer is to call " + std::to_string(h.call) + ", not " +
                        std::to_string(header.call));
  reply.payload.erase(reply.payload.begin(), reply.payload.begin() + sizeof h);
  if (h.status == 0) return Message{h.result_tag, std::move(reply.payload)};
  const std::string text(reinterpret_cast<const char*>(reply.payload.data()), reply.payload.size());
  const auto kind = static_cast<RemoteErrorKind>(h.status - 1);
  switch (kind) {
    case RemoteErrorKind::operation_failed:
    case RemoteErrorKind::unknown_operation:
    case RemoteErrorKind::bad_arguments:
      throw RemoteError(kind, where + ": " + text);
  }
  throw ProtocolError(where + ": the answer has an unknown status " + std::to_string(h.status));
}

void serve_loop(PlaceChannel ch, bool named, std::string_view server_name,
                std::span<const OperationEntry> table, void* state) {
  const std::string server(server_name);
  std::map<std::uint64_t, const OperationEntry*> by_id;
  for (const auto& e : table)
    if (!by_id.emplace(e.id, &e).second)
      throw Error("remote server " + server + ": operations '" + std::string(by_id[e.id]->name) +
                  "' and '" + std::string(e.name) + "' have the same name or id");

  auto serve_one = [&](PlaceChannel& from, Message& m) {
    if (m.type_tag != type_tag<RequestHeader>() || m.payload.size() < sizeof(RequestHeader)) {
      log_to_parent("remote server " + server + ": ignored a message from " + from.describe() +
                        " that is not a request (" + rmpi::detail::describe_type(m.type_tag) + ")",
                    Severity::warning);
      return;
    }
    RequestHeader h;
    std::memcpy(&h, m.payload.data(), sizeof h);
    const auto args = std::span<const std::byte>(m.payload).subspan(sizeof h);
    const bool wants_reply = h.kind == OperationKind::rpc;
    auto fail = [&](RemoteErrorKind kind, const std::string& text) {
      if (wants_reply) {
        try {
          from.put_message(error_reply(h.call, kind, text));
        } catch (const ChannelClosed&) {
        }
      } else {
        log_to_parent("remote server " + server + ": a cast from " + from.describe() +
                          " failed: " + text,
                      Severity::error);
      }
    };
    auto it = by_id.find(h.operation);
    if (it == by_id.end())
      return fail(RemoteErrorKind::unknown_operation, server + " has no such operation");
    const OperationEntry& op = *it->second;
    if (h.signature != op.signature || h.kind != op.kind)
      return fail(RemoteErrorKind::bad_arguments,
                  server + " serves '" + std::string(op.name) + "' as " +
                      (op.kind == OperationKind::rpc ? "an rpc" : "a cast") + " taking " +
                      std::string(op.signature_name) + "; the call differs (built from another definition?)");
    Message result;
    try {
      result = op.invoke(state, args);
    } catch (const ProtocolError& e) {
      return fail(RemoteErrorKind::bad_arguments, e.what());
    } catch (const std::exception& e) {
      return fail(RemoteErrorKind::operation_failed, e.what());
    } catch (...) {
      return fail(RemoteErrorKind::operation_failed, "an exception that is not a std::exception");
    }
    if (!wants_reply) return;
    try {
      from.put_message(reply_message(h.call, 0, result.type_tag, result.payload));
    } catch (const ChannelClosed&) {
      // The client left before its answer: nothing to do.
    }
  };

  if (!named) {
    for (;;) {
      Message m;
      try {
        m = ch.get_message();
      } catch (const ChannelClosed&) {
        return;
      }
      serve_one(ch, m);
    }
  }
  ChannelSet clients(ch);
  for (;;) {
    std::optional<std::pair<PlaceChannel, Message>> next;
    try {
      next = clients.receive(std::nullopt);
    } catch (const ChannelClosed&) {
      return;
    }
    serve_one(next->first, next->second);
  }
}

}  // namespace detail

}  // namespace rmpi::places

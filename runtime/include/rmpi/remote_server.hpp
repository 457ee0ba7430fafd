#pragma once
/// Remote servers (the reference's define-remote-server and
/// define-named-remote-server). A server is a C++ type: its data members are
/// its state (define-state), its member functions its operations. Each
/// operation is described once, by a constexpr descriptor that both sides use:
///
///   struct TupleServer {
///     std::map<std::string, Value> tuples;                  // define-state
///     Value set(const std::string& k, Value v) { ... }      // define-rpc
///     Value get(const std::string& k) { ... }               // define-rpc
///   };
///   inline constexpr rp::Rpc<&TupleServer::set> tuple_server_set{"set"};
///   inline constexpr rp::Rpc<&TupleServer::get> tuple_server_get{"get"};
///   RMPI_REMOTE_SERVER(tuple_server, tuple_server_set, tuple_server_get);
///
/// RMPI_REMOTE_SERVER defines and registers two place functions:
/// `make_tuple_server` serves its own channel only (a private server, for
/// supervise_place_at) and `make_named_tuple_server` serves its channel and
/// every connection made to it (a named server: PlaceOptions::named, then
/// connect_to_named_place), one request at a time, in arrival order.
///
/// A client calls the descriptor: `tuple_server_set(conn, "user0", 100)`
/// sends the request and returns the operation's result (an Rpc), or only
/// sends it (a Cast: one-way). The call compiles only with as many arguments
/// as the member function takes, each converting to its parameter (and no
/// floating-point value for an integer parameter). Requests from one client
/// are served in the order sent, casts and rpcs alike. An operation that
/// throws answers the caller with RemoteError carrying the message; the
/// server goes on serving. A server that is gone makes the call throw
/// ChannelClosed. Calls on one channel from several threads are serialized.
///
/// Cost: one round trip over the place channel per rpc (request header 32
/// bytes + the arguments' encoding, reply header 24 bytes + the result's).
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

#include <rmpi/channel.hpp>
#include <rmpi/error.hpp>
#include <rmpi/log.hpp>
#include <rmpi/message.hpp>
#include <rmpi/place.hpp>
#include <rmpi/remote_connection.hpp>

namespace rmpi::places {

/// Why a server did not answer with a result.
enum class RemoteErrorKind : std::uint8_t {
  operation_failed,   // the operation threw; what() carries its message
  unknown_operation,  // the server has no operation of that name
  bad_arguments,      // the server's operation takes other argument types
};

/// A call to a remote server did not return a result; what() names the
/// operation, the server's channel and the reason.
class RemoteError : public Error {
 public:
  RemoteError(RemoteErrorKind kind, const std::string& what) : Error(what), kind_(kind) {}
  RemoteErrorKind kind() const { return kind_; }

 private:
  RemoteErrorKind kind_;
};

/// log-to-parent: inside an operation, sends `msg` to the server's owner
/// (the program that spawned its node), logged there with this place's
/// "PLACE host:port" origin; in a server on a thread of the owner, printed at once.
void log_to_parent(std::string_view msg, Severity severity = Severity::info);

/// The server a client calls: a RemoteConnection, a Place or a PlaceChannel.
class ServerChannel {
 public:
  ServerChannel(RemoteConnection& c) : ch_(c.channel()) {}
  ServerChannel(Place& p) : ch_(p.channel()) {}
  ServerChannel(PlaceChannel& ch) : ch_(ch) {}
  PlaceChannel& channel() { return ch_; }

 private:
  PlaceChannel ch_;
};

namespace detail {

enum class OperationKind : std::uint64_t { rpc = 0, cast = 1 };

/// The fixed part of a request message, followed by the encoded argument tuple.
struct RequestHeader {
  std::uint64_t operation = 0;  // hash of the operation's name
  std::uint64_t signature = 0;  // type tag of the argument tuple
  std::uint64_t call = 0;       // echoed in the reply
  OperationKind kind = OperationKind::rpc;
};
/// The fixed part of a reply message, followed by the encoded result or the error text.
struct ReplyHeader {
  std::uint64_t call = 0;
  std::uint64_t status = 0;      // 0: result follows; else 1 + RemoteErrorKind
  std::uint64_t result_tag = 0;  // type tag of the result
};
static_assert(std::is_trivially_copyable_v<RequestHeader> && sizeof(RequestHeader) == 32);
static_assert(std::is_trivially_copyable_v<ReplyHeader> && sizeof(ReplyHeader) == 24);

/// FNV-1a 64 of an operation's name: its id on the wire.
constexpr std::uint64_t operation_id(std::string_view name) {
  std::uint64_t h = 1469598103934665603ull;
  for (char c : name) h = (h ^ static_cast<unsigned char>(c)) * 1099511628211ull;
  return h;
}

/// The parts of a member function pointer type.
template <class M>
struct member_traits;
template <class S, class R, class... P>
struct member_traits<R (S::*)(P...)> {
  using server = S;
  using result = R;
  using params = std::tuple<P...>;
};
template <class S, class R, class... P>
struct member_traits<R (S::*)(P...) const> : member_traits<R (S::*)(P...)> {};
template <class S, class R, class... P>
struct member_traits<R (S::*)(P...) noexcept> : member_traits<R (S::*)(P...)> {};
template <class S, class R, class... P>
struct member_traits<R (S::*)(P...) const noexcept> : member_traits<R (S::*)(P...)> {};

/// An argument of type A may be passed for a parameter of type P: it
/// converts, and it is not a floating-point value for an integer parameter.
template <class A, class P>
concept argument_for =
    std::convertible_to<A, std::decay_t<P>> &&
    !(std::is_floating_point_v<std::remove_cvref_t<A>> && std::is_integral_v<std::decay_t<P>>);

/// Sends a request; for an rpc, waits for the reply and returns it (the
/// result's tag and bytes), throwing RemoteError / ChannelClosed.
Message call_server(PlaceChannel& ch, std::string_view op_name, RequestHeader header,
                    std::vector<std::byte> request);

/// One row of a server's dispatch table.
struct OperationEntry {
  std::string_view name;
  std::uint64_t id;
  std::uint64_t signature;
  OperationKind kind;
  std::string_view signature_name;
  /// Decodes the arguments, runs the operation on `state`, encodes the result.
  Message (*invoke)(void* state, std::span<const std::byte> args);
};

/// The serving loop: requests from `ch` (and, if `named`, from every
/// connection accepted for it) dispatched through `table`, until `ch` closes.
void serve_loop(PlaceChannel ch, bool named, std::string_view server_name,
                std::span<const OperationEntry> table, void* state);

template <class T>
struct decayed_tuple;
template <class... P>
struct decayed_tuple<std::tuple<P...>> {
  using type = std::tuple<std::decay_t<P>...>;
};

/// True when the arguments A... may be passed for the parameters in Args (a tuple).
template <class Args, class... A>
constexpr bool arguments_fit() {
  if constexpr (sizeof...(A) != std::tuple_size_v<Args>) {
    return false;
  } else {
    return []<std::size_t... I>(std::index_sequence<I...>) {
      return (argument_for<A, std::tuple_element_t<I, Args>> && ...);
    }(std::index_sequence_for<A...>{});
  }
}

/// An operation's descriptor (Rpc or Cast): its name, its client stub and its dispatch row.
template <auto Member, OperationKind Kind>
class OperationDescriptor {
  using traits = member_traits<decltype(Member)>;

 public:
  using server_type = typename traits::server;
  using result_type = std::conditional_t<Kind == OperationKind::cast, void,
                                         std::decay_t<typename traits::result>>;
  using arguments = typename decayed_tuple<typename traits::params>::type;
  static constexpr OperationKind kind = Kind;

  consteval explicit OperationDescriptor(std::string_view name) : name_(name), id_(operation_id(name)) {}
  constexpr std::string_view name() const { return name_; }
  constexpr std::uint64_t id() const { return id_; }

  /// The client stub: sends (name, args...) to `server`; an Rpc waits for the result.
  template <class... A>
    requires(arguments_fit<arguments, A...>())
  result_type operator()(ServerChannel server, A&&... args) const {
    RequestHeader h;
    h.operation = id_;
    h.signature = type_tag<arguments>();
    h.kind = Kind;
    std::vector<std::byte> request(sizeof h);
    append_encoded(request, arguments(std::forward<A>(args)...));
    Message reply = call_server(server.channel(), name_, h, std::move(request));
    if constexpr (!std::is_void_v<result_type>) return decode<result_type>(reply);
  }

  /// The server side: the dispatch table row of this operation.
  constexpr OperationEntry entry() const {
    return {name_, id_, type_tag<arguments>(), Kind, type_name<arguments>(), &invoke};
  }

 private:
  static Message invoke(void* state, std::span<const std::byte> bytes) {
    auto args = decode_payload<arguments>(bytes);
    auto& server = *static_cast<server_type*>(state);
    auto run = [&] {
      return std::apply([&](auto&... a) { return (server.*Member)(std::move(a)...); }, args);
    };
    using R = std::decay_t<typename traits::result>;
    if constexpr (std::is_void_v<R>) {
      run();
      return Message{};
    } else if constexpr (Kind == OperationKind::cast) {
      (void)run();
      return Message{};
    } else {
      return encode<R>(run());
    }
  }

  std::string_view name_;
  std::uint64_t id_;
};

}  // namespace detail

/// define-rpc: a request/response operation, the member function `Member`,
/// known to clients and server as `name`.
template <auto Member>
using Rpc = detail::OperationDescriptor<Member, detail::OperationKind::rpc>;
/// define-cast: a one-way operation (no reply; the result, if any, is dropped).
template <auto Member>
using Cast = detail::OperationDescriptor<Member, detail::OperationKind::cast>;

/// Serves a default-constructed server of the operations' type on `ch` with
/// the operations `ops`; returns when `ch` closes. `named`: also serve every
/// connection accepted for `ch`. RMPI_REMOTE_SERVER calls this.
template <class... Ops>
void serve_remote(PlaceChannel ch, bool named, std::string_view server_name, const Ops&... ops) {
  static_assert(sizeof...(Ops) > 0, "a remote server needs at least one operation");
  using S = typename std::tuple_element_t<0, std::tuple<Ops...>>::server_type;
  static_assert((std::is_same_v<S, typename Ops::server_type> && ...),
                "every operation of a remote server is a member of the same server type");
  const detail::OperationEntry table[] = {ops.entry()...};
  S state{};
  detail::serve_loop(std::move(ch), named, server_name, table, &state);
}

}  // namespace rmpi::places

/// Defines and registers the place functions of the remote server `name`
/// whose operations are the descriptors that follow: make_<name> (private:
/// serves its own channel) and make_named_<name> (serves every connection).
/// Use at namespace scope, in one source file.
#define RMPI_REMOTE_SERVER(name, ...)                                                    \
  void make_##name(::rmpi::places::PlaceChannel ch) {                                    \
    ::rmpi::places::serve_remote(std::move(ch), false, #name, __VA_ARGS__);              \
  }                                                                                      \
  void make_named_##name(::rmpi::places::PlaceChannel ch) {                              \
    ::rmpi::places::serve_remote(std::move(ch), true, #name, __VA_ARGS__);               \
  }                                                                                      \
  RMPI_PLACE(make_##name);                                                               \
  RMPI_PLACE(make_named_##name)

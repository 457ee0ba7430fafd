#include <rmpi/rendezvous.hpp>

#include <sys/socket.h>

#include <array>
#include <cerrno>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <optional>
#include <thread>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>

#include <rmpi/auth.hpp>
#include <rmpi/error.hpp>
#include <rmpi/message.hpp>
#include <rmpi/transport/asio_accept_loop.hpp>
#include <rmpi/transport/frame.hpp>

#include "net.hpp"
#include "rendezvous_protocol.hpp"

namespace rmpi {

namespace {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using asio::use_awaitable;

constexpr const char* kOrigin = "rendezvous";

// An arrived participant's connection, kept until the table is sent; its
// deadline closes the socket when it expires.
struct Connection {
  Connection(tcp::socket s, std::string who)
      : socket(std::move(s)), deadline(socket.get_executor()), peer(std::move(who)) {}
  tcp::socket socket;
  asio::steady_timer deadline;
  std::string peer;

  void expire_after(std::chrono::milliseconds d, std::shared_ptr<Connection> self) {
    deadline.expires_after(d);
    deadline.async_wait([weak = std::weak_ptr<Connection>(self)](const boost::system::error_code& ec) {
      auto c = weak.lock();
      if (ec || !c) return;
      boost::system::error_code ignored;
      c->socket.close(ignored);
    });
  }
};

asio::awaitable<void> write_frame(tcp::socket& s, const wire::FrameHeader& h,
                                  std::span<const std::byte> payload) {
  const wire::HeaderBytes hb = transport::frame_header(h, payload.size());
  const std::array<asio::const_buffer, 2> bufs{asio::buffer(hb),
                                               asio::buffer(payload.data(), payload.size())};
  co_await asio::async_write(s, bufs, use_awaitable);
}

}  // namespace

// Everything runs on one thread (the io_context's); wait() reads the shared
// state under `mu`. The transport core's accept loop runs the handshake and
// reads each participant's arrival frame.
struct RendezvousServer::Impl {
  Impl(std::string secret, std::uint32_t n, listener::ListenerLimits l)
      : count(n),
        limits(l),
        accepting(transport::AsioAcceptLoop::create(
            io.get_executor(),
            {.secret = std::move(secret), .limits = l, .first_frame = transport::FrameLimits(kMaxRendezvousBlob)},
            [](const std::string& line) { detail::log_line("warning", kOrigin, line); },
            [this](tcp::socket socket, transport::AcceptedPeer peer) { arrived(std::move(socket), std::move(peer)); })) {}

  asio::io_context io{1};
  std::uint32_t count;
  listener::ListenerLimits limits;
  std::shared_ptr<transport::AsioAcceptLoop> accepting;  // the handshake and the arrival frame
  std::vector<std::shared_ptr<Connection>> conns;  // by id, once their blob arrived
  bool delivered = false;  // every participant arrived: later arrivals are restarts, answered at once
  std::thread thread;

  mutable std::mutex mu;
  std::condition_variable cv;
  std::vector<std::optional<std::string>> blobs;
  std::uint32_t arrived_count = 0;
  bool done = false;

  // An authenticated participant and its arrival frame.
  void arrived(tcp::socket socket, transport::AcceptedPeer peer) {
    try {
      auto arrival = detail::rendezvous_protocol::decode_arrival(peer.first_frame->header, peer.first_frame->payload);
      if (arrival.count != count)
        throw ProtocolError("the participant expects " + std::to_string(arrival.count) +
                            " participants where this rendezvous serves " + std::to_string(count));
      const std::uint32_t id = arrival.id;
      if (id >= count)
        throw ProtocolError("participant id " + std::to_string(id) + " is not below " + std::to_string(count));
      bool complete = false;
      const bool exchanged = delivered;
      {
        std::lock_guard lock(mu);
        // A participant arriving again is a restarted one: its new blob replaces the old.
        if (!blobs[id]) complete = ++arrived_count == count;
        blobs[id].emplace(std::move(arrival.blob));
      }
      auto c = std::make_shared<Connection>(std::move(socket), peer.address);
      if (exchanged) return send_table(c, nullptr);  // a rejoin: the table as it is now
      if (conns[id]) {  // the previous incarnation's connection, still waiting for the table
        boost::system::error_code ignored;
        conns[id]->socket.close(ignored);
      }
      conns[id] = c;
      if (complete) deliver();
    } catch (const std::exception& e) {
      accepting->report(peer.address, std::string("dropped a connection: ") + e.what());  // counted before the close
      boost::system::error_code ignored;
      socket.close(ignored);
    }
  }

  std::shared_ptr<std::pair<wire::FrameHeader, std::vector<std::byte>>> table_message() {
    detail::rendezvous_protocol::Table table;
    {
      std::lock_guard lock(mu);
      for (auto& b : blobs) table.blobs.push_back(*b);
    }
    return std::make_shared<std::pair<wire::FrameHeader, std::vector<std::byte>>>(
        detail::rendezvous_protocol::encode(table));
  }

  // Sends the table to `c` and closes it; `sent` runs after (null: nothing).
  void send_table(std::shared_ptr<Connection> c, std::function<void()> sent,
                  std::shared_ptr<std::pair<wire::FrameHeader, std::vector<std::byte>>> message = nullptr) {
    if (!message) message = table_message();
    c->expire_after(limits.handshake_timeout, c);
    asio::co_spawn(
        io,
        [c, message, sent = std::move(sent)]() -> asio::awaitable<void> {
          try {
            co_await write_frame(c->socket, message->first, message->second);
          } catch (const std::exception& e) {
            detail::log_line("warning", kOrigin, "could not send the table to " + c->peer + ": " + e.what());
          }
          c->deadline.cancel();
          boost::system::error_code ignored;
          c->socket.close(ignored);
          if (sent) sent();
        },
        asio::detached);
  }

  // Sends the table to every participant, then closes their connections.
  void deliver() {
    delivered = true;
    auto message = table_message();
    auto pending = std::make_shared<std::size_t>(conns.size());
    for (auto& c : conns)
      send_table(c, [this, pending] {
        if (--*pending == 0) finish();
      }, message);
  }

  void finish() {
    conns.clear();
    std::lock_guard lock(mu);
    done = true;
    cv.notify_all();
  }
};

RendezvousServer::RendezvousServer(const std::string& host, std::uint16_t port, std::string secret,
                                   std::uint32_t count, listener::ListenerLimits limits)
    : RendezvousServer(std::vector<std::string>{host}, port, std::move(secret), count, limits) {}

RendezvousServer::RendezvousServer(const std::vector<std::string>& hosts, std::uint16_t port,
                                   std::string secret, std::uint32_t count,
                                   listener::ListenerLimits limits)
    : impl_(std::make_unique<Impl>(std::move(secret), count, limits)) {
  if (hosts.empty()) throw ConfigError("rmpi: the rendezvous has no address to listen on");
  impl_->blobs.resize(count);
  impl_->conns.resize(count);
  if (count == 0) impl_->done = true;
  // The first address takes the first free port at or after `port`; the
  // others listen on that same port, so that one port serves every address.
  for (const auto& host : hosts) {
    const bool first = &host == &hosts.front();
    const int p = first ? port : port_;
    detail::Fd fd = detail::listen_tcp(host, p, p);
    if (first) port_ = detail::local_port(fd.get());
    sockaddr_storage ss{};
    socklen_t len = sizeof ss;
    ::getsockname(fd.get(), reinterpret_cast<sockaddr*>(&ss), &len);
    tcp::acceptor a(impl_->io);
    a.assign(ss.ss_family == AF_INET6 ? tcp::v6() : tcp::v4(), fd.release());
    impl_->accepting->listen(std::move(a));
  }
  impl_->thread = std::thread([io = &impl_->io] { io->run(); });
}

RendezvousServer::~RendezvousServer() {
  impl_->io.stop();
  impl_->thread.join();
  // Sockets go before the io_context; pending handlers (and their
  // connections) are destroyed with it: every client sees its connection end.
  impl_->accepting->stop();
  impl_->conns.clear();
}

std::uint16_t RendezvousServer::port() const { return port_; }

std::vector<std::uint32_t> RendezvousServer::wait(std::chrono::milliseconds timeout) {
  std::unique_lock lock(impl_->mu);
  impl_->cv.wait_for(lock, timeout, [&] { return impl_->done; });
  std::vector<std::uint32_t> missing;
  if (impl_->done) return missing;
  for (std::uint32_t i = 0; i < impl_->count; ++i)
    if (!impl_->blobs[i]) missing.push_back(i);
  return missing;
}

std::size_t RendezvousServer::rejected() const { return impl_->accepting->rejected(); }

std::size_t RendezvousServer::unauthenticated() const { return impl_->accepting->unauthenticated(); }

std::vector<std::string> rendezvous_exchange(const std::string& host, std::uint16_t port,
                                             std::string_view secret, std::uint32_t id,
                                             std::uint32_t count, std::string_view blob,
                                             std::chrono::milliseconds timeout) {
  const auto deadline = detail::Clock::now() + timeout;
  const std::string where = "the rendezvous server " + host + ":" + std::to_string(port);
  if (blob.size() > kMaxRendezvousBlob)
    throw Error("rmpi: rendezvous blob of " + std::to_string(blob.size()) + " bytes is too large");
  detail::Fd fd = detail::connect_tcp(host, port, deadline, "the rendezvous server");
  try {
    detail::auth_as_connector(fd.get(), secret, deadline);
    const auto [header, payload] = detail::rendezvous_protocol::encode(
        detail::rendezvous_protocol::Arrival{id, count, std::string(blob)});
    detail::write_frame(fd.get(), header, payload, deadline);
    const detail::Frame f = detail::read_frame(fd.get(), std::uint64_t{count} * kMaxRendezvousBlob + 4096,
                                               deadline);
    auto table = detail::rendezvous_protocol::decode_table(f.header, f.payload).blobs;
    if (table.size() != count)
      throw ProtocolError("the table has " + std::to_string(table.size()) + " entries, not " +
                          std::to_string(count));
    return table;
  } catch (const Error& e) {
    throw ConnectError("rmpi: rendezvous with " + where + " as participant " + std::to_string(id) +
                       " of " + std::to_string(count) + " failed: " + e.what());
  }
}

}  // namespace rmpi

#include <rmpi/rendezvous.hpp>

#include <sys/socket.h>

#include <array>
#include <cerrno>
#include <condition_variable>
#include <mutex>
#include <optional>
#include <thread>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>

#include <rmpi/auth.hpp>
#include <rmpi/error.hpp>
#include <rmpi/message.hpp>
#include <rmpi/transport/handshake.hpp>

#include "net.hpp"
#include "rendezvous_protocol.hpp"

namespace rmpi {

namespace {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using asio::use_awaitable;

constexpr const char* kOrigin = "rendezvous";
// How long the listener pauses when accept runs out of descriptors or memory.
constexpr auto kAcceptPause = std::chrono::milliseconds(100);

// One accepted connection; its deadline closes the socket when it expires.
struct Connection {
  Connection(tcp::socket s, std::string who)
      : socket(std::move(s)), deadline(socket.get_executor()), peer(std::move(who)) {}
  tcp::socket socket;
  asio::steady_timer deadline;
  std::string peer;
  bool timed_out = false;
  bool holds_slot = true;  // counted by the cap of unauthenticated connections

  void expire_after(std::chrono::milliseconds d, std::shared_ptr<Connection> self) {
    deadline.expires_after(d);
    deadline.async_wait([weak = std::weak_ptr<Connection>(self)](const boost::system::error_code& ec) {
      auto c = weak.lock();
      if (ec || !c) return;
      c->timed_out = true;
      boost::system::error_code ignored;
      c->socket.close(ignored);
    });
  }
};

std::string peer_of(const tcp::socket& s) {
  boost::system::error_code ec;
  const auto ep = s.remote_endpoint(ec);
  if (ec) return "?";
  const std::string a = ep.address().to_string();
  return (ep.address().is_v6() ? "[" + a + "]" : a) + ":" + std::to_string(ep.port());
}

asio::awaitable<detail::Frame> read_frame(tcp::socket& s, std::uint64_t max_length) {
  wire::HeaderBytes hb{};
  co_await asio::async_read(s, asio::buffer(hb), use_awaitable);
  detail::Frame f;
  f.header = wire::decode_header(hb, max_length);
  f.payload.resize(f.header.length);
  if (!f.payload.empty()) co_await asio::async_read(s, asio::buffer(f.payload), use_awaitable);
  co_return f;
}

asio::awaitable<void> write_frame(tcp::socket& s, wire::FrameHeader h,
                                  std::span<const std::byte> payload) {
  h.length = payload.size();
  const wire::HeaderBytes hb = wire::encode_header(h);
  const std::array<asio::const_buffer, 2> bufs{asio::buffer(hb),
                                               asio::buffer(payload.data(), payload.size())};
  co_await asio::async_write(s, bufs, use_awaitable);
}

// The acceptor's side of the job-secret handshake (rmpi/transport/handshake.hpp);
// the connection's own timer bounds it.
asio::awaitable<void> authenticate(tcp::socket& s, const std::string& secret) {
  transport::Handshake hs(transport::HandshakeRole::acceptor, secret, transport::Clock::time_point::max());
  std::array<std::byte, wire::kHeaderSize + transport::kMaxHandshakePayload> buf{};
  while (hs.state() == transport::Handshake::State::in_progress) {
    if (hs.has_output()) {
      const std::vector<std::byte> out = hs.take_output();
      co_await asio::async_write(s, asio::buffer(out), use_awaitable);
    }
    const std::size_t n = hs.want();
    co_await asio::async_read(s, asio::buffer(buf.data(), n), use_awaitable);
    hs.feed(std::span<const std::byte>(buf.data(), n));
  }
  if (hs.error() == transport::HandshakeError::wrong_secret) throw ConnectError("failed job-secret authentication");
  if (hs.failed()) throw ProtocolError(hs.reason());
}

bool out_of_resources(const boost::system::error_code& ec) {
  return ec == asio::error::no_descriptors || ec.value() == ENFILE || ec == asio::error::no_buffer_space ||
         ec == asio::error::no_memory;
}

}  // namespace

// Everything runs on one thread (the io_context's); wait() and rejected()
// read the shared state under `mu`.
struct RendezvousServer::Impl {
  Impl(std::string s, std::uint32_t n, listener::ListenerLimits l)
      : secret(std::move(s)),
        count(n),
        limits(l),
        cap(l.max_unauthenticated),
        bad_peers([](const std::string& line) { detail::log_line("warning", kOrigin, line); }),
        log_timer(io) {}

  asio::io_context io{1};
  std::vector<tcp::acceptor> acceptors;
  std::string secret;
  std::uint32_t count;
  listener::ListenerLimits limits;
  listener::UnauthenticatedCap cap;
  listener::BadPeerLog bad_peers;
  asio::steady_timer log_timer;
  bool log_timer_armed = false;
  std::vector<std::shared_ptr<Connection>> conns;  // by id, once their blob arrived
  std::thread thread;

  mutable std::mutex mu;
  std::condition_variable cv;
  std::vector<std::optional<std::string>> blobs;
  std::uint32_t arrived = 0;
  bool done = false;
  std::size_t rejected = 0;

  void reject(const std::string& peer, const std::string& what) {
    {
      std::lock_guard lock(mu);
      ++rejected;
    }
    bad_peers.report(peer, what);
    arm_log_timer();
  }

  // Writes the held-back count of bad peers once its second is over.
  void arm_log_timer() {
    const auto due = bad_peers.flush_due();
    if (!due || log_timer_armed) return;
    log_timer_armed = true;
    log_timer.expires_at(*due);
    log_timer.async_wait([this](const boost::system::error_code& ec) {
      log_timer_armed = false;
      if (ec) return;
      bad_peers.flush();
      arm_log_timer();
    });
  }

  asio::awaitable<void> accept_loop(tcp::acceptor& acceptor) {
    asio::steady_timer pause(io);
    for (;;) {
      auto [ec, socket] = co_await acceptor.async_accept(asio::as_tuple(use_awaitable));
      if (ec == asio::error::operation_aborted || !acceptor.is_open()) co_return;
      if (ec) {
        if (out_of_resources(ec)) {
          reject("?", "cannot accept a connection: " + ec.message() + "; pausing the listener");
          pause.expires_after(kAcceptPause);
          co_await pause.async_wait(asio::as_tuple(use_awaitable));
        }
        continue;
      }
      const std::string who = peer_of(socket);
      if (!cap.try_admit()) {
        // Counted before the close, so a peer that sees the close sees the count.
        reject(who, "refused a connection: " + std::to_string(cap.max()) +
                        " connections are in their handshake already (" +
                        listener::kMaxUnauthenticatedEnv + ")");
        boost::system::error_code ignored;
        socket.close(ignored);
        continue;
      }
      auto conn = std::make_shared<Connection>(std::move(socket), who);
      asio::co_spawn(io, serve(conn), asio::detached);
    }
  }

  asio::awaitable<void> serve(std::shared_ptr<Connection> c) {
    c->expire_after(limits.handshake_timeout, c);
    std::string failure;
    try {
      co_await authenticate(c->socket, secret);
      cap.release();
      c->holds_slot = false;
      const detail::Frame f = co_await read_frame(c->socket, kMaxRendezvousBlob);
      c->deadline.cancel();
      auto arrival = detail::rendezvous_protocol::decode_arrival(f.header, f.payload);
      if (arrival.count != count)
        throw ProtocolError("the participant expects " + std::to_string(arrival.count) +
                            " participants where this rendezvous serves " + std::to_string(count));
      const std::uint32_t id = arrival.id;
      if (id >= count)
        throw ProtocolError("participant id " + std::to_string(id) + " is not below " +
                            std::to_string(count));
      bool complete = false;
      {
        std::lock_guard lock(mu);
        if (blobs[id]) throw ProtocolError("participant id " + std::to_string(id) + " arrived twice");
        blobs[id].emplace(std::move(arrival.blob));
        complete = ++arrived == count;
      }
      conns[id] = c;
      if (complete) deliver();
      co_return;
    } catch (const boost::system::system_error& e) {
      failure = c->timed_out ? "did not finish the handshake within " +
                                   std::to_string(limits.handshake_timeout.count()) + " ms"
                : e.code() == asio::error::eof
                    ? (c->holds_slot ? "closed the connection during the handshake"
                                     : "closed the connection before sending its blob")
                                               : e.code().message();
    } catch (const std::exception& e) {
      failure = e.what();
    }
    if (c->holds_slot) cap.release();
    c->holds_slot = false;
    c->deadline.cancel();
    reject(c->peer, "dropped a connection: " + failure);  // counted before the close
    boost::system::error_code ignored;
    c->socket.close(ignored);
  }

  // Sends the table to every participant, then closes their connections.
  void deliver() {
    detail::rendezvous_protocol::Table table;
    {
      std::lock_guard lock(mu);
      for (auto& b : blobs) table.blobs.push_back(*b);
    }
    auto message = std::make_shared<std::pair<wire::FrameHeader, std::vector<std::byte>>>(
        detail::rendezvous_protocol::encode(table));
    auto pending = std::make_shared<std::size_t>(conns.size());
    for (auto& c : conns) {
      c->expire_after(limits.handshake_timeout, c);
      asio::co_spawn(
          io,
          [this, c, message, pending]() -> asio::awaitable<void> {
            try {
              co_await write_frame(c->socket, message->first, message->second);
            } catch (const std::exception& e) {
              detail::log_line("warning", kOrigin,
                               "could not send the table to " + c->peer + ": " + e.what());
            }
            c->deadline.cancel();
            boost::system::error_code ignored;
            c->socket.close(ignored);
            if (--*pending == 0) finish();
          },
          asio::detached);
    }
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
    const int p = impl_->acceptors.empty() ? port : port_;
    detail::Fd fd = detail::listen_tcp(host, p, p);
    if (impl_->acceptors.empty()) port_ = detail::local_port(fd.get());
    sockaddr_storage ss{};
    socklen_t len = sizeof ss;
    ::getsockname(fd.get(), reinterpret_cast<sockaddr*>(&ss), &len);
    tcp::acceptor a(impl_->io);
    a.assign(ss.ss_family == AF_INET6 ? tcp::v6() : tcp::v4(), fd.release());
    impl_->acceptors.push_back(std::move(a));
  }
  for (auto& a : impl_->acceptors) asio::co_spawn(impl_->io, impl_->accept_loop(a), asio::detached);
  impl_->thread = std::thread([io = &impl_->io] { io->run(); });
}

RendezvousServer::~RendezvousServer() {
  impl_->io.stop();
  impl_->thread.join();
  // Sockets go before the io_context; pending coroutines (and their
  // connections) are destroyed with it: every client sees its connection end.
  impl_->conns.clear();
  impl_->acceptors.clear();
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

std::size_t RendezvousServer::rejected() const {
  std::lock_guard lock(impl_->mu);
  return impl_->rejected;
}

std::size_t RendezvousServer::unauthenticated() const { return impl_->cap.in_use(); }

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

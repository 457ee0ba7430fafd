#include "framed_connection.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <algorithm>
#include <cstring>
#include <future>
#include <ostream>
#include <thread>

#include <boost/asio/bind_executor.hpp>
#include <boost/asio/buffer.hpp>
#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/write.hpp>

#include <cereal/archives/binary.hpp>

#include <rmpi/error.hpp>
#include <rmpi/message.hpp>
#include <rmpi/transport/retry.hpp>

namespace rmpi::places::detail {

namespace asio = boost::asio;

namespace {

constexpr std::size_t kMaxFramesPerWrite = 64;
constexpr std::size_t kMaxBytesPerWrite = 16u << 20;
// Before authentication only auth frames (at most nonce + proof) are acceptable.
const transport::FrameLimits kAuthLimits(transport::kMaxHandshakePayload,
                                             wire::FrameKind::auth);

std::pair<std::string, std::uint16_t> address_of(const sockaddr* sa) {
  char buf[INET6_ADDRSTRLEN] = {};
  if (sa->sa_family == AF_INET) {
    const auto* in = reinterpret_cast<const sockaddr_in*>(sa);
    ::inet_ntop(AF_INET, &in->sin_addr, buf, sizeof buf);
    return {buf, ntohs(in->sin_port)};
  }
  if (sa->sa_family == AF_INET6) {
    const auto* in6 = reinterpret_cast<const sockaddr_in6*>(sa);
    ::inet_ntop(AF_INET6, &in6->sin6_addr, buf, sizeof buf);
    return {buf, ntohs(in6->sin6_port)};
  }
  return {"", 0};
}

}  // namespace

std::string describe_remote(const StreamSocket& socket) {
  boost::system::error_code ec;
  auto ep = socket.remote_endpoint(ec);
  if (ec) return "unconnected socket";
  if (ep.protocol().family() == AF_UNIX) return "unix socket";
  auto [host, port] = address_of(ep.data());
  return host + ":" + std::to_string(port);
}

std::vector<std::byte> encode_control(const protocol::ControlMessage& message) {
  std::vector<std::byte> out;
  ByteSink sink(out);
  std::ostream os(&sink);
  {
    cereal::BinaryOutputArchive ar(os);
    ar(message);
  }
  return out;
}

protocol::ControlMessage decode_control(const std::vector<std::byte>& payload) {
  return decode_payload<protocol::ControlMessage>(payload);
}

std::shared_ptr<FramedConnection> FramedConnection::create(StreamSocket socket, std::string peer,
                                                           ConnectionOptions options) {
  return std::shared_ptr<FramedConnection>(
      new FramedConnection(std::move(socket), std::move(peer), options));
}

FramedConnection::FramedConnection(StreamSocket socket, std::string peer,
                                   ConnectionOptions options)
    : strand_(asio::make_strand(socket.get_executor())),
      socket_(std::move(socket)),
      peer_(std::move(peer)),
      options_(options),
      auth_timer_(strand_),
      in_(kAuthLimits) {}

FramedConnection::~FramedConnection() = default;

std::pair<std::string, std::uint16_t> FramedConnection::local_endpoint() const {
  boost::system::error_code ec;
  auto ep = socket_.local_endpoint(ec);
  if (ec) return {"", 0};
  return address_of(ep.data());
}

void FramedConnection::start(AuthRole role, std::string secret, ConnectionHandlers handlers) {
  asio::dispatch(strand_, [self = shared_from_this(), role, secret = std::move(secret),
                           handlers = std::move(handlers)]() mutable {
    self->role_ = role;
    self->secret_ = std::move(secret);
    self->handlers_ = std::move(handlers);
    if (role == AuthRole::trusted) {
      self->auth_complete();
    } else {
      self->auth_timer_.expires_after(self->options_.auth_timeout);
      self->auth_timer_.async_wait([weak = std::weak_ptr<FramedConnection>(self)](
                                       const boost::system::error_code& ec) {
        auto s = weak.lock();
        if (ec || !s || s->authenticated_) return;
        s->fail(CloseKind::unauthenticated,
                "dropped " + s->peer_ + ": did not authenticate within " +
                    std::to_string(s->options_.auth_timeout.count()) + " ms");
      });
      self->handshake_.emplace(role == AuthRole::connector ? transport::HandshakeRole::connector
                                                           : transport::HandshakeRole::acceptor,
                               self->secret_, transport::Clock::now() + self->options_.auth_timeout);
      self->send_handshake_output();
    }
    self->read_next();
  });
}

void FramedConnection::send_handshake_output() {
  // The output is whole auth frames: queue each as header + payload.
  const std::vector<std::byte> out = handshake_->take_output();
  transport::FrameDecoder frames(transport::FrameLimits(transport::kMaxHandshakePayload));
  std::span<const std::byte> rest(out);
  std::vector<std::byte> payload;
  for (;;) {
    const auto step = frames.next(rest);
    if (step.event == transport::FrameDecoder::Event::payload)
      payload.insert(payload.end(), step.bytes.begin(), step.bytes.end());
    else if (step.event == transport::FrameDecoder::Event::frame_end)
      enqueue(frames.header(), std::exchange(payload, {}), true);
    else if (step.event != transport::FrameDecoder::Event::header)
      break;
  }
}

void FramedConnection::send(wire::FrameHeader header, std::vector<std::byte> payload) {
  enqueue(header, std::move(payload), false);
}

void FramedConnection::send_control(const protocol::ControlMessage& message) {
  wire::FrameHeader h;
  h.kind = wire::FrameKind::control;
  enqueue(h, encode_control(message), false);
}

void FramedConnection::send_data(std::uint32_t channel, std::uint64_t type_tag,
                                 std::vector<std::byte> payload, std::uint32_t source) {
  wire::FrameHeader h;
  h.kind = wire::FrameKind::data;
  h.channel = channel;
  h.type_tag = type_tag;
  h.source = source;
  enqueue(h, std::move(payload), false);
}

void FramedConnection::enqueue(wire::FrameHeader header, std::vector<std::byte> payload,
                               bool is_auth) {
  if (closed_) return;
  Outgoing o{transport::frame_header(header, payload.size()), std::move(payload)};
  const std::size_t bytes = wire::kHeaderSize + o.payload.size();
  bool post_write = false;
  {
    std::lock_guard lock(mu_);
    queued_bytes_ += bytes;
    if (!is_auth && !authenticated_) {
      held_.push_back(std::move(o));
    } else {
      out_.push_back(std::move(o));
      post_write = !writing_;
    }
  }
  if (post_write) asio::post(strand_, [self = shared_from_this()] { self->start_write(); });
}

void FramedConnection::start_write() {
  if (closed_) return;
  std::vector<asio::const_buffer> buffers;
  {
    std::lock_guard lock(mu_);
    if (writing_ || out_.empty()) return;
    writing_ = true;
    writing_count_ = 0;
    writing_bytes_ = 0;
    for (auto& o : out_) {
      if (writing_count_ == kMaxFramesPerWrite ||
          (writing_count_ > 0 && writing_bytes_ + o.payload.size() > kMaxBytesPerWrite))
        break;
      buffers.emplace_back(o.header.data(), o.header.size());
      if (!o.payload.empty()) buffers.emplace_back(o.payload.data(), o.payload.size());
      ++writing_count_;
      writing_bytes_ += wire::kHeaderSize + o.payload.size();
    }
  }
  asio::async_write(socket_, buffers,
                    asio::bind_executor(strand_, [self = shared_from_this()](
                                                     const boost::system::error_code& ec,
                                                     std::size_t) {
                      if (ec) {
                        self->fail(CloseKind::io_error,
                                   "write to " + self->peer_ + " failed: " + ec.message());
                        return;
                      }
                      {
                        std::lock_guard lock(self->mu_);
                        for (std::size_t i = 0; i < self->writing_count_; ++i)
                          self->out_.pop_front();
                        self->queued_bytes_ -= self->writing_bytes_;
                        self->writing_ = false;
                      }
                      self->check_waiters();
                      bool empty;
                      {
                        std::lock_guard lock(self->mu_);
                        empty = self->out_.empty();
                      }
                      if (!empty) {
                        self->start_write();
                      } else if (self->flush_close_reason_) {
                        self->fail(self->flush_close_reason_->kind,
                                   self->flush_close_reason_->text);
                      }
                    }));
}

void FramedConnection::check_waiters() {
  if (waiters_.empty()) return;
  const std::size_t q = queued_bytes_;
  std::vector<std::function<void()>> ready;
  for (auto it = waiters_.begin(); it != waiters_.end();) {
    if (closed_ || q <= it->first) {
      ready.push_back(std::move(it->second));
      it = waiters_.erase(it);
    } else {
      ++it;
    }
  }
  for (auto& fn : ready) asio::post(strand_, std::move(fn));
}

void FramedConnection::when_queue_below(std::size_t limit, std::function<void()> fn) {
  asio::dispatch(strand_, [self = shared_from_this(), limit, fn = std::move(fn)]() mutable {
    if (self->closed_ || self->queued_bytes_ <= limit) {
      asio::post(self->strand_, std::move(fn));
    } else {
      self->waiters_.emplace_back(limit, std::move(fn));
    }
  });
}

// One loop reads every frame: exactly the rest of the header, then the
// payload in growing parts (transport::FrameAssembler).
void FramedConnection::read_next() {
  if (closed_) return;
  const std::span<std::byte> room = in_.room();
  asio::async_read(
      socket_, asio::buffer(room.data(), room.size()),
      asio::bind_executor(strand_, [self = shared_from_this()](const boost::system::error_code& ec,
                                                               std::size_t n) {
        if (self->closed_) return;
        const auto status = self->in_.filled(n);
        if (ec) return self->on_read_failed(ec);
        switch (status) {
          case transport::FrameAssembler::Status::more:
            return self->read_next();
          case transport::FrameAssembler::Status::frame:
            return self->on_frame_read(self->in_.take());
          case transport::FrameAssembler::Status::error:
            if (self->in_.error() == transport::FrameError::unexpected_kind)
              return self->fail(CloseKind::unauthenticated, "dropped " + self->peer_ + ": sent a " +
                                transport::frame_kind_name(self->in_.decoder().header().kind) +
                                " frame before authenticating");
            return self->fail(CloseKind::bad_frame, "bad frame from " + self->peer_ + ": " + self->in_.reason());
        }
      }));
}

void FramedConnection::on_read_failed(const boost::system::error_code& ec) {
  if (flush_close_reason_) return fail(flush_close_reason_->kind, flush_close_reason_->text);
  if (ec != asio::error::eof && ec != asio::error::connection_reset)
    return fail(CloseKind::io_error, "read from " + peer_ + " failed: " + ec.message());
  if (in_.end_of_stream() != transport::FrameError::none)
    return fail(CloseKind::bad_frame, "bad frame from " + peer_ + ": " + in_.reason());
  if (!authenticated_)
    return fail(CloseKind::unauthenticated, "dropped " + peer_ + ": closed the connection during job-secret authentication");
  fail(CloseKind::peer_closed, "connection closed by " + peer_);
}

void FramedConnection::on_frame_read(Frame&& f) {
  if (f.header.kind == wire::FrameKind::auth) {
    handle_auth_frame(std::move(f));
    if (closed_) return;
  } else {
    try {
      if (handlers_.on_frame) handlers_.on_frame(std::move(f));
    } catch (const std::exception& e) {
      fail(CloseKind::bad_frame, "bad frame from " + peer_ + ": " + e.what());
      return;
    }
  }
  read_next();
}

void FramedConnection::handle_auth_frame(Frame&& f) {
  if (authenticated_ || role_ == AuthRole::trusted || !handshake_) {
    fail(CloseKind::bad_frame,
         "bad frame from " + peer_ + ": unexpected auth frame after authentication");
    return;
  }
  handshake_->on_frame(f.header, f.payload);
  send_handshake_output();
  if (handshake_->failed()) {
    if (role_ == AuthRole::acceptor)
      return fail(CloseKind::unauthenticated,
                  "dropped " + peer_ + ": failed job-secret authentication");
    const std::string bad = peer_ + " failed job-secret authentication";
    // A wrong acceptor proof: our own proof is flushed first (see Handshake).
    if (handshake_->error() == transport::HandshakeError::wrong_secret)
      flush_close_reason_ = CloseReason(CloseKind::unauthenticated, bad);
    else
      fail(CloseKind::unauthenticated, bad);
    return;
  }
  if (handshake_->done()) {
    handshake_.reset();
    auth_complete();
  }
}

void FramedConnection::auth_complete() {
  auth_timer_.cancel();
  in_.set_limits(transport::FrameLimits(options_.max_length));
  {
    std::lock_guard lock(mu_);
    authenticated_ = true;
    for (auto& o : held_) out_.push_back(std::move(o));
    held_.clear();
  }
  start_write();
  if (handlers_.on_ready) {
    try {
      handlers_.on_ready();
    } catch (const std::exception& e) {
      fail(CloseKind::io_error, std::string("connection to ") + peer_ + " failed: " + e.what());
    }
  }
}

void FramedConnection::close(std::string reason, CloseKind kind) {
  asio::dispatch(strand_, [self = shared_from_this(), reason = std::move(reason), kind]() mutable {
    self->fail(kind, std::move(reason));
  });
}

void FramedConnection::close_after_flush(std::string reason) {
  asio::dispatch(strand_, [self = shared_from_this(), reason = std::move(reason)]() mutable {
    bool idle;
    {
      std::lock_guard lock(self->mu_);
      idle = !self->writing_ && self->out_.empty() && self->held_.empty();
    }
    if (idle)
      self->fail(CloseKind::closed_here, std::move(reason));
    else
      self->flush_close_reason_ = CloseReason(CloseKind::closed_here, std::move(reason));
  });
}

void FramedConnection::fail(CloseKind kind, std::string reason) {
  if (closed_.exchange(true)) return;
  boost::system::error_code ignored;
  auth_timer_.cancel();
  socket_.shutdown(asio::socket_base::shutdown_both, ignored);
  socket_.close(ignored);
  {
    std::lock_guard lock(mu_);
    // The frame being written may still be referenced by the aborted write;
    // the deque keeps it alive until this object dies.
    held_.clear();
    queued_bytes_ = 0;
  }
  check_waiters();
  auto handlers = std::move(handlers_);
  handlers_ = {};
  if (handlers.on_close) handlers.on_close(CloseReason(kind, std::move(reason)));
}

StreamSocket connect_tcp_socket(const asio::any_io_executor& executor, const std::string& host,
                                std::uint16_t port, const ConnectOptions& options) {
  asio::io_context resolver_io;
  asio::ip::tcp::resolver resolver(resolver_io);
  std::string last_error = "no attempt made";
  const int tries = options.tries < 1 ? 1 : options.tries;
  transport::RetrySchedule retry({.first_delay = options.retry_interval,
                                  .max_delay = options.retry_interval,
                                  .growth = 1,
                                  .max_attempts = tries});
  for (;;) {
    boost::system::error_code ec;
    auto results = resolver.resolve(host, std::to_string(port), ec);
    if (!ec) {
      asio::ip::tcp::socket s(resolver_io);
      asio::connect(s, results, ec);
      if (!ec) {
        s.set_option(asio::ip::tcp::no_delay(true), ec);
        const int family = s.local_endpoint().protocol().family();
        StreamSocket out(executor);
        out.assign(asio::generic::stream_protocol(family, IPPROTO_TCP), s.release());
        return out;
      }
    }
    last_error = ec.message();
    const auto next = retry.after_failure(transport::Clock::now());
    if (!next) break;
    std::this_thread::sleep_until(*next);
  }
  throw ConnectError("cannot connect to " + host + ":" + std::to_string(port) + " after " +
                     std::to_string(tries) + (tries == 1 ? " try: " : " tries: ") + last_error);
}

std::shared_ptr<FramedConnection> connect_and_authenticate(const asio::any_io_executor& executor,
                                                           const std::string& host,
                                                           std::uint16_t port,
                                                           const std::string& secret,
                                                           ConnectionHandlers handlers,
                                                           const ConnectOptions& options) {
  StreamSocket socket = connect_tcp_socket(executor, host, port, options);
  ConnectionOptions copts = options.connection;
  copts.auth_timeout = options.auth_timeout;
  auto conn = FramedConnection::create(std::move(socket), host + ":" + std::to_string(port), copts);
  struct State {
    std::promise<void> done;
    bool settled = false;
  };
  auto state = std::make_shared<State>();
  auto user_ready = std::move(handlers.on_ready);
  auto user_close = std::move(handlers.on_close);
  handlers.on_ready = [state, user_ready] {
    if (user_ready) user_ready();
    state->settled = true;
    state->done.set_value();
  };
  handlers.on_close = [state, user_close](const CloseReason& reason) {
    if (!state->settled) {
      state->settled = true;
      state->done.set_exception(std::make_exception_ptr(ConnectError(reason.text)));
      return;
    }
    if (user_close) user_close(reason);
  };
  auto ready = state->done.get_future();
  conn->start(AuthRole::connector, secret, std::move(handlers));
  ready.get();
  return conn;
}

std::future<std::shared_ptr<FramedConnection>> connect_in_background(
    asio::any_io_executor executor, std::string host, std::uint16_t port, std::string secret,
    ConnectionHandlers handlers, ConnectOptions options) {
  return std::async(std::launch::async, [=]() mutable {
    return connect_and_authenticate(executor, host, port, secret, std::move(handlers), options);
  });
}

}  // namespace rmpi::places::detail

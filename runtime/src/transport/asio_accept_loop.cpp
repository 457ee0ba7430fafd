#include <rmpi/transport/asio_accept_loop.hpp>

#include <cerrno>

#include <boost/asio/bind_executor.hpp>
#include <boost/asio/buffer.hpp>
#include <boost/asio/write.hpp>

namespace rmpi::transport {
namespace asio = boost::asio;

namespace {

constexpr auto kAcceptPause = std::chrono::milliseconds(100);

bool out_of_resources(const boost::system::error_code& ec) {
  return ec == asio::error::no_descriptors || ec.value() == ENFILE || ec == asio::error::no_buffer_space ||
         ec == asio::error::no_memory;
}

std::string address_of(const asio::ip::tcp::socket& s) {
  boost::system::error_code ec;
  const auto ep = s.remote_endpoint(ec);
  if (ec) return "?";
  const std::string a = ep.address().to_string();
  return (ep.address().is_v6() ? "[" + a + "]" : a) + ":" + std::to_string(ep.port());
}

}  // namespace

std::shared_ptr<AsioAcceptLoop> AsioAcceptLoop::create(asio::any_io_executor executor, AcceptorOptions options,
                                                       Acceptor::LogSink log, OnReady on_ready) {
  return std::shared_ptr<AsioAcceptLoop>(
      new AsioAcceptLoop(std::move(executor), std::move(options), std::move(log), std::move(on_ready)));
}

AsioAcceptLoop::AsioAcceptLoop(asio::any_io_executor executor, AcceptorOptions options, Acceptor::LogSink log,
                               OnReady on_ready)
    : executor_(executor),
      acceptor_(std::move(options), std::move(log)),
      on_ready_(std::move(on_ready)),
      timer_(executor),
      pause_(executor) {}

void AsioAcceptLoop::listen(asio::ip::tcp::acceptor acceptor) {
  listening_.push_back(std::make_unique<asio::ip::tcp::acceptor>(std::move(acceptor)));
  accept(listening_.size() - 1);
}

void AsioAcceptLoop::stop() {
  if (stopped_) return;
  stopped_ = true;
  boost::system::error_code ignored;
  for (auto& a : listening_) a->close(ignored);
  for (auto& [id, p] : pending_) p->socket.close(ignored);
  pending_.clear();
  timer_.cancel();
  pause_.cancel();
  acceptor_.flush_log(Clock::time_point::max());
}

void AsioAcceptLoop::accept(std::size_t index) {
  listening_[index]->async_accept(asio::bind_executor(
      executor_, [self = shared_from_this(), index](const boost::system::error_code& ec, Socket socket) {
        if (self->stopped_ || !self->listening_[index]->is_open()) return;
        if (!ec) {
          self->admit(std::move(socket));
        } else if (out_of_resources(ec)) {
          self->acceptor_.report("?", "cannot accept a connection: " + ec.message() + "; pausing the listener");
          self->arm_timer();
          self->pause_.expires_after(kAcceptPause);
          self->pause_.async_wait([self, index](const boost::system::error_code& e) {
            if (!e && !self->stopped_) self->accept(index);
          });
          return;
        }
        self->accept(index);
      }));
}

void AsioAcceptLoop::admit(Socket socket) {
  const auto id = acceptor_.admit(address_of(socket));
  if (!id) {
    boost::system::error_code ignored;
    socket.close(ignored);
  } else {
    boost::system::error_code ignored;
    socket.set_option(asio::ip::tcp::no_delay(true), ignored);
    pending_.emplace(*id, std::make_unique<Pending>(std::move(socket)));
    read(*id);
  }
  arm_timer();
}

void AsioAcceptLoop::read(Acceptor::Id id) {
  Pending& p = *pending_.at(id);
  const std::size_t want = std::min(acceptor_.want(id), p.in.size());
  p.socket.async_read_some(
      asio::buffer(p.in.data(), want),
      asio::bind_executor(executor_, [self = shared_from_this(), id](const boost::system::error_code& ec,
                                                                     std::size_t n) { self->on_read(id, ec, n); }));
}

void AsioAcceptLoop::on_read(Acceptor::Id id, const boost::system::error_code& ec, std::size_t n) {
  const auto it = pending_.find(id);
  if (stopped_ || it == pending_.end()) return;  // expired meanwhile
  Pending& p = *it->second;
  if (ec) {
    acceptor_.closed(id, ec == asio::error::eof ? std::string() : "read failed (" + ec.message() + ")");
    pending_.erase(it);
    return arm_timer();
  }
  Acceptor::Progress progress = acceptor_.feed(id, std::span<const std::byte>(p.in.data(), n));
  switch (progress.outcome) {
    case Acceptor::Outcome::dropped:
      pending_.erase(it);
      return arm_timer();
    case Acceptor::Outcome::ready: {
      Socket socket = std::move(p.socket);
      pending_.erase(it);
      arm_timer();
      return on_ready_(std::move(socket), acceptor_.take(id));
    }
    case Acceptor::Outcome::pending:
      break;
  }
  if (progress.reply.empty()) return read(id);
  p.out = std::move(progress.reply);
  asio::async_write(p.socket, asio::buffer(p.out),
                    asio::bind_executor(executor_, [self = shared_from_this(), id](
                                                       const boost::system::error_code& wec, std::size_t) {
                      if (self->stopped_ || !self->pending_.count(id)) return;
                      if (!wec) return self->read(id);
                      self->acceptor_.drop(id, "cannot answer its challenge (" + wec.message() + ")");
                      self->pending_.erase(id);
                      self->arm_timer();
                    }));
}

// One timer for the nearest deadline or held-back log line.
void AsioAcceptLoop::arm_timer() {
  const auto due = acceptor_.next_due();
  if (stopped_ || !due || (timer_at_ && *timer_at_ <= *due)) return;
  timer_at_ = due;
  timer_.expires_at(*due);
  timer_.async_wait([self = shared_from_this()](const boost::system::error_code& ec) {
    if (ec || self->stopped_) return;
    self->timer_at_.reset();
    const auto now = Clock::now();
    for (const Acceptor::Id id : self->acceptor_.expire(now)) self->pending_.erase(id);
    self->acceptor_.flush_log(now);
    self->arm_timer();
  });
}

}  // namespace rmpi::transport

#include <rmpi/rendezvous.hpp>

#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <condition_variable>
#include <mutex>
#include <optional>
#include <set>
#include <thread>

#include <rmpi/error.hpp>
#include <rmpi/message.hpp>

#include "net.hpp"

namespace rmpi {

namespace {
constexpr auto kHandshakeTime = std::chrono::seconds(10);
constexpr const char* kOrigin = "rendezvous";
}  // namespace

struct RendezvousServer::Impl {
  detail::Fd listener;
  detail::Fd stop_event;
  std::uint16_t port = 0;
  std::string secret;
  std::uint32_t count = 0;

  mutable std::mutex mu;
  std::condition_variable cv;
  std::vector<std::optional<std::string>> blobs;
  std::vector<detail::Fd> conns;
  std::uint32_t arrived = 0;
  bool done = false;
  bool stopping = false;
  std::size_t rejected = 0;
  std::set<int> active;
  std::vector<std::thread> handlers;
  std::thread acceptor;

  void accept_loop() {
    for (;;) {
      pollfd fds[2] = {{listener.get(), POLLIN, 0}, {stop_event.get(), POLLIN, 0}};
      if (::poll(fds, 2, -1) < 0) {
        if (errno == EINTR) continue;
        return;
      }
      if (fds[1].revents) return;
      const int c = ::accept4(listener.get(), nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK);
      if (c < 0) continue;
      std::lock_guard lock(mu);
      if (stopping) {
        ::close(c);
        return;
      }
      active.insert(c);
      handlers.emplace_back([this, c] { serve(c); });
    }
  }

  void serve(int raw) {
    detail::Fd fd(raw);
    const std::string who = detail::peer_name(raw);
    bool complete = false;
    try {
      const auto deadline = detail::Clock::now() + kHandshakeTime;
      detail::auth_as_acceptor(raw, secret, deadline);
      detail::Frame f = detail::read_frame(raw, kMaxRendezvousBlob, deadline);
      if (f.header.kind != wire::FrameKind::control)
        throw ProtocolError("expected a control frame with the participant's blob");
      if (f.header.channel != count)
        throw ProtocolError("the participant expects " + std::to_string(f.header.channel) +
                            " participants where this rendezvous serves " + std::to_string(count));
      const std::uint32_t id = f.header.source;
      if (id >= count)
        throw ProtocolError("participant id " + std::to_string(id) + " is not below " +
                            std::to_string(count));
      std::lock_guard lock(mu);
      if (blobs[id]) throw ProtocolError("participant id " + std::to_string(id) + " arrived twice");
      blobs[id].emplace(reinterpret_cast<const char*>(f.payload.data()), f.payload.size());
      conns[id] = std::move(fd);
      complete = ++arrived == count;
    } catch (const std::exception& e) {
      detail::log_line("warning", kOrigin,
                       "dropped a connection from " + who + ": " + std::string(e.what()));
      std::lock_guard lock(mu);
      ++rejected;
      active.erase(raw);
      return;
    }
    if (complete) deliver();
  }

  // Sends the table to every participant and closes their connections.
  void deliver() {
    std::vector<std::string> table;
    std::vector<detail::Fd> to;
    {
      std::lock_guard lock(mu);
      for (auto& b : blobs) table.push_back(*b);
      to = std::move(conns);
    }
    const places::Message m = places::encode(table);
    const auto deadline = detail::Clock::now() + kHandshakeTime;
    for (auto& c : to) {
      try {
        detail::write_frame(c.get(),
                            {.kind = wire::FrameKind::control, .type_tag = m.type_tag}, m.payload,
                            deadline);
      } catch (const std::exception& e) {
        detail::log_line("warning", kOrigin, "could not send the table: " + std::string(e.what()));
      }
    }
    std::lock_guard lock(mu);
    for (auto& c : to) active.erase(c.get());
    to.clear();
    done = true;
    cv.notify_all();
  }
};

RendezvousServer::RendezvousServer(const std::string& host, std::uint16_t port, std::string secret,
                                   std::uint32_t count)
    : impl_(std::make_unique<Impl>()) {
  impl_->listener = detail::listen_tcp(host, port, port);
  impl_->port = detail::local_port(impl_->listener.get());
  impl_->stop_event.reset(::eventfd(0, EFD_CLOEXEC));
  impl_->secret = std::move(secret);
  impl_->count = count;
  impl_->blobs.resize(count);
  impl_->conns.resize(count);
  if (count == 0) impl_->done = true;
  impl_->acceptor = std::thread([this] { impl_->accept_loop(); });
}

RendezvousServer::~RendezvousServer() {
  {
    std::lock_guard lock(impl_->mu);
    impl_->stopping = true;
    for (int fd : impl_->active) ::shutdown(fd, SHUT_RDWR);
  }
  const std::uint64_t one = 1;
  (void)!::write(impl_->stop_event.get(), &one, sizeof one);
  impl_->acceptor.join();
  std::vector<std::thread> hs;
  {
    std::lock_guard lock(impl_->mu);
    hs = std::move(impl_->handlers);
  }
  for (auto& h : hs) h.join();
}

std::uint16_t RendezvousServer::port() const { return impl_->port; }

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
    detail::write_frame(fd.get(), {.kind = wire::FrameKind::control, .source = id, .channel = count},
                        std::as_bytes(std::span(blob.data(), blob.size())), deadline);
    const detail::Frame f = detail::read_frame(fd.get(), std::uint64_t{count} * kMaxRendezvousBlob + 4096,
                                               deadline);
    if (f.header.kind != wire::FrameKind::control)
      throw ProtocolError("the reply is not a control frame");
    auto table = places::decode<std::vector<std::string>>(places::Message{f.header.type_tag, f.payload});
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

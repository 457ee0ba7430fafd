#include <rmpi/remote_connection.hpp>

#include <thread>

#include <rmpi/error.hpp>

#include "remote_impl.hpp"

namespace rmpi::places {

void RemoteConnection::set_on_channel_message(
    std::function<void(RemoteConnection&, const Message&)> fn) {
  if (!impl_) throw Error("set_on_channel on an empty RemoteConnection");
  std::weak_ptr<Impl> weak = impl_;
  impl_->ep->set_handler([weak, fn = std::move(fn)](Message m) {
    auto impl = weak.lock();
    if (!impl) return;
    RemoteConnection self(impl, PlaceChannel(impl->ep));
    fn(self, m);
  });
}

int RemoteConnection::wait() {
  if (!impl_) throw Error("wait on an empty RemoteConnection");
  std::unique_lock lock(impl_->mu);
  impl_->cv.wait(lock, [&] { return impl_->closed; });
  if (impl_->status) return *impl_->status;
  if (impl_->lost) throw ChannelClosed(impl_->label + ": " + *impl_->lost);
  return 0;
}

std::optional<int> RemoteConnection::try_wait() const {
  if (!impl_) return std::nullopt;
  std::lock_guard lock(impl_->mu);
  if (!impl_->closed) return std::nullopt;
  return impl_->status.value_or(0);
}

void RemoteConnection::Impl::finish(std::optional<int> code, const std::string& reason) {
  {
    std::lock_guard lock(mu);
    if (closed) return;
    closed = true;
    status = code;
  }
  ep->close(reason);
  cv.notify_all();
}

void RemoteConnection::Impl::on_closed(const std::string& reason) { finish(std::nullopt, reason); }

void RemoteConnection::Impl::on_lost(const std::string& reason) {
  {
    std::lock_guard lock(mu);
    if (!closed) lost = reason;
  }
  finish(std::nullopt, reason);
}

void RemoteConnection::Impl::on_exited(int code, const std::string& description) {
  const std::string reason = label + " " + description;
  const RestartPolicy& policy = options.restart_on_exit;
  auto n = node.lock();
  if (!policy.enabled() || !n || !spawned) {
    finish(code, reason);
    return;
  }
  auto self = shared_from_this();
  auto respawn = [self] {
    auto n = self->node.lock();
    if (!n) return;
    self->started = Clock::now();
    n->spawn(self, [self](std::optional<std::string> error) {
      if (error) {
        detail::emit_log({"error", detail::log_origin(),
                          "cannot restart " + self->label + ": " + *error, detail::unix_time_us()});
        self->finish(std::nullopt, "restart failed: " + *error);
      } else if (!self->options.initial_message.is_null()) {
        self->ep->send(encode(self->options.initial_message));
      }
    });
  };
  if (policy.respawns_at_once()) {
    respawn();
    return;
  }
  if (const auto* proc = policy.procedure()) {
    finish(code, reason);
    detail::run_handler(*proc);
    return;
  }
  const Restarter& r = *policy.restarter();
  const auto alive = Clock::now() - started;
  if (alive >= std::chrono::duration<double>(2 * r.seconds)) retries = 0;
  if (r.retry && retries >= *r.retry) {
    finish(code, reason + "; no restarts left");
    if (r.on_final_fail) detail::run_handler(r.on_final_fail);
    return;
  }
  ++retries;
  std::thread([respawn, seconds = r.seconds] {
    std::this_thread::sleep_for(std::chrono::duration<double>(seconds));
    respawn();
  }).detach();
}

}  // namespace rmpi::places

#include <rmpi/remote_connection.hpp>

#include <signal.h>

#include <boost/asio/post.hpp>

#include <rmpi/error.hpp>

#include "io_thread.hpp"
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
  bool holder_closed;
  {
    std::lock_guard lock(mu);
    holder_closed = closed || killed;
    stop_signal.reset();
  }
  bool node_ending = true;  // a place that ends with its node is not restarted
  if (auto n = node.lock()) {
    std::lock_guard lock(n->mu);
    node_ending = n->exit_sent;
  }
  if (!policy.enabled() || !spawned || node_ending || holder_closed) {
    finish(code, reason);
    return;
  }
  auto self = shared_from_this();
  if (policy.respawns_at_once()) {
    respawn();
    return;
  }
  if (const auto* procedure = policy.procedure()) {
    finish(code, reason);
    detail::run_handler(*procedure);
    return;
  }
  if (const auto* strategy = policy.strategy()) {
    detail::run_handler([restart = *strategy, self] { restart([self] { self->respawn(); }); });
    return;
  }
  const Restarter& r = *policy.restarter();
  if (!schedule) schedule.emplace(r, started);
  const auto next = schedule->exited(Clock::now());
  if (!next) {
    finish(code, reason + "; gave up after " + std::to_string(schedule->tries()) +
                     " restarts in a row");
    if (r.on_final_fail) detail::run_handler(r.on_final_fail);
    return;
  }
  restart_timer = std::make_unique<boost::asio::steady_timer>(detail::io_context(), next->delay);
  restart_timer->async_wait([self](const boost::system::error_code& ec) {
    if (!ec) self->respawn();
  });
}

void RemoteConnection::Impl::respawn() {
  auto n = node.lock();
  if (!n) {
    finish(std::nullopt, "cannot restart " + label + ": its node is gone");
    return;
  }
  bool was_killed;
  {
    std::lock_guard lock(mu);
    if (closed) return;
    was_killed = killed;
  }
  if (was_killed) {
    // Killed while its restart was pending: there is no place left to kill.
    finish(128 + SIGKILL, label + " was killed by its holder");
    return;
  }
  auto self = shared_from_this();
  n->spawn(self, [self](std::optional<Refusal> error) {
    if (error) {
      detail::emit_log({"error", detail::log_origin(),
                        "cannot restart " + self->label + ": " + error->reason,
                        detail::unix_time_us()});
      self->finish(std::nullopt, "restart failed: " + error->reason);
      return;
    }
    self->started = Clock::now();
    if (self->schedule) self->schedule->started(self->started);
    if (!self->options.initial_message.is_null())
      self->ep->send(encode(self->options.initial_message));
    std::function<void(RemoteConnection&, int)> observer;
    int count;
    {
      std::lock_guard lock(self->mu);
      count = ++self->restarts;
      observer = self->on_restart;
    }
    self->cv.notify_all();
    if (observer)
      detail::run_handler([self, observer, count] {
        RemoteConnection rc(self, PlaceChannel(self->ep));
        observer(rc, count);
      });
  });
}

void RemoteConnection::Impl::close_by_holder() {
  {
    std::lock_guard lock(mu);
    if (closed) return;
  }
  // The pending restart (if any) is cancelled on the timer's own thread.
  boost::asio::post(detail::io_context(), [self = shared_from_this()] {
    if (self->restart_timer) self->restart_timer->cancel();
  });
  if (auto n = node.lock()) n->close_channel(ep->id());
  finish(std::nullopt, label + " was closed by its holder");
}

void RemoteConnection::Impl::kill_by_holder() {
  {
    std::lock_guard lock(mu);
    if (closed || killed) return;
    killed = true;
  }
  // A pending restart then finds it killed (respawn).
  if (auto n = node.lock()) n->kill_place(ep->id());
  // Sends fail from now on; wait() waits for the node's PlaceExited (or its loss).
  ep->close(label + " was killed by its holder");
}

void RemoteConnection::Impl::on_run_state(int signal) {
  std::vector<std::function<void(RemoteConnection&, int)>> observers;
  {
    std::lock_guard lock(mu);
    if (closed) return;
    if (signal != 0) stop_signal = signal;
    else stop_signal.reset();
    observers = on_stop_change;
  }
  auto self = shared_from_this();
  for (auto& fn : observers)
    detail::run_handler([self, fn, signal] {
      RemoteConnection rc(self, PlaceChannel(self->ep));
      fn(rc, signal);
    });
}

void RemoteConnection::kill() {
  if (!impl_) return;
  if (!impl_->spawned) return close();
  impl_->kill_by_holder();
}

std::optional<int> RemoteConnection::stop_signal() const {
  if (!impl_) return std::nullopt;
  std::lock_guard lock(impl_->mu);
  return impl_->stop_signal;
}

void RemoteConnection::add_on_stop_change(std::function<void(RemoteConnection&, int signal)> fn) {
  if (!impl_) throw Error("add_on_stop_change on an empty RemoteConnection");
  std::optional<int> now;
  {
    std::lock_guard lock(impl_->mu);
    impl_->on_stop_change.push_back(fn);
    now = impl_->stop_signal;
  }
  if (now)
    detail::run_handler([self = impl_, fn = std::move(fn), sig = *now] {
      RemoteConnection rc(self, PlaceChannel(self->ep));
      fn(rc, sig);
    });
}

void RemoteConnection::close() {
  if (impl_) impl_->close_by_holder();
}

int RemoteConnection::pid() const {
  if (!impl_) return 0;
  std::lock_guard lock(impl_->mu);
  return impl_->pid;
}

int RemoteConnection::restart_count() const {
  if (!impl_) return 0;
  std::lock_guard lock(impl_->mu);
  return impl_->restarts;
}

void RemoteConnection::set_on_restart(std::function<void(RemoteConnection&, int)> fn) {
  if (!impl_) throw Error("set_on_restart on an empty RemoteConnection");
  std::lock_guard lock(impl_->mu);
  impl_->on_restart = std::move(fn);
}

}  // namespace rmpi::places

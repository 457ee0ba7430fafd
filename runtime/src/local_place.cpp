// dynamic_place (a child process running a registered function, linked by a
// socketpair and speaking the node↔place protocol) and place (a thread of
// this process with an in-memory channel).
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <condition_variable>
#include <cstdlib>
#include <future>
#include <map>
#include <mutex>
#include <thread>

#include <boost/asio/generic/stream_protocol.hpp>

#include <rmpi/error.hpp>
#include <rmpi/log.hpp>

#include "client_endpoints.hpp"
#include "io_thread.hpp"
#include "local_place.hpp"
#include "place_run.hpp"
#include "process.hpp"

namespace rmpi::places {

namespace {

using detail::LinkEndpoint;
using detail::QueueEndpoint;

// Where the child finds its end of the socketpair.
constexpr int kChildFd = 3;
constexpr auto kReadyTimeout = std::chrono::seconds(30);
constexpr auto kDrainTimeout = std::chrono::seconds(5);

class ThreadPlace final : public Place::Impl {
 public:
  explicit ThreadPlace(std::shared_ptr<QueueEndpoint> inner) : inner_(std::move(inner)) {}

  void finish(int code) {
    {
      std::lock_guard lock(mu_);
      code_ = code;
    }
    cv_.notify_all();
  }
  int wait() override {
    std::unique_lock lock(mu_);
    cv_.wait(lock, [&] { return code_.has_value(); });
    return *code_;
  }
  std::optional<int> try_wait() override {
    std::lock_guard lock(mu_);
    return code_;
  }
  void kill() override { inner_->shutdown("place killed"); }
  PlaceChannel offer_connection() override {
    auto [mine, theirs] = detail::make_queue_pair("connection to an in-process place");
    inner_->offer(PlaceChannel(theirs));
    return PlaceChannel(mine);
  }

 private:
  std::shared_ptr<QueueEndpoint> inner_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::optional<int> code_;
};

class ProcessPlace final : public Place::Impl,
                           public std::enable_shared_from_this<ProcessPlace> {
 public:
  ProcessPlace(std::string func, pid_t pid) : func_(std::move(func)), pid_(pid) {}

  std::string label() const { return "place " + func_ + " (pid " + std::to_string(pid_) + ")"; }

  void attach(std::shared_ptr<detail::FramedConnection> conn) {
    conn_ = std::move(conn);
    main_ = std::make_shared<LinkEndpoint>(conn_, 0, label());
  }
  const std::shared_ptr<LinkEndpoint>& main() const { return main_; }

  void on_frame(detail::Frame&& f) {
    if (f.header.kind == wire::FrameKind::data) {
      Message m{f.header.type_tag, std::move(f.payload)};
      if (f.header.channel == 0) {
        main_->deliver(std::move(m));
      } else if (auto ep = sub(f.header.channel)) {
        ep->deliver(std::move(m));
      }
      return;
    }
    if (f.header.kind != wire::FrameKind::control) return;
    std::visit(
        [&](auto&& msg) {
          using T = std::decay_t<decltype(msg)>;
          if constexpr (std::is_same_v<T, protocol::PlaceReady>) {
            set_ready(msg);
          } else if constexpr (std::is_same_v<T, protocol::Log>) {
            detail::emit_log(msg);
          } else if constexpr (std::is_same_v<T, protocol::CloseChannel>) {
            if (auto ep = sub(msg.channel)) ep->close("closed by " + label());
          }
        },
        detail::decode_control(f.payload));
  }

  void on_close(const std::string& reason) {
    set_ready({false, label() + " ended before it was ready: " + reason});
    const std::string why = label() + " ended";
    main_->close(why);
    std::map<std::uint32_t, std::shared_ptr<LinkEndpoint>> subs;
    {
      std::lock_guard lock(mu_);
      subs.swap(subs_);
      link_closed_ = true;
    }
    for (auto& [id, ep] : subs) ep->close(why);
    cv_.notify_all();
  }

  void on_exit(const detail::ExitStatus& s) {
    {
      std::lock_guard lock(mu_);
      status_ = s;
    }
    cv_.notify_all();
  }

  protocol::PlaceReady wait_ready() {
    auto fut = ready_.get_future();
    if (fut.wait_for(kReadyTimeout) != std::future_status::ready) {
      kill();
      throw SpawnError(label() + " did not report ready within 30 s");
    }
    return fut.get();
  }

  int wait() override {
    std::unique_lock lock(mu_);
    cv_.wait(lock, [&] { return status_.has_value(); });
    // Everything the place sent before it ended is delivered before we return.
    cv_.wait_for(lock, kDrainTimeout, [&] { return link_closed_; });
    return status_->status;
  }
  std::optional<int> try_wait() override {
    std::lock_guard lock(mu_);
    if (!status_) return std::nullopt;
    return status_->status;
  }
  void kill() override {
    std::lock_guard lock(mu_);
    if (!status_) ::kill(pid_, SIGKILL);
  }
  int pid() const override { return pid_; }
  PlaceChannel offer_connection() override {
    std::shared_ptr<LinkEndpoint> ep;
    {
      std::lock_guard lock(mu_);
      const std::uint32_t id = next_id_++;
      ep = std::make_shared<LinkEndpoint>(conn_, id,
                                          "connection " + std::to_string(id) + " to " + label());
      if (link_closed_) ep->close(label() + " ended");
      else subs_[id] = ep;
      conn_->send_control(protocol::NewConnection{id});
    }
    return PlaceChannel(ep);
  }

 private:
  std::shared_ptr<LinkEndpoint> sub(std::uint32_t id) {
    std::lock_guard lock(mu_);
    auto it = subs_.find(id);
    return it == subs_.end() ? nullptr : it->second;
  }
  void set_ready(protocol::PlaceReady r) {
    std::lock_guard lock(mu_);
    if (ready_set_) return;
    ready_set_ = true;
    ready_.set_value(std::move(r));
  }

  std::string func_;
  pid_t pid_;
  std::shared_ptr<detail::FramedConnection> conn_;
  std::shared_ptr<LinkEndpoint> main_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::map<std::uint32_t, std::shared_ptr<LinkEndpoint>> subs_;
  std::uint32_t next_id_ = 1;
  bool link_closed_ = false;
  bool ready_set_ = false;
  std::promise<protocol::PlaceReady> ready_;
  std::optional<detail::ExitStatus> status_;
};

}  // namespace

int Place::wait() {
  if (!impl_) throw Error("Place::wait on an empty Place handle");
  return impl_->wait();
}

std::optional<int> Place::try_wait() {
  if (!impl_) throw Error("Place::try_wait on an empty Place handle");
  return impl_->try_wait();
}

void Place::kill() {
  if (impl_) impl_->kill();
}

int Place::pid() const { return impl_ ? impl_->pid() : 0; }

Place dynamic_place(const std::string& module, const std::string& func) {
  int sv[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0)
    throw SpawnError("dynamic_place " + func + " in " + module + ": socketpair failed");

  detail::ProcessSpec spec;
  spec.argv = {module};
  spec.env = {{"RMPI_PLACE_FUNC", func},
              {"RMPI_PLACE_THUNK", "0"},
              {"RMPI_PLACE_FD", std::to_string(kChildFd)},
              {"RMPI_PLACE_NAME", ""}};
  if (!std::getenv("RMPI_LOG_ORIGIN"))
    spec.env.emplace_back("RMPI_LOG_ORIGIN", "PLACE " + detail::host_name() + " (" + func + ")");
  spec.fds = {{sv[1], kChildFd}};
  spec.stdin_mode = detail::Stdio::null;
  // The place ends when its link to us drops; PDEATHSIG would follow the
  // spawning thread, not this process.
  spec.die_with_parent = false;
  detail::ChildProcess child;
  try {
    child = detail::spawn_process(spec);
  } catch (...) {
    ::close(sv[0]);
    ::close(sv[1]);
    throw;
  }
  ::close(sv[1]);
  auto impl = std::make_shared<ProcessPlace>(func, child.pid);
  boost::asio::generic::stream_protocol::socket sock(
      detail::io_context(), boost::asio::generic::stream_protocol(AF_UNIX, SOCK_STREAM), sv[0]);
  auto conn = detail::FramedConnection::create(std::move(sock), impl->label());
  impl->attach(conn);
  std::weak_ptr<ProcessPlace> weak = impl;
  detail::ConnectionHandlers h;
  h.on_frame = [impl](detail::Frame&& f) { impl->on_frame(std::move(f)); };
  h.on_close = [impl](const detail::CloseReason& reason) { impl->on_close(reason.text); };
  conn->start(detail::AuthRole::trusted, "", std::move(h));
  detail::watch_child(child.pid, [weak](detail::ExitStatus s) {
    if (auto p = weak.lock()) p->on_exit(s);
  });

  const auto ready = impl->wait_ready();
  if (!ready.ok) {
    impl->kill();
    if (ready.failure == protocol::Failure::no_function) throw NameError(ready.reason);
    throw SpawnError("dynamic_place " + func + " in " + module + ": " + ready.reason);
  }
  return Place(impl, PlaceChannel(impl->main()));
}

Place place(std::function<void(PlaceChannel)> body) {
  auto [outer, inner] = detail::make_queue_pair("in-process place");
  auto impl = std::make_shared<ThreadPlace>(inner);
  std::thread([impl, inner = inner, body = std::move(body)] {
    const int code = detail::run_place_body(body, PlaceChannel(inner), "in-process place");
    inner->shutdown("in-process place ended");
    impl->finish(code);
  }).detach();
  return Place(impl, PlaceChannel(outer));
}

}  // namespace rmpi::places

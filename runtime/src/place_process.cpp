// places::init: the place side of the node↔place link. A process started as
// a place (RMPI_PLACE_FUNC set) talks to its node over the inherited socket
// RMPI_PLACE_FD (trusted: the node made the socketpair): PlaceReady first,
// then data frames on channel 0 (its PlaceChannel) and on the channels of
// named-place connections (NewConnection / CloseChannel), and Log frames.
// A thread place of a module host (module_host.hpp) speaks the same over
// the socket the node passed to its host, and ends with PlaceExited instead
// of its process's exit.
#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <future>
#include <iostream>
#include <map>
#include <mutex>

#include <boost/asio/generic/stream_protocol.hpp>

#include <rmpi/error.hpp>
#include <rmpi/log.hpp>

#include "client_endpoints.hpp"
#include "io_thread.hpp"
#include "local_place.hpp"
#include "module_host.hpp"
#include "place_run.hpp"
#include "process.hpp"

namespace rmpi::places {

namespace {

using detail::LinkEndpoint;

bool place_process = false;

std::string env_or(const char* name, const char* fallback) {
  const char* v = std::getenv(name);
  return v ? v : fallback;
}

// Where the log lines of a module host's thread places go: the link of the
// place whose thread logs, else any open link of the host (they all reach
// the same node).
std::mutex thread_links_mu;
std::vector<std::weak_ptr<detail::FramedConnection>> thread_links;
thread_local std::weak_ptr<detail::FramedConnection> this_thread_link;

/// Drops the links of ended thread places (thread_links_mu held).
void forget_closed_thread_links() {
  std::erase_if(thread_links, [](const auto& weak) {
    auto c = weak.lock();
    return !c || !c->is_open();
  });
}

void send_thread_place_log(const protocol::Log& log) {
  std::shared_ptr<detail::FramedConnection> conn = this_thread_link.lock();
  if (!conn || !conn->is_open()) {
    std::lock_guard lock(thread_links_mu);
    forget_closed_thread_links();
    conn = thread_links.empty() ? nullptr : thread_links.front().lock();
  }
  if (conn) conn->send_control(log);
}

// The place's link to its node. A thread place's link ends only its place,
// never the process.
class NodeLink : public std::enable_shared_from_this<NodeLink> {
 public:
  NodeLink(int fd, std::string label, bool thread_place)
      : label_(std::move(label)), thread_place_(thread_place) {
    sockaddr_storage ss{};
    socklen_t len = sizeof ss;
    int family = AF_UNIX;
    if (::getsockname(fd, reinterpret_cast<sockaddr*>(&ss), &len) == 0) family = ss.ss_family;
    boost::asio::generic::stream_protocol::socket sock(
        detail::io_context(), boost::asio::generic::stream_protocol(family, SOCK_STREAM), fd);
    conn_ = detail::FramedConnection::create(std::move(sock), "node of " + label_);
    main_ = std::make_shared<LinkEndpoint>(conn_, 0, label_);
  }

  void start() {
    detail::ConnectionHandlers h;
    std::weak_ptr<NodeLink> weak = shared_from_this();
    h.on_frame = [weak](detail::Frame&& f) {
      if (auto self = weak.lock()) self->on_frame(std::move(f));
    };
    h.on_close = [weak](const detail::CloseReason& reason) {
      if (auto self = weak.lock()) self->on_close(reason.text);
    };
    conn_->start(detail::AuthRole::trusted, "", std::move(h));
    if (thread_place_) {
      this_thread_link = conn_;
      std::lock_guard lock(thread_links_mu);
      forget_closed_thread_links();
      thread_links.push_back(conn_);
    } else {
      detail::set_log_sink([conn = conn_](const protocol::Log& log) { conn->send_control(log); });
    }
  }

  const std::shared_ptr<LinkEndpoint>& main() const { return main_; }
  detail::FramedConnection& conn() { return *conn_; }

  /// Where new connections go (default: offered to the main channel).
  void set_connection_sink(std::function<void(PlaceChannel)> sink) {
    std::vector<PlaceChannel> early;
    {
      std::lock_guard lock(mu_);
      sink_ = std::move(sink);
      early.swap(early_);
    }
    for (auto& ch : early) sink_(ch);
  }

  /// Sends everything queued, then ends the process with `code`.
  [[noreturn]] void exit(int code) {
    close_after_flush();
    _exit(code);
  }

  /// A thread place's end: PlaceExited with `code`, sent after everything queued.
  void finish_thread(int code) {
    conn_->send_control(
        protocol::PlaceExited{0, code, detail::ExitStatus{code, 0}.description()});
    close_after_flush();
  }

 private:
  void on_frame(detail::Frame&& f) {
    if (f.header.kind == wire::FrameKind::data) {
      Message m{f.header.type_tag, std::move(f.payload)};
      if (f.header.channel == 0) {
        main_->deliver(std::move(m));
      } else {
        std::shared_ptr<LinkEndpoint> ep;
        {
          std::lock_guard lock(mu_);
          auto it = subs_.find(f.header.channel);
          if (it != subs_.end()) ep = it->second;
        }
        if (ep) ep->deliver(std::move(m));
      }
      return;
    }
    if (f.header.kind != wire::FrameKind::control) return;
    std::visit(
        [&](auto&& msg) {
          using T = std::decay_t<decltype(msg)>;
          if constexpr (std::is_same_v<T, protocol::NewConnection>) {
            auto ep = std::make_shared<LinkEndpoint>(
                conn_, msg.channel, "connection " + std::to_string(msg.channel) + " to " + label_);
            std::function<void(PlaceChannel)> sink;
            {
              std::lock_guard lock(mu_);
              subs_[msg.channel] = ep;
              sink = sink_;
              if (!sink) early_.push_back(PlaceChannel(ep));
            }
            if (sink) sink(PlaceChannel(ep));
          } else if constexpr (std::is_same_v<T, protocol::CloseChannel>) {
            std::shared_ptr<LinkEndpoint> ep;
            {
              std::lock_guard lock(mu_);
              auto it = subs_.find(msg.channel);
              if (it != subs_.end()) {
                ep = it->second;
                subs_.erase(it);
              }
            }
            if (msg.channel == 0) main_->close("closed by the node");
            if (ep) ep->close("the client closed the connection");
          } else if constexpr (std::is_same_v<T, protocol::Exit>) {
            if (!thread_place_) _exit(msg.code);
            conn_->close("the node ended the place");
          }
        },
        detail::decode_control(f.payload));
  }

  void on_close(const std::string& reason) {
    bool exiting;
    std::map<std::uint32_t, std::shared_ptr<LinkEndpoint>> subs;
    {
      std::lock_guard lock(mu_);
      exiting = exiting_;
      subs.swap(subs_);
    }
    if (!exiting && !thread_place_) {
      // The node is gone: a place never outlives its node.
      std::fflush(nullptr);
      _exit(1);
    }
    if (!exiting) {
      // A thread place's link closed under it: its channels fail, its thread goes on
      // until it notices.
      main_->close("the node closed the link of " + label_ + ": " + reason);
      for (auto& [channel, ep] : subs) ep->close("the node closed the link of " + label_);
    }
    closed_.set_value();
  }

  void close_after_flush() {
    std::cout.flush();
    std::cerr.flush();
    std::fflush(nullptr);
    {
      std::lock_guard lock(mu_);
      exiting_ = true;
    }
    conn_->close_after_flush("place exited");
    closed_future_.wait_for(std::chrono::seconds(10));
  }

  std::string label_;
  bool thread_place_;
  std::shared_ptr<detail::FramedConnection> conn_;
  std::shared_ptr<LinkEndpoint> main_;
  std::mutex mu_;
  std::map<std::uint32_t, std::shared_ptr<LinkEndpoint>> subs_;
  std::function<void(PlaceChannel)> sink_;
  std::vector<PlaceChannel> early_;
  bool exiting_ = false;
  std::promise<void> closed_;  // set once, by on_close
  std::shared_future<void> closed_future_ = closed_.get_future().share();
};

// Thunk mode: the node's channel 0 and connections are bridged to the place
// the thunk made; the exit code is that place's.
int run_thunk(NodeLink& link, PlaceThunk thunk, const std::string& name) {
  Place p;
  const std::string what = "place thunk " + name;
  if (const int code = detail::run_place_code([&] { p = thunk(); return 0; }, what); code != 0)
    return code;
  if (!p.valid()) {
    log_message(Severity::error, what + " returned no place");
    return 1;
  }
  auto impl = p.impl();
  link.set_connection_sink([impl](PlaceChannel ch) { detail::bridge(ch, impl->offer_connection()); });
  PlaceChannel node_side(link.main());
  PlaceChannel place_side = p.channel();
  std::thread([node_side, place_side]() mutable {
    try {
      for (;;) place_side.put_message(node_side.get_message());
    } catch (const std::exception&) {
      // Either side ended; the place's own end decides the exit code below.
    }
  }).detach();
  try {
    for (;;) node_side.put_message(place_side.get_message());
  } catch (const std::exception&) {
    // The place's channel closed: it ended.
  }
  return p.wait();
}

// Runs the registered `name` over `link`: PlaceReady, then the function (or
// the thunk); the place's exit code (127 if `name` is not registered).
int run_on_link(NodeLink& link, const std::string& name, bool thunk_mode) {
  const PlaceFunction fn = detail::find_place(name);
  const PlaceThunk thunk = detail::find_place_thunk(name);
  if (!fn && !thunk) {
    link.conn().send_control(
        protocol::PlaceReady{false, "no place function '" + name + "' registered in " + executable_path(),
                             protocol::Failure::no_function});
    return 127;
  }
  link.conn().send_control(protocol::PlaceReady{true, ""});
  // Written before the function runs, so that a place that ends at once
  // (std::exit, a crash) is reported as having run, not as never ready.
  auto written = std::make_shared<std::promise<void>>();
  link.conn().when_queue_below(0, [written] { written->set_value(); });
  written->get_future().wait_for(std::chrono::seconds(5));
  if (thunk && (thunk_mode || !fn)) return run_thunk(link, thunk, name);

  link.set_connection_sink([main = link.main()](PlaceChannel ch) { main->offer(std::move(ch)); });
  return detail::run_place_body(fn, PlaceChannel(link.main()), "place " + name);
}

[[noreturn]] void run_place_process(const char* func_env) {
  const std::string name = func_env;
  const std::string thunk_env = env_or("RMPI_PLACE_THUNK", "0");
  const bool thunk_mode = thunk_env == "1" || thunk_env == "true";
  const std::string fd_env = env_or("RMPI_PLACE_FD", "");
  const int fd = fd_env.empty() ? -1 : std::atoi(fd_env.c_str());
  if (fd < 0 || ::fcntl(fd, F_GETFD) < 0) {
    std::fprintf(stderr, "rmpi: place %s: RMPI_PLACE_FD is not an open socket\n", name.c_str());
    _exit(127);
  }
  ::fcntl(fd, F_SETFD, FD_CLOEXEC);
  for (const char* v : {"RMPI_PLACE_FUNC", "RMPI_PLACE_THUNK", "RMPI_PLACE_FD"}) ::unsetenv(v);
  place_process = true;

  const std::string place_name = env_or("RMPI_PLACE_NAME", "");
  static auto* link = new std::shared_ptr<NodeLink>(std::make_shared<NodeLink>(
      fd, "place " + (place_name.empty() ? name : place_name), false));
  (*link)->start();
  (*link)->exit(run_on_link(**link, name, thunk_mode));
}

[[noreturn]] void run_module_host_process(const char* fd_env) {
  const int fd = std::atoi(fd_env);
  if (fd < 0 || ::fcntl(fd, F_GETFD) < 0) {
    std::fprintf(stderr, "rmpi: module host: %s is not an open socket\n", detail::kModuleHostFdEnv);
    _exit(127);
  }
  ::fcntl(fd, F_SETFD, FD_CLOEXEC);
  ::unsetenv(detail::kModuleHostFdEnv);
  place_process = true;
  detail::set_log_sink(send_thread_place_log);
  detail::run_module_host(fd);
}

}  // namespace

void init(int argc, char** argv) {
  (void)argc;
  (void)argv;
  if (const char* f = std::getenv("RMPI_PLACE_FUNC"); f && *f) run_place_process(f);
  if (const char* h = std::getenv(detail::kModuleHostFdEnv); h && *h) run_module_host_process(h);
}

void detail::run_thread_place(int place_fd, const ThreadPlaceRequest& request) {
  const std::string& name = request.name.empty() ? request.function : request.name;
  auto link = std::make_shared<NodeLink>(place_fd, "thread place " + name, true);
  link->start();
  link->finish_thread(run_on_link(*link, request.function, request.thunk));
}

bool init_at_startup() {
  init(0, nullptr);
  return true;
}

bool in_place_process() { return place_process; }

}  // namespace rmpi::places

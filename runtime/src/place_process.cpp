// places::init: the place side of the node↔place link. A process started as
// a place (RMPI_PLACE_FUNC set) talks to its node over the inherited socket
// RMPI_PLACE_FD (trusted: the node made the socketpair): PlaceReady first,
// then data frames on channel 0 (its PlaceChannel) and on the channels of
// named-place connections (NewConnection / CloseChannel), and Log frames.
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

namespace rmpi::places {

namespace {

using detail::LinkEndpoint;

bool place_process = false;

std::string env_or(const char* name, const char* fallback) {
  const char* v = std::getenv(name);
  return v ? v : fallback;
}

// The place's link to its node.
class NodeLink {
 public:
  NodeLink(int fd, std::string label) : label_(std::move(label)) {
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
    h.on_frame = [this](detail::Frame&& f) { on_frame(std::move(f)); };
    h.on_close = [this](const detail::CloseReason& reason) { on_close(reason.text); };
    conn_->start(detail::AuthRole::trusted, "", std::move(h));
    detail::set_log_sink([conn = conn_](const protocol::Log& log) { conn->send_control(log); });
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
    std::cout.flush();
    std::cerr.flush();
    std::fflush(nullptr);
    {
      std::lock_guard lock(mu_);
      exiting_ = true;
    }
    conn_->close_after_flush("place exited");
    auto fut = closed_.get_future();
    fut.wait_for(std::chrono::seconds(10));
    _exit(code);
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
            _exit(msg.code);
          }
        },
        detail::decode_control(f.payload));
  }

  void on_close(const std::string& reason) {
    bool exiting;
    {
      std::lock_guard lock(mu_);
      exiting = exiting_;
    }
    if (!exiting) {
      // The node is gone: a place never outlives its node.
      std::fflush(nullptr);
      _exit(1);
    }
    closed_.set_value();
    (void)reason;
  }

  std::string label_;
  std::shared_ptr<detail::FramedConnection> conn_;
  std::shared_ptr<LinkEndpoint> main_;
  std::mutex mu_;
  std::map<std::uint32_t, std::shared_ptr<LinkEndpoint>> subs_;
  std::function<void(PlaceChannel)> sink_;
  std::vector<PlaceChannel> early_;
  bool exiting_ = false;
  std::promise<void> closed_;
};

// Thunk mode: the node's channel 0 and connections are bridged to the place the thunk made.
[[noreturn]] void run_thunk(NodeLink& link, PlaceThunk thunk, const std::string& name) {
  Place p;
  try {
    p = thunk();
  } catch (const std::exception& e) {
    log_message(Severity::error, "place thunk " + name + " threw: " + e.what());
    link.exit(1);
  }
  if (!p.valid()) {
    log_message(Severity::error, "place thunk " + name + " returned no place");
    link.exit(1);
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
  link.exit(p.wait());
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
  static NodeLink* link = new NodeLink(fd, "place " + (place_name.empty() ? name : place_name));
  link->start();

  const PlaceFunction fn = detail::find_place(name);
  const PlaceThunk thunk = detail::find_place_thunk(name);
  if (!fn && !thunk) {
    link->conn().send_control(
        protocol::PlaceReady{false, "no place function '" + name + "' registered in " + executable_path(),
                             protocol::Failure::no_function});
    link->exit(127);
  }
  link->conn().send_control(protocol::PlaceReady{true, ""});
  // Written before the function runs, so that a place that ends at once
  // (std::exit, a crash) is reported as having run, not as never ready.
  auto written = std::make_shared<std::promise<void>>();
  link->conn().when_queue_below(0, [written] { written->set_value(); });
  written->get_future().wait_for(std::chrono::seconds(5));
  if (thunk && (thunk_mode || !fn)) run_thunk(*link, thunk, name);

  link->set_connection_sink([main = link->main()](PlaceChannel ch) { main->offer(std::move(ch)); });
  int code = 0;
  try {
    fn(PlaceChannel(link->main()));
  } catch (const std::exception& e) {
    log_message(Severity::error, "place " + name + " threw: " + e.what());
    code = 1;
  } catch (...) {
    log_message(Severity::error, "place " + name + " threw a non-standard exception");
    code = 1;
  }
  link->exit(code);
}

}  // namespace

void init(int argc, char** argv) {
  (void)argc;
  (void)argv;
  if (const char* f = std::getenv("RMPI_PLACE_FUNC"); f && *f) run_place_process(f);
}

bool init_at_startup() {
  init(0, nullptr);
  return true;
}

bool in_place_process() { return place_process; }

}  // namespace rmpi::places

#include "client_endpoints.hpp"

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <thread>

#include <rmpi/error.hpp>

#include "process.hpp"
#include "router.hpp"

namespace rmpi::places::detail {

void QueueEndpoint::send(Message m) {
  {
    std::lock_guard lock(mu_);
    if (closed_) throw ChannelClosed(name_ + ": " + *closed_);
  }
  transmit(std::move(m));
}

std::optional<Message> QueueEndpoint::receive(std::optional<Clock::time_point> deadline) {
  return inbox_.pop(deadline);
}

std::string QueueEndpoint::describe() const {
  std::lock_guard lock(mu_);
  return name_;
}

void QueueEndpoint::set_name(std::string name) {
  std::lock_guard lock(mu_);
  name_ = std::move(name);
}

void QueueEndpoint::deliver(Message m) {
  {
    std::lock_guard lock(mu_);
    if (handler_) {
      auto h = handler_;
      run_handler([h, m = std::move(m)]() mutable { (*h)(std::move(m)); });
      return;
    }
    inbox_.push(std::move(m));
  }
  notify();
}

void QueueEndpoint::close(const std::string& reason) {
  {
    std::lock_guard lock(mu_);
    if (closed_) return;
    closed_ = reason;
    inbox_.close(name_ + ": " + reason);
  }
  notify();
}

bool QueueEndpoint::is_closed() const {
  std::lock_guard lock(mu_);
  return closed_.has_value();
}

void QueueEndpoint::set_handler(std::function<void(Message)> fn) {
  std::lock_guard lock(mu_);
  handler_ = std::make_shared<std::function<void(Message)>>(std::move(fn));
  auto h = handler_;
  for (;;) {
    std::optional<Message> m;
    try {
      m = inbox_.pop(Clock::now());
    } catch (const ChannelClosed&) {
      break;
    }
    if (!m) break;
    run_handler([h, m = std::move(*m)]() mutable { (*h)(std::move(m)); });
  }
}

void QueueEndpoint::offer(PlaceChannel ch) {
  {
    std::lock_guard lock(mu_);
    offered_.push_back(std::move(ch));
  }
  notify();
}

std::optional<PlaceChannel> QueueEndpoint::accept() {
  std::lock_guard lock(mu_);
  if (offered_.empty()) return std::nullopt;
  PlaceChannel ch = std::move(offered_.front());
  offered_.pop_front();
  return ch;
}

void QueueEndpoint::set_listener(std::function<void()> fn) {
  std::lock_guard lock(mu_);
  listener_ = std::move(fn);
}

void QueueEndpoint::notify() {
  std::function<void()> fn;
  {
    std::lock_guard lock(mu_);
    fn = listener_;
  }
  if (fn) fn();
}

namespace {

class PairEndpoint final : public QueueEndpoint {
 public:
  using QueueEndpoint::QueueEndpoint;
  ~PairEndpoint() override {
    if (auto p = peer_.lock()) p->close("the other end was dropped");
  }
  void set_peer(const std::shared_ptr<QueueEndpoint>& p) { peer_ = p; }
  void shutdown(const std::string& reason) override {
    close(reason);
    if (auto p = peer_.lock()) p->close(reason);
  }

 protected:
  void transmit(Message m) override {
    auto p = peer_.lock();
    if (!p || p->is_closed()) throw ChannelClosed(describe() + ": the other end is closed");
    p->deliver(std::move(m));
  }

 private:
  std::weak_ptr<QueueEndpoint> peer_;
};

}  // namespace

std::pair<std::shared_ptr<QueueEndpoint>, std::shared_ptr<QueueEndpoint>> make_queue_pair(
    const std::string& name) {
  auto a = std::make_shared<PairEndpoint>(name);
  auto b = std::make_shared<PairEndpoint>(name);
  a->set_peer(b);
  b->set_peer(a);
  return {a, b};
}

void LinkEndpoint::transmit(Message m) {
  const auto conn = conn_.load();
  if (!conn->is_open()) throw ChannelClosed(describe() + ": connection closed");
  conn->send_data(id_.load(), m.type_tag, std::move(m.payload));
}

void LinkEndpoint::shutdown(const std::string& reason) {
  const bool was_closed = is_closed();
  close(reason);
  const auto conn = conn_.load();
  if (!was_closed && conn->is_open()) conn->send_control(protocol::CloseChannel{id_.load()});
}

QueueEndpoint* queue_endpoint(const PlaceChannel& ch) {
  return dynamic_cast<QueueEndpoint*>(ch.endpoint_ptr().get());
}

namespace {
std::mutex log_mu;
std::function<void(const protocol::Log&)>& log_sink() {
  static auto* sink = new std::function<void(const protocol::Log&)>();
  return *sink;
}
}  // namespace

void set_log_sink(std::function<void(const protocol::Log&)> sink) {
  std::lock_guard lock(log_mu);
  log_sink() = std::move(sink);
}

void emit_log(const protocol::Log& log) {
  std::function<void(const protocol::Log&)> sink;
  {
    std::lock_guard lock(log_mu);
    sink = log_sink();
  }
  if (sink) {
    sink(log);
    return;
  }
  const std::string line = format_log_line(log) + "\n";
  std::lock_guard lock(log_mu);
  std::fwrite(line.data(), 1, line.size(), stderr);
  std::fflush(stderr);
}

std::string log_origin() {
  if (const char* o = std::getenv("RMPI_LOG_ORIGIN"); o && *o) return o;
  return "ROOT " + host_name();
}

std::int64_t unix_time_us() {
  return std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

void bridge(PlaceChannel a, PlaceChannel b) {
  auto pump = [](PlaceChannel from, PlaceChannel to) {
    std::string reason = "bridge closed";
    try {
      for (;;) to.put_message(from.get_message());
    } catch (const std::exception& e) {
      reason = e.what();
    }
    if (auto* q = queue_endpoint(from)) q->shutdown(reason);
    if (auto* q = queue_endpoint(to)) q->shutdown(reason);
  };
  std::thread(pump, a, b).detach();
  std::thread(pump, b, a).detach();
}

}  // namespace rmpi::places::detail

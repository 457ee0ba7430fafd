#include <rmpi/channel.hpp>

#include <rmpi/error.hpp>

#include "client_endpoints.hpp"

namespace rmpi::places {
namespace detail {

void Inbox::push(Message m) {
  {
    std::lock_guard lock(mu_);
    q_.push_back(std::move(m));
  }
  cv_.notify_one();
  notify();
}

std::optional<Message> Inbox::pop(std::optional<Clock::time_point> deadline) {
  std::unique_lock lock(mu_);
  auto ready = [&] { return !q_.empty() || closed_.has_value(); };
  if (deadline) {
    if (!cv_.wait_until(lock, *deadline, ready)) return std::nullopt;
  } else {
    cv_.wait(lock, ready);
  }
  if (q_.empty()) throw ChannelClosed(*closed_);
  Message m = std::move(q_.front());
  q_.pop_front();
  return m;
}

void Inbox::close(std::string reason) {
  {
    std::lock_guard lock(mu_);
    if (closed_) return;
    closed_ = std::move(reason);
  }
  cv_.notify_all();
  notify();
}

bool Inbox::closed() const {
  std::lock_guard lock(mu_);
  return closed_.has_value();
}

std::size_t Inbox::size() const {
  std::lock_guard lock(mu_);
  return q_.size();
}

void Inbox::set_listener(std::function<void()> fn) {
  std::lock_guard lock(mu_);
  listener_ = std::move(fn);
}

void Inbox::notify() {
  std::function<void()> fn;
  {
    std::lock_guard lock(mu_);
    fn = listener_;
  }
  if (fn) fn();
}

std::pair<std::shared_ptr<ChannelEndpoint>, std::shared_ptr<ChannelEndpoint>> make_endpoint_pair(
    std::string name) {
  auto [a, b] = make_queue_pair(name);
  return {std::move(a), std::move(b)};
}

}  // namespace detail

detail::ChannelEndpoint& PlaceChannel::endpoint() const {
  if (!ep_) throw ChannelClosed("use of an unconnected PlaceChannel");
  return *ep_;
}

std::pair<PlaceChannel, PlaceChannel> make_place_channel_pair(std::string name) {
  auto [a, b] = detail::make_endpoint_pair(std::move(name));
  return {PlaceChannel(std::move(a)), PlaceChannel(std::move(b))};
}

AsyncBiChannel::AsyncBiChannel() {
  auto [a, b] = make_place_channel_pair("async bi-channel");
  here_ = std::move(a);
  there_ = std::move(b);
}

Value TypedChannel::get(std::string_view type) {
  return decode<Value>(take_first([&](const Message& m) {
    if (m.type_tag != type_tag<Value>()) return false;
    const Value v = decode<Value>(m);
    return v.is_list() && !v.as_list().empty() && v.as_list().front().is_symbol(type);
  }));
}

Message TypedChannel::take_first(const std::function<bool(const Message&)>& wanted) {
  for (auto it = pending_.begin(); it != pending_.end(); ++it) {
    if (wanted(*it)) {
      Message m = std::move(*it);
      pending_.erase(it);
      return m;
    }
  }
  for (;;) {
    Message m = ch_.get_message();
    if (wanted(m)) return m;
    pending_.push_back(std::move(m));
  }
}

}  // namespace rmpi::places

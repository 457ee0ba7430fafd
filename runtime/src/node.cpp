#include <rmpi/node.hpp>

#include <mutex>

#include <rmpi/auth.hpp>

#include "io_thread.hpp"
#include "router.hpp"

namespace rmpi::places {

struct Node::Impl {
  int listen_port;
  std::mutex mu;
  std::unique_ptr<detail::Router> router;
  EventLoop loop;
};

Node::Node(int listen_port) : impl_(std::make_shared<Impl>()) { impl_->listen_port = listen_port; }

Node::~Node() = default;

void Node::add(EventContainer& c) { impl_->loop.add(c); }

std::uint16_t Node::listen() {
  std::lock_guard lock(impl_->mu);
  if (!impl_->router) {
    detail::RouterOptions options;
    options.listen_port = impl_->listen_port;
    options.secret = auth::job_secret();
    impl_->router =
        std::make_unique<detail::Router>(detail::io_context().get_executor(), std::move(options));
  }
  return impl_->router->port();
}

void Node::sync_events() {
  listen();
  for (;;) impl_->loop.run();
}

}  // namespace rmpi::places

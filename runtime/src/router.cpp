// Router: the public face of Router::Impl (router_impl.hpp), whose parts
// each live in their own file (router_peers, router_places, router_names,
// router_processes, router_logs, router_supervision, router_dispatch).
#include "router.hpp"

#include <signal.h>
#include <unistd.h>

#include <cstdio>
#include <future>

#include <boost/asio/post.hpp>

#include "heartbeat.hpp"
#include "router_impl.hpp"

namespace rmpi::places::detail {

namespace asio = boost::asio;

namespace {

void default_exit(int code) {
  std::fflush(nullptr);
  ::_exit(code);
}

void default_log(const protocol::Log& log) {
  const std::string line = format_log_line(log) + "\n";
  std::fwrite(line.data(), 1, line.size(), stderr);
  std::fflush(stderr);
}

RouterOptions with_defaults(RouterOptions o) {
  if (!o.on_exit) o.on_exit = default_exit;
  if (!o.on_log) o.on_log = default_log;
  if (o.heartbeat.count() < 0) o.heartbeat = heartbeat_bound();
  return o;
}

}  // namespace

Router::Impl::Impl(asio::any_io_executor executor, RouterOptions opts)
    : strand(asio::make_strand(executor)),
      options(with_defaults(std::move(opts))),
      logs(*this),
      supervision(*this),
      names(*this),
      places(*this),
      processes(*this),
      peers(*this) {}

Router::Router(asio::any_io_executor executor, RouterOptions options) {
  // Writes to a pipe whose reader died must be an error code, not a dead node.
  ::signal(SIGPIPE, SIG_IGN);
  impl_ = std::make_shared<Impl>(std::move(executor), std::move(options));
  impl_->peers.listen();
  impl_->peers.start();
}

Router::~Router() {
  auto impl = impl_;
  if (impl->strand.running_in_this_thread()) {
    impl->supervision.stop();
    return;
  }
  auto done = std::make_shared<std::promise<void>>();
  auto f = done->get_future();
  asio::post(impl->strand, [impl, done] {
    impl->supervision.stop();
    done->set_value();
  });
  f.wait_for(std::chrono::seconds(5));
}

std::uint16_t Router::port() const { return impl_->port; }

std::size_t Router::unauthenticated() const { return impl_->peers.unauthenticated(); }

void Router::log(std::string severity, std::string text) {
  asio::post(impl_->strand, [impl = impl_, severity = std::move(severity),
                             text = std::move(text)]() mutable {
    impl->logs.local(std::move(severity), std::move(text));
  });
}

void Router::shutdown(int code) {
  asio::post(impl_->strand, [impl = impl_, code] { impl->supervision.begin_shutdown(code); });
}

void Router::terminate_children(std::chrono::milliseconds grace) {
  asio::post(impl_->strand, [impl = impl_, grace] { impl->supervision.terminate_all(grace); });
}

std::size_t Router::live_children() const {
  if (impl_->strand.running_in_this_thread()) return impl_->supervision.live_pids().size();
  std::promise<std::size_t> p;
  auto f = p.get_future();
  asio::post(impl_->strand,
             [impl = impl_, &p] { p.set_value(impl->supervision.live_pids().size()); });
  return f.get();
}

}  // namespace rmpi::places::detail

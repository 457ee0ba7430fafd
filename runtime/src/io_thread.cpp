#include "io_thread.hpp"

#include <boost/asio/executor_work_guard.hpp>

#include <atomic>
#include <thread>

namespace rmpi::places::detail {

namespace {
std::atomic<std::thread::id> io_thread_id{};
}

boost::asio::io_context& io_context() {
  // Leaked on purpose: the loop thread is detached and may run until _exit.
  static boost::asio::io_context* io = [] {
    auto* ctx = new boost::asio::io_context(1);
    std::thread([ctx] {
      io_thread_id = std::this_thread::get_id();
      auto guard = boost::asio::make_work_guard(*ctx);
      for (;;) {
        try {
          ctx->run();
          return;
        } catch (...) {
          // A handler threw: the loop must go on serving every other connection.
        }
      }
    }).detach();
    return ctx;
  }();
  return *io;
}

bool on_io_thread() { return io_thread_id.load() == std::this_thread::get_id(); }

}  // namespace rmpi::places::detail

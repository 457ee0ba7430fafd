#pragma once
// The process-wide Asio event loop: one io_context run by one background
// thread, started on first use and never stopped (it outlives static
// destructors on purpose, so handlers never race with process teardown).
// Routers, connections, child reaping and client-side channels share it.
#include <boost/asio/io_context.hpp>

namespace rmpi::places::detail {

/// The shared io_context; the first call starts its thread.
boost::asio::io_context& io_context();

/// True when called from the shared io_context's thread (blocking there would deadlock).
bool on_io_thread();

}  // namespace rmpi::places::detail

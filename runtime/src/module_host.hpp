#pragma once
// The module host: how a node runs thread places (supervise_thread_at).
//
// A C++ node cannot load a module's code into its own process, so for each
// module (executable) it runs thread places of, the node starts that
// executable once as a *module host* (kModuleHostFdEnv set: places::init
// serves the node instead of running main's work). The node holds one
// control socket to the host (SOCK_SEQPACKET): each packet is a
// ThreadPlaceRequest with the place's own socket attached (SCM_RIGHTS). The
// host runs the request's function on a new thread over that socket, which
// speaks the node↔place protocol of a process place, so the router treats a
// thread place like any place (channels, names, logs, restarts by its
// spawner). Having no process of its own to reap, a thread place reports
// its end itself: PlaceExited{0, code} is the last frame on its socket.
//
// Semantics: the thread places of one module on one node share one process
// (its globals, its pid — what PlaceStarted reports — and its fate: a crash
// of the host, or std::exit in any of them, ends every thread place in it,
// each reported with the host's status; place_exit ends one place only).
// The node closes the control socket once the last thread place of the host
// has ended, and the host exits. The host is a child of the node like any
// place, so the node's containment ends it with the node.
#include <string>

namespace rmpi::places::detail {

/// Environment variable of a module host: the fd of its control socket.
inline constexpr const char* kModuleHostFdEnv = "RMPI_MODULE_HOST_FD";

/// Node → module host: run `function` (a thunk if `thunk`) on a new thread.
struct ThreadPlaceRequest {
  std::string function;
  bool thunk = false;
  std::string name;  // named place, or empty
  template <class A> void serialize(A& a) { a(function, thunk, name); }
};

/// Node side: hands the host behind `control_fd` a thread place whose socket
/// is `place_fd` (the caller still closes its copy). Never blocks; throws
/// std::system_error when the host cannot take it (gone, or not reading).
void send_thread_place(int control_fd, const ThreadPlaceRequest& request, int place_fd);

/// Host side: runs each thread place the node sends until the node closes
/// `control_fd`, then exits the process.
[[noreturn]] void run_module_host(int control_fd);

/// Runs one thread place over its socket `place_fd` until it ends
/// (place_process.cpp, which owns the node↔place link).
void run_thread_place(int place_fd, const ThreadPlaceRequest& request);

}  // namespace rmpi::places::detail

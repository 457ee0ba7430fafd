#pragma once
/// Places: registered place functions (RMPI_PLACE, RMPI_PLACE_THUNK), the
/// switch into place mode at the top of main (places::init), and Place, a
/// handle to a running place: a process started from (executable, registered
/// function) with dynamic_place, or a thread of this process with place(fn).
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include <rmpi/channel.hpp>

namespace rmpi::places {

class Place;

/// A place function: runs with its channel; the place ends when it returns.
using PlaceFunction = void (*)(PlaceChannel);
/// A place thunk: creates and returns the place (with dynamic_place or place).
using PlaceThunk = Place (*)();

namespace detail {
/// Registers `fn` under `name`; returns true (for static registration).
bool register_place(const char* name, PlaceFunction fn);
bool register_place_thunk(const char* name, PlaceThunk fn);
}  // namespace detail

/// Registers `void f(PlaceChannel)` as a place function named "f" (use at namespace scope).
#define RMPI_PLACE(f)                                                 \
  [[maybe_unused]] static const bool rmpi_place_registered_##f = \
      ::rmpi::places::detail::register_place(#f, &f)
/// Registers `Place f()` as a place thunk named "f" (use at namespace scope).
#define RMPI_PLACE_THUNK(f)                                                 \
  [[maybe_unused]] static const bool rmpi_place_thunk_registered_##f = \
      ::rmpi::places::detail::register_place_thunk(#f, &f)

/// Call at the top of main. In a process started as a place (RMPI_PLACE_FUNC
/// set), runs the registered function with its channel and exits the
/// process (0, or 1 if it threw; 127 if no such function is registered):
/// it never returns there. Otherwise it returns at once.
void init(int argc, char** argv);
/// init for programs whose main is not theirs (test runners): call it from a
/// static initializer after the RMPI_PLACE lines; returns true.
bool init_at_startup();
/// True in a process that runs as a place.
bool in_place_process();

namespace detail {
/// What place_exit throws; the runtime's place runners catch it (it is not
/// a std::exception, so a place's own `catch (const std::exception&)` lets it through).
struct PlaceExitRequest {
  int code = 0;
};
/// True on a thread that runs a place function (set by the place runners).
bool in_place_function();
}  // namespace detail

/// Ends the calling place with exit code `code`: what its spawner's wait
/// and distributed_place_wait return. In a process place the process exits
/// once its queued messages are sent; in a thread place (supervise_thread_at,
/// place()) only that place ends, where std::exit would end every place of
/// the process. Outside a place function it is std::exit(code).
[[noreturn]] void place_exit(int code);

/// This executable's absolute path (/proc/self/exe): the module path of its places.
std::string executable_path();

/// A running place: its channel, its exit code, kill. Copies share the place.
class Place {
 public:
  /// An empty handle.
  Place() = default;

  /// The spawner's end of the place's channel.
  PlaceChannel& channel() { return channel_; }
  /// Blocks until the place ends; its exit code (128+signal if killed;
  /// 0 for a thread place that returned, 1 if it threw).
  int wait();
  /// The exit code if the place has ended.
  std::optional<int> try_wait();
  /// Ends the place: SIGKILL for a process; a thread place gets its channel
  /// closed (its next channel operation throws ChannelClosed).
  void kill();
  /// Process id of a process place, 0 for a thread place.
  int pid() const;
  bool valid() const { return static_cast<bool>(impl_); }

  /// Place channel semantics: place-channel-put / -get on the place itself.
  template <class T>
  void put(const T& msg) { channel_.put(msg); }
  void put(const char* s) { channel_.put(s); }
  template <class T = Value>
  T get() { return channel_.get<T>(); }

  /// Runtime internals: the kind of place behind the handle.
  struct Impl;
  Place(std::shared_ptr<Impl> impl, PlaceChannel ch) : impl_(std::move(impl)), channel_(std::move(ch)) {}
  const std::shared_ptr<Impl>& impl() const { return impl_; }

 private:
  std::shared_ptr<Impl> impl_;
  PlaceChannel channel_;
};

/// dynamic-place: starts `module` (an executable linked with the runtime that
/// registers `func`) as a child process of this one running `func`. Throws
/// rmpi::NameError if `func` is not registered there, rmpi::SpawnError if the
/// executable cannot be started.
Place dynamic_place(const std::string& module, const std::string& func);
/// dynamic-place in this executable.
inline Place dynamic_place(const std::string& func) { return dynamic_place(executable_path(), func); }

/// (place ch body): runs `body` on a new thread of this process with an in-memory channel.
Place place(std::function<void(PlaceChannel)> body);

}  // namespace rmpi::places

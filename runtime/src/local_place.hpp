#pragma once
// Place internals shared by local_place.cpp (dynamic_place, place) and
// place_process.cpp (places::init): the kinds of places behind a Place
// handle, and the registry of place functions.
#include <optional>
#include <string>

#include <rmpi/place.hpp>

namespace rmpi::places {

/// What a Place handle points to: a child process or a thread of this process.
struct Place::Impl {
  virtual ~Impl() = default;
  virtual int wait() = 0;
  virtual std::optional<int> try_wait() = 0;
  virtual void kill() = 0;
  virtual int pid() const { return 0; }
  /// Opens a new connection to the place (a client of a named place): the
  /// place sees a new channel offered to its main channel (ChannelSet
  /// accepts it); the result is this side's end.
  virtual PlaceChannel offer_connection() = 0;
};

namespace detail {
/// The registered function / thunk named `name`, or null.
PlaceFunction find_place(const std::string& name);
PlaceThunk find_place_thunk(const std::string& name);
}  // namespace detail

}  // namespace rmpi::places

#pragma once
// Place functions shared by the runtime's multi-process tests. Include it in
// one source file of a test binary: it registers the functions with that
// executable, which the tests then spawn as places.
#include <cstdlib>
#include <stdexcept>
#include <string>

#include <rmpi/place.hpp>

namespace rmpi::testing::places {

using rmpi::places::PlaceChannel;
using rmpi::places::Value;

/// Sends every message back until the symbol 'stop.
inline void echo(PlaceChannel ch) {
  for (;;) {
    Value v = ch.get<Value>();
    if (v.is_symbol("stop")) return;
    ch.put(v);
  }
}
RMPI_PLACE(echo);

/// Says "bye", waits for the spawner's ack (so "bye" was delivered), exits 3.
inline void exits_3(PlaceChannel ch) {
  ch.put(std::string("bye"));
  (void)ch.get<Value>();
  std::_Exit(3);
}
RMPI_PLACE(exits_3);

/// Throws after its first message.
inline void throws(PlaceChannel ch) {
  (void)ch.get<Value>();
  throw std::runtime_error("deliberate failure");
}
RMPI_PLACE(throws);

}  // namespace rmpi::testing::places

#pragma once
// Place functions shared by the runtime's multi-process tests. Include it in
// one source file of a test binary: it registers the functions with that
// executable, which the tests then spawn as places.
#include <cstdlib>
#include <map>
#include <stdexcept>
#include <string>

#include <rmpi/channel_set.hpp>
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

/// A named key/value server: (set k v) → (ok), (get k) → value or #f, on
/// every channel (its own and each connection to it as a named place).
inline void tuple_server(PlaceChannel ch) {
  rmpi::places::ChannelSet set(ch);
  std::map<std::string, Value> table;
  for (;;) {
    auto [conn, msg] = set.get<Value>();
    const std::string& op = msg[0].as_symbol().name;
    if (op == "set") {
      table[msg[1].as_string()] = msg[2];
      conn.put(rmpi::places::list(rmpi::places::sym("ok")));
    } else if (op == "get") {
      auto it = table.find(msg[1].as_string());
      conn.put(it == table.end() ? Value(false) : it->second);
    }
  }
}
RMPI_PLACE(tuple_server);

}  // namespace rmpi::testing::places

// The reference's first example in C++: spawn a node on this host with one
// place (created by the thunk hello_world), send it "Hello", print its
// answer, and exit. The place's output comes back through the node.
#include <rmpi/places.hpp>

#include <cstdlib>
#include <iostream>
#include <string>

namespace rp = rmpi::places;

// The thunk: creates and returns the place (Racket's `(place ch body)`).
rp::Place hello_world() {
  return rp::place([](rp::PlaceChannel ch) {
    std::cout << "hello-world received: " << ch.get<std::string>() << std::endl;
    ch.put("Hello World");
    std::cout << "hello-world sent: Hello World" << std::endl;
  });
}
RMPI_PLACE_THUNK(hello_world);

int main(int argc, char** argv) {
  rp::init(argc, argv);  // in the place process, runs hello_world and never returns

  // 1) spawns a node on this host, listening on a free port;
  // 2) creates a place on it by calling the thunk hello_world of this executable;
  // 3) returns the node and the connection to the place.
  rp::NodeOptions node_options;
  node_options.listen_port = 0;
  rp::PlaceOptions place_options;
  place_options.thunk = true;
  auto [node, pl] = rp::spawn_node_supervise_place_at("localhost", rp::executable_path(),
                                                      "hello_world", node_options, place_options);
  rp::RemoteConnection conn = pl;

  // The router loop: one second in, talk to the place; three seconds in, exit
  // (which ends the node and its place too).
  rp::message_router(node,
                     rp::after_seconds(1,
                                       [conn]() mutable {
                                         conn.put("Hello");
                                         std::cout << "message-router received: "
                                                   << conn.get<std::string>() << std::endl;
                                       }),
                     rp::after_seconds(3, [] { std::exit(0); }));
}

// The ten-line example quoted in README.md (kept identical to it).
#include <rmpi/places.hpp>
#include <iostream>
using namespace rmpi::places;

void echo(PlaceChannel ch) { ch.put("echo: " + ch.get<std::string>()); }
RMPI_PLACE(echo);

int main(int argc, char** argv) {
  init(argc, argv);  // in a spawned place, runs `echo` instead of main
  auto [node, pl] = spawn_node_supervise_place_at("localhost", argv[0], "echo", {.listen_port = 0});
  pl.put("hi");
  std::cout << pl.get<std::string>() << "\n";  // echo: hi
}

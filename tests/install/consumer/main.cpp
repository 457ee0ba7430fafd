// A user's own program built against an installed rmpi: the places runtime
// and the rmpi layer through their umbrella headers, and a node started from
// the install (found without PATH).
#include <rmpi/places.hpp>
#include <rmpi/rmpi.hpp>

#include <iostream>

int main(int argc, char** argv) {
  using namespace rmpi::places;
  init(argc, argv);
  auto [a, b] = make_place_channel_pair();
  a.put(list(sym("set"), "user0", 100));
  const auto [offset, length] = rmpi::partition(1, 3, 10);
  std::cout << "consumer: " << b.get<Value>().to_string() << " round-tripped; partition "
            << offset << "+" << length << "\n";
  NodeOptions options;
  options.listen_port = 0;
  RemoteNode node = spawn_remote_node("localhost", options);
  std::cout << "consumer: node " << options.node_path << " up as " << node.get_log_prefix()
            << "\n";
  node.send_exit();
}

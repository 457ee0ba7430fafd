// The reference's `named` example: one node with a named tuple server
// reached through two connections, and a private bank server. Both servers
// are remote servers (tuple_server.hpp, bank_server.hpp): the calls below
// are their typed client stubs.
#include <rmpi/places.hpp>

#include <iostream>

#include "bank_server.hpp"
#include "tuple_server.hpp"

namespace rp = rmpi::places;

int main(int argc, char** argv) {
  rp::init(argc, argv);  // in a server's place process, serves and never returns

  rp::NodeOptions node_options;
  node_options.listen_port = 0;
  rp::RemoteNode node = rp::spawn_remote_node("localhost", node_options);
  const std::string self = rp::executable_path();

  rp::PlaceOptions named;
  named.named = "tuple-server";
  rp::supervise_place_at(node, self, "make_named_tuple_server", named);
  rp::RemoteConnection bank = rp::supervise_place_at(node, self, "make_bank");

  rp::RemoteConnection c = rp::connect_to_named_place(node, "tuple-server");
  rp::RemoteConnection d = rp::connect_to_named_place(node, "tuple-server");
  tuple_server_hello(c);
  tuple_server_hello(d);
  std::cout << tuple_server_set(c, "user0", 100).to_string() << '\n';
  std::cout << tuple_server_set(d, "user2", 200).to_string() << '\n';
  std::cout << tuple_server_get(c, "user0").to_string() << '\n';
  std::cout << tuple_server_get(d, "user2").to_string() << '\n';
  std::cout << tuple_server_get(d, "user0").to_string() << '\n';
  std::cout << tuple_server_get(c, "user2").to_string() << '\n';

  std::cout << bank_new_account(bank, "user1").to_string() << '\n';
  std::cout << bank_add(bank, "user1", 10).to_string() << '\n';
  std::cout << bank_remove(bank, "user1", 5).to_string() << std::endl;

  rp::node_send_exit(node);
  return 0;
}

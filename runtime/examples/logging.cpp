// The reference's `logging` example: a named tuple server and a private bank
// on one node. The tuple server's `set` calls log_to_parent (see
// tuple_server.hpp); those lines reach this program, the root, and are
// printed on its stderr with the place's origin:
//   [12:00:01.250] PLACE 127.0.0.1:40123 debug: user0 set to 100
#include <rmpi/places.hpp>

#include <cstdlib>
#include <iostream>

#include "bank_server.hpp"
#include "tuple_server.hpp"

namespace rp = rmpi::places;

int main(int argc, char** argv) {
  rp::init(argc, argv);

  rp::NodeOptions node_options;
  node_options.listen_port = 0;
  rp::RemoteNode node = rp::spawn_remote_node("localhost", node_options);
  const std::string self = rp::executable_path();
  rp::PlaceOptions named;
  named.named = "tuple-server";
  rp::supervise_place_at(node, self, "make_named_tuple_server", named);
  rp::RemoteConnection bank = rp::supervise_place_at(node, self, "make_bank");

  rp::message_router(
      node,
      rp::after_seconds(1,
                        [&bank] {
                          std::cout << bank_new_account(bank, "user1").to_string() << '\n';
                          std::cout << bank_add(bank, "user1", 10).to_string() << '\n';
                          std::cout << bank_remove(bank, "user1", 5).to_string() << std::endl;
                        }),
      rp::after_seconds(0.5,
                        [&node] {
                          rp::RemoteConnection c = rp::connect_to_named_place(node, "tuple-server");
                          rp::RemoteConnection d = rp::connect_to_named_place(node, "tuple-server");
                          std::cout << tuple_server_set(c, "user0", 100).to_string() << '\n';
                          std::cout << tuple_server_set(d, "user2", 200).to_string() << '\n';
                          std::cout << tuple_server_get(c, "user0").to_string() << '\n';
                          std::cout << tuple_server_get(d, "user2").to_string() << '\n';
                          std::cout << tuple_server_get(d, "user0").to_string() << '\n';
                          std::cout << tuple_server_get(c, "user2").to_string() << std::endl;
                        }),
      rp::after_seconds(1.5, [&node] { rp::node_send_exit(node); }),
      rp::after_seconds(2, [] { std::exit(0); }));
}

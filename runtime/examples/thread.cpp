// The reference's `thread` example: the bank server runs on a thread of a
// node instead of in a place process of its own (supervise_thread_at). The
// node starts this executable once as the module host of its thread places
// and runs make_bank on a thread there; the calls to it are the same as to
// any place. One second in, the program banks; two seconds in, it ends the
// node (and with it the host); at three it exits.
#include <rmpi/places.hpp>

#include <cstdlib>
#include <iostream>

#include "bank_server.hpp"

namespace rp = rmpi::places;

int main(int argc, char** argv) {
  rp::init(argc, argv);  // in the module host, serves the node and never returns

  rp::NodeOptions node_options;
  node_options.listen_port = 0;
  rp::RemoteNode node = rp::spawn_remote_node("localhost", node_options);
  rp::RemoteConnection bank = rp::supervise_thread_at(node, rp::executable_path(), "make_bank");

  rp::message_router(node,
                     rp::after_seconds(1,
                                       [bank]() mutable {
                                         std::cout << bank_new_account(bank, "user0").to_string() << '\n';
                                         std::cout << bank_add(bank, "user0", 10).to_string() << '\n';
                                         std::cout << bank_remove(bank, "user0", 5).to_string()
                                                   << std::endl;
                                       }),
                     rp::after_seconds(2, [node]() mutable { rp::node_send_exit(node); }),
                     rp::after_seconds(3, [] { std::exit(0); }));
}

// The reference's `multiple` example: several nodes on this host, each with
// a place, all talking to this program at once. Three worker places (one
// node each) send their numbered messages and wait for each answer; a bank
// server runs on a fourth node; a timer greets every second. The handlers
// run one at a time on the router loop's thread. The program exits once every
// worker is done, the bank has answered, and the timer has fired.
#include <rmpi/places.hpp>

#include <cstdlib>
#include <iostream>
#include <string>
#include <vector>

#include "bank_server.hpp"

namespace rp = rmpi::places;
using rp::list;
using rp::sym;
using rp::Value;

constexpr int kMessagesPerWorker = 5;

// A worker: its name is its initial message; sends (name i), waits for (ack i).
void place_worker(rp::PlaceChannel ch) {
  const std::string name = ch.get<Value>().as_string();
  for (int i = 0; i < kMessagesPerWorker; ++i) {
    const Value msg = list(sym(name), i);
    std::cout << msg.to_string() << std::endl;
    ch.put(msg);
    const Value ack = ch.get<Value>();
    if (ack != list(sym("ack"), i)) std::exit(2);
  }
}
RMPI_PLACE(place_worker);

int main(int argc, char** argv) {
  rp::init(argc, argv);
  const std::string self = rp::executable_path();

  rp::NodeOptions node_options;
  node_options.listen_port = 0;
  auto spawn_place_worker = [&](const std::string& name) {
    rp::PlaceOptions o;
    o.initial_message = name;
    return rp::spawn_node_with_place_at("localhost", self, "place_worker", node_options, o);
  };
  rp::RemoteNode one = spawn_place_worker("ONE");
  rp::RemoteNode two = spawn_place_worker("TWO");
  rp::RemoteNode three = spawn_place_worker("THREE");
  rp::RemoteNode bank_node = rp::spawn_node_with_place_at("localhost", self, "make_bank", node_options);
  rp::RemoteConnection bank = bank_node.get_first_place();
  std::vector<rp::RemoteNode> nodes = {one, two, three, bank_node};

  int workers_done = 0, greetings = 0;
  bool bank_done = false;
  auto exit_when_done = [&] {
    if (workers_done < 3 || !bank_done || greetings < 1) return;
    for (auto& n : nodes) rp::node_send_exit(n);
    std::exit(0);
  };
  for (rp::RemoteNode* n : {&one, &two, &three}) {
    n->get_first_place().set_on_channel([&](rp::RemoteConnection& worker, Value msg) {
      std::cout << "master received " << msg.to_string() << std::endl;
      const std::int64_t i = msg[1].as_int();
      worker.put(list(sym("ack"), i));
      if (i == kMessagesPerWorker - 1) {
        ++workers_done;
        exit_when_done();
      }
    });
  }

  rp::message_router(one, two, three, bank_node,
                     rp::every_seconds(1,
                                       [&] {
                                         std::cout << "Hello from every-seconds" << std::endl;
                                         ++greetings;
                                         exit_when_done();
                                       }),
                     rp::after_seconds(0.5, [&] {
                       std::cout << bank_new_account(bank, "user0").to_string() << '\n';
                       std::cout << bank_add(bank, "user0", 10).to_string() << '\n';
                       std::cout << bank_remove(bank, "user0", 5).to_string() << std::endl;
                       bank_done = true;
                       exit_when_done();
                     }));
}

// The flow of the reference's distributed-places test: one node with two
// named places, a tuple server reached through two connections (set through
// one, get through the other) and a bank. The servers are hand-written
// loops over a ChannelSet: each request is a Value list headed by a symbol,
// answered on the connection it came from.
#include <rmpi/places.hpp>

#include <iostream>
#include <map>
#include <string>

namespace rp = rmpi::places;
using rp::list;
using rp::sym;
using rp::Value;

// (set key value) → value, (get key) → value or #f.
void tuple_server(rp::PlaceChannel ch) {
  rp::ChannelSet clients(ch);
  std::map<std::string, Value> tuples;
  for (;;) {
    auto [conn, msg] = clients.get<Value>();
    const std::string& op = msg[0].as_symbol().name;
    if (op == "set") {
      tuples[msg[1].as_string()] = msg[2];
      conn.put(msg[2]);
    } else if (op == "get") {
      auto it = tuples.find(msg[1].as_string());
      conn.put(it == tuples.end() ? Value(false) : it->second);
    }
  }
}
RMPI_PLACE(tuple_server);

// (new-account who), (add who amount), (remove who amount).
void bank_server(rp::PlaceChannel ch) {
  rp::ChannelSet clients(ch);
  std::map<std::string, std::int64_t> accounts;
  for (;;) {
    auto [conn, msg] = clients.get<Value>();
    const std::string& op = msg[0].as_symbol().name;
    const std::string& who = msg[1].as_string();
    auto account = accounts.find(who);
    if (op == "new-account") {
      if (account != accounts.end()) {
        conn.put(list(sym("already-exists"), who));
      } else {
        accounts[who] = 0;
        conn.put(list(sym("created"), who));
      }
    } else if (account == accounts.end()) {
      conn.put(list(sym("invalid-account"), who));
    } else if (op == "add") {
      account->second += msg[2].as_int();
      conn.put(list(sym("ok"), account->second));
    } else if (op == "remove") {
      const std::int64_t amount = msg[2].as_int();
      if (amount <= account->second) {
        account->second -= amount;
        conn.put(list(sym("ok"), account->second));
      } else {
        conn.put(list(sym("insufficient-funds"), account->second));
      }
    }
  }
}
RMPI_PLACE(bank_server);

namespace {
// One request/response exchange, printed as "<label>: <answer>".
void call(rp::RemoteConnection& server, const std::string& label, const Value& request) {
  server.put(request);
  std::cout << label << ": " << server.get<Value>().to_string() << std::endl;
}
}  // namespace

int main(int argc, char** argv) {
  rp::init(argc, argv);

  rp::NodeOptions node_options;
  node_options.listen_port = 0;
  rp::RemoteNode node = rp::spawn_remote_node("localhost", node_options);
  const std::string self = rp::executable_path();
  rp::PlaceOptions tuple_options;
  tuple_options.named = "tuple";
  rp::supervise_place_at(node, self, "tuple_server", tuple_options);
  rp::PlaceOptions bank_options;
  bank_options.named = "bank";
  rp::supervise_place_at(node, self, "bank_server", bank_options);

  rp::RemoteConnection c1 = rp::connect_to_named_place(node, "tuple");
  rp::RemoteConnection c2 = rp::connect_to_named_place(node, "tuple");
  call(c1, "tuple set user0 100", list(sym("set"), "user0", 100));
  call(c1, "tuple set user2 200", list(sym("set"), "user2", 200));
  call(c2, "tuple get user0", list(sym("get"), "user0"));
  call(c2, "tuple get user2", list(sym("get"), "user2"));
  call(c2, "tuple get user1", list(sym("get"), "user1"));

  rp::RemoteConnection bank = rp::connect_to_named_place(node, "bank");
  call(bank, "bank new-account user0", list(sym("new-account"), "user0"));
  call(bank, "bank new-account user0", list(sym("new-account"), "user0"));
  call(bank, "bank add user0 10", list(sym("add"), "user0", 10));
  call(bank, "bank remove user0 5", list(sym("remove"), "user0", 5));
  call(bank, "bank remove user0 20", list(sym("remove"), "user0", 20));
  call(bank, "bank add user1 10", list(sym("add"), "user1", 10));

  rp::node_send_exit(node);
  return 0;
}

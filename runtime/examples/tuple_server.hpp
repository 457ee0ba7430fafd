// The reference's tuple server as a remote server: a table of values by key.
// Its state is a member; `set` and `get` are its operations, described once
// by the descriptors below, which clients call as tuple_server_set(conn, ...).
#pragma once
#include <rmpi/places.hpp>

#include <map>
#include <string>

struct TupleServer {
  std::map<std::string, rmpi::places::Value> tuples;  // define-state

  // define-rpc (set k v): stores v under k, tells the owner, answers v.
  rmpi::places::Value set(const std::string& k, rmpi::places::Value v) {
    tuples[k] = v;
    rmpi::places::log_to_parent(k + " set to " + v.to_string(), rmpi::places::Severity::debug);
    return v;
  }
  // define-rpc (get k): the value under k, or #f.
  rmpi::places::Value get(const std::string& k) const {
    auto it = tuples.find(k);
    return it == tuples.end() ? rmpi::places::Value(false) : it->second;
  }
  // define-cast (hello): one-way; says hello to the owner.
  void hello() { rmpi::places::log_to_parent("hello"); }
};

inline constexpr rmpi::places::Rpc<&TupleServer::set> tuple_server_set{"set"};
inline constexpr rmpi::places::Rpc<&TupleServer::get> tuple_server_get{"get"};
inline constexpr rmpi::places::Cast<&TupleServer::hello> tuple_server_hello{"hello"};

// Registers the place functions make_tuple_server and make_named_tuple_server.
RMPI_REMOTE_SERVER(tuple_server, tuple_server_set, tuple_server_get, tuple_server_hello);

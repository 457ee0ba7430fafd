// A small place executable for the node tests: registered place functions
// with behaviours the router must handle (echo, logging, failing, crashing).
#include <unistd.h>

#include <csignal>
#include <cstdio>
#include <string>

#include <rmpi/channel_set.hpp>
#include <rmpi/log.hpp>
#include <rmpi/place.hpp>

namespace {

using rmpi::places::PlaceChannel;

// Replies to every message on every channel (main and named connections);
// "exit N" ends the place with status N (its process, or only its thread
// in a module host), "kill" dies of SIGKILL.
void echo(PlaceChannel ch) {
  rmpi::places::ChannelSet set(ch);
  for (;;) {
    auto [conn, msg] = set.get<std::string>();
    if (msg.rfind("exit ", 0) == 0) rmpi::places::place_exit(std::stoi(msg.substr(5)));
    if (msg == "kill") ::raise(SIGKILL);
    conn.put(msg);
  }
}
RMPI_PLACE(echo);

// Logs one line toward the root, then answers "logged" and ends.
void logger(PlaceChannel ch) {
  rmpi::places::log_message(rmpi::places::Severity::warning, "hello from the logger place");
  ch.put(std::string("logged"));
  ch.get<std::string>();
}
RMPI_PLACE(logger);

}  // namespace

int main(int argc, char** argv) {
  rmpi::places::init(argc, argv);
  std::fprintf(stderr, "test-place: run me as a place\n");
  return 2;
}

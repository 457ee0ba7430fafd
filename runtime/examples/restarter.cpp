// A Restarter (the reference's restarter%): a place that fails at once is
// restarted every half second, 3 times, then the Restarter gives up and its
// on_final_fail runs; the program then exits.
#include <rmpi/places.hpp>

#include <cstdlib>
#include <future>
#include <iostream>
#include <memory>

namespace rp = rmpi::places;

namespace {

void fails(rp::PlaceChannel) {
  std::cout << "place started, failing with status 1" << std::endl;
  std::exit(1);
}
RMPI_PLACE(fails);

}  // namespace

int main(int argc, char** argv) {
  rp::init(argc, argv);  // in the place process, runs `fails` and never returns

  auto gave_up = std::make_shared<std::promise<void>>();
  rp::NodeOptions node_options;
  node_options.listen_port = 0;
  auto node = rp::spawn_remote_node("localhost", node_options);
  auto conn = rp::supervise_place_at(
      node, rp::executable_path(), "fails",
      {.restart_on_exit = rp::restart_every(0.5, 3, [gave_up] {
         std::cout << "on_final_fail: gave up after 3 retries" << std::endl;
         gave_up->set_value();
       })});
  conn.set_on_restart([](rp::RemoteConnection&, int count) {
    std::cout << "retry " << count << std::endl;
  });

  gave_up->get_future().wait();
  const int status = conn.wait();
  std::cout << "the place's last exit status: " << status << std::endl;
  node.send_exit();
  return 0;
}

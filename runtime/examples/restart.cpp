// The reference's restart example: a place prints BEGINING SLEEP, sleeps,
// prints SLEEP DONE and exits; its node restarts it every time
// (#:restart-on-exit #t), forever. The program stops cleanly on request:
// SIGINT or SIGTERM, or after `--restarts N` restarts. `--sleep S` sets the
// place's sleep in seconds (default 1).
//   build/bin/restart [--restarts N] [--sleep S]
#include <rmpi/places.hpp>

#include <signal.h>

#include <chrono>
#include <cstdlib>
#include <future>
#include <iostream>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

namespace rp = rmpi::places;

namespace {

void sleeper(rp::PlaceChannel ch) {
  const double seconds = ch.get<rp::Value>().as_double();
  std::cout << "BEGINING SLEEP" << std::endl;
  std::this_thread::sleep_for(std::chrono::duration<double>(seconds));
  std::cout << "SLEEP DONE" << std::endl;
}
RMPI_PLACE(sleeper);

struct Args {
  int restarts = 0;  // 0: forever
  double sleep = 1.0;
};

Args parse(int argc, char** argv) {
  Args a;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if ((arg == "--restarts" || arg == "--sleep") && i + 1 < argc) {
      char* end = nullptr;
      const double v = std::strtod(argv[++i], &end);
      if (*end != '\0' || v < 0) {
        std::cerr << "restart: " << arg << " needs a number >= 0, got " << argv[i] << "\n";
        std::exit(2);
      }
      if (arg == "--restarts") a.restarts = static_cast<int>(v);
      else a.sleep = v;
    } else {
      std::cerr << "restart: unknown argument " << arg
                << " (usage: restart [--restarts N] [--sleep S])\n";
      std::exit(2);
    }
  }
  return a;
}

}  // namespace

int main(int argc, char** argv) {
  rp::init(argc, argv);  // in the place process, runs sleeper and never returns
  const Args args = parse(argc, argv);

  // SIGINT / SIGTERM are taken by a thread of ours (blocked before any thread
  // starts; the node and places start with an empty mask).
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);

  auto stop = std::make_shared<std::promise<std::string>>();
  auto once = std::make_shared<std::once_flag>();
  auto request_stop = [stop, once](std::string why) {
    std::call_once(*once, [&] { stop->set_value(std::move(why)); });
  };
  std::thread([stop_signals, request_stop] {
    int sig = 0;
    sigwait(&stop_signals, &sig);
    request_stop(sig == SIGINT ? "SIGINT" : "SIGTERM");
  }).detach();

  rp::NodeOptions node_options;
  node_options.listen_port = 0;
  auto node = rp::spawn_remote_node("localhost", node_options);
  auto conn = rp::supervise_place_at(node, rp::executable_path(), "sleeper",
                                     {.initial_message = args.sleep, .restart_on_exit = true});
  conn.set_on_restart([&args, request_stop](rp::RemoteConnection&, int count) {
    std::cout << "restarted " << count << (count == 1 ? " time" : " times") << std::endl;
    if (args.restarts > 0 && count >= args.restarts)
      request_stop(std::to_string(count) + " restarts");
  });

  const std::string why = stop->get_future().get();
  conn.close();
  node.send_exit();
  std::cout << "stopped after " << why << std::endl;
  return 0;
}

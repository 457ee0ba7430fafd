// rmpi-node: the node daemon (the reference's node% in its own process).
// Started by a spawner (directly, or through ssh): it listens, prints
// "RMPI-NODE <port>" once listening, and serves the router protocol until it
// is told to exit, its parent link drops, or it gets SIGTERM/SIGINT.
#include <sys/prctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <future>
#include <iostream>
#include <sstream>
#include <string>
#include <thread>

#include <boost/asio/post.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/program_options.hpp>

#include <rmpi/auth.hpp>
#include <rmpi/error.hpp>
#include <rmpi/node_defaults.hpp>

#include "io_thread.hpp"
#include "router.hpp"

namespace po = boost::program_options;
namespace detail = rmpi::places::detail;

namespace {

[[noreturn]] void quit(int code) {
  std::fflush(nullptr);
  ::_exit(code);
}

}  // namespace

int main(int argc, char** argv) {
  int port = rmpi::places::kDefaultRouterPort;
  double kill_grace = 1.0;
  double parent_timeout = 60.0;
  std::string advertise;
  std::string listen_address = "0.0.0.0";
  po::options_description desc(
      "Usage: rmpi-node [options]\n"
      "The rmpi node daemon: runs places and processes for a spawner.\n"
      "The job secret comes from RMPI_JOB_SECRET or, with --secret-stdin, from the\n"
      "first line of standard input (never from the command line).\n\nOptions");
  desc.add_options()("help,h", "show this help")(
      "listen-port", po::value<int>(&port),
      "TCP port of the router (default 6340; 0 picks a free port)")(
      "listen-address", po::value<std::string>(&listen_address),
      "address to bind (default 0.0.0.0: every interface)")(
      "parent-link",
      "the first spawner connection is this node's parent: exit (ending every child) when it "
      "drops, and die with the process that started the node")(
      "parent-timeout", po::value<double>(&parent_timeout),
      "with --parent-link: exit if no parent connects within this many seconds (default 60)")(
      "secret-stdin", "read the job secret from the first line of standard input")(
      "advertise", po::value<std::string>(&advertise),
      "address to tell peers instead of the one they reached this node on")(
      "kill-grace", po::value<double>(&kill_grace),
      "seconds between SIGTERM and SIGKILL when ending children (default 1)");
  po::variables_map vm;
  try {
    po::store(po::parse_command_line(argc, argv, desc), vm);
    po::notify(vm);
  } catch (const std::exception& e) {
    std::cerr << "rmpi-node: " << e.what() << "\n";
    return 2;
  }
  if (vm.count("help")) {
    std::cout << desc << "\n";
    return 0;
  }
  const bool parent_link = vm.count("parent-link") > 0;
  if (parent_link) {
    // Die with the spawner (or the ssh session) that started us.
    const pid_t parent = ::getppid();
    ::prctl(PR_SET_PDEATHSIG, SIGTERM);
    if (::getppid() != parent) return 1;
  }

  std::string secret;
  if (vm.count("secret-stdin")) {
    if (!std::getline(std::cin, secret)) secret.clear();
    while (!secret.empty() && (secret.back() == '\r' || secret.back() == ' ')) secret.pop_back();
  } else if (const char* s = std::getenv(rmpi::auth::kSecretEnv)) {
    secret = s;
  }
  if (secret.empty()) {
    std::cerr << "rmpi-node: no job secret: set " << rmpi::auth::kSecretEnv
              << " in the environment or pass --secret-stdin and write it on standard input\n";
    return 2;
  }
  // Children (places, ranks) inherit it.
  ::setenv(rmpi::auth::kSecretEnv, secret.c_str(), 1);

  // Over SSH the address to advertise is the one the SSH connection reached
  // (SSH_CONNECTION = "client_ip client_port server_ip server_port"), never a
  // host name that other hosts would have to resolve.
  if (advertise.empty()) {
    if (const char* c = std::getenv("SSH_CONNECTION")) {
      std::istringstream words(c);
      std::string client_ip, client_port, server_ip;
      if (words >> client_ip >> client_port >> server_ip) advertise = server_ip;
    }
  }

  std::promise<int> exit_code;
  auto exited = exit_code.get_future();
  detail::RouterOptions options;
  options.listen_port = port;
  options.listen_address = listen_address;
  options.advertise = advertise;
  options.secret = secret;
  options.parent_link = parent_link;
  options.parent_timeout =
      parent_link ? std::chrono::milliseconds(static_cast<long>(parent_timeout * 1000))
                  : std::chrono::milliseconds(0);
  options.kill_grace = std::chrono::milliseconds(static_cast<long>(kill_grace * 1000));
  options.on_exit = [&exit_code](int code) { exit_code.set_value(code); };

  auto& io = detail::io_context();
  std::unique_ptr<detail::Router> router;
  try {
    router = std::make_unique<detail::Router>(io.get_executor(), options);
  } catch (const rmpi::Error& e) {
    std::cerr << "rmpi-node: " << e.what() << "\n";
    return 1;
  } catch (const std::exception& e) {
    std::cerr << "rmpi-node: cannot start the router: " << e.what() << "\n";
    return 1;
  }

  boost::asio::signal_set signals(io, SIGTERM, SIGINT, SIGHUP);
  signals.async_wait([&router](const boost::system::error_code& ec, int sig) {
    if (!ec) router->shutdown(128 + sig);
  });

  std::cout << "RMPI-NODE " << router->port() << (advertise.empty() ? "" : " " + advertise)
            << std::endl;
  // A spawner keeps our stdin open (ssh's, or a pipe): its end means the
  // spawner or the ssh session is gone, even if no TCP close reaches us.
  struct stat in_stat {};
  if (parent_link && ::fstat(0, &in_stat) == 0 && (S_ISFIFO(in_stat.st_mode) || S_ISSOCK(in_stat.st_mode))) {
    std::thread([&io, r = router.get()] {
      char buf[256];
      while (true) {
        const ssize_t n = ::read(0, buf, sizeof buf);
        if (n > 0 || (n < 0 && errno == EINTR)) continue;
        break;
      }
      boost::asio::post(io, [r] { r->shutdown(1); });
    }).detach();
  }
  // Leave the io thread and the router alive: _exit skips teardown races.
  quit(exited.get());
}

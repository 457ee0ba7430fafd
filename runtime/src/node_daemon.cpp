#include <rmpi/node_daemon.hpp>

#include <netdb.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
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

#include <rmpi/auth.hpp>
#include <rmpi/error.hpp>
#include <rmpi/listener_guard.hpp>

#include "io_thread.hpp"
#include "process_containment.hpp"
#include "router.hpp"

namespace rmpi::places {
namespace {

[[noreturn]] void quit(int code) {
  std::fflush(nullptr);
  ::_exit(code);
}

std::string read_secret(bool from_stdin) {
  std::string secret;
  if (from_stdin) {
    if (!std::getline(std::cin, secret)) secret.clear();
    while (!secret.empty() && (secret.back() == '\r' || secret.back() == ' ')) secret.pop_back();
  } else if (const char* s = std::getenv(auth::kSecretEnv)) {
    secret = s;
  }
  return secret;
}

/// Over SSH the address to advertise is the one the SSH connection reached
/// (SSH_CONNECTION = "client_ip client_port server_ip server_port"), never a
/// host name that other hosts would have to resolve.
std::string ssh_server_address() {
  const char* c = std::getenv("SSH_CONNECTION");
  if (!c) return {};
  std::istringstream words(c);
  std::string client_ip, client_port, server_ip;
  return (words >> client_ip >> client_port >> server_ip) ? server_ip : std::string();
}

/// What to bind when not told: the advertised address (resolved to a numeric
/// one), else loopback. Every interface only when asked for.
std::string default_bind_address(const std::string& advertise) {
  if (advertise.empty()) return "127.0.0.1";
  addrinfo hints{};
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* res = nullptr;
  if (::getaddrinfo(advertise.c_str(), nullptr, &hints, &res) != 0 || !res) return advertise;
  char host[NI_MAXHOST] = {};
  const int rc = ::getnameinfo(res->ai_addr, res->ai_addrlen, host, sizeof host, nullptr, 0, NI_NUMERICHOST);
  ::freeaddrinfo(res);
  return rc == 0 ? std::string(host) : advertise;
}

}  // namespace

void run_node_daemon(const NodeDaemonOptions& o) {
  // First, while we have one thread: the cgroup, the watchdog, the subreaper.
  detail::Containment::instance().enable_for_node();
  if (o.parent_link) {
    // Die with the spawner (or the ssh session) that started us.
    const pid_t parent = ::getppid();
    ::prctl(PR_SET_PDEATHSIG, SIGTERM);
    if (::getppid() != parent) quit(1);
  }
  const std::string secret = read_secret(o.secret_stdin);
  if (secret.empty()) {
    std::cerr << "rmpi-node: no job secret: set " << auth::kSecretEnv
              << " in the environment or pass --secret-stdin and write it on standard input\n";
    quit(2);
  }
  ::setenv(auth::kSecretEnv, secret.c_str(), 1);  // children (places, ranks) inherit it
  const std::string advertise = o.advertise.empty() ? ssh_server_address() : o.advertise;

  std::promise<int> exit_code;
  auto exited = exit_code.get_future();
  detail::RouterOptions options;
  options.listen_port = o.listen_port;
  options.listen_address =
      o.listen_address.empty() ? default_bind_address(advertise) : o.listen_address;
  try {
    const listener::ListenerLimits limits = listener::limits_from_environment();
    options.max_unauthenticated = o.max_unauthenticated ? o.max_unauthenticated : limits.max_unauthenticated;
    options.auth_timeout = o.handshake_timeout_ms > 0 ? std::chrono::milliseconds(o.handshake_timeout_ms)
                                                      : limits.handshake_timeout;
  } catch (const std::exception& e) {
    std::cerr << "rmpi-node: " << e.what() << "\n";
    quit(2);
  }
  options.advertise = advertise;
  options.host_facts = o.host_facts;
  options.secret = secret;
  options.parent_link = o.parent_link;
  options.parent_timeout = o.parent_link
                               ? std::chrono::milliseconds(static_cast<long>(o.parent_timeout * 1000))
                               : std::chrono::milliseconds(0);
  options.kill_grace = std::chrono::milliseconds(static_cast<long>(o.kill_grace * 1000));
  options.on_exit = [&exit_code](int code) { exit_code.set_value(code); };

  auto& io = detail::io_context();
  std::unique_ptr<detail::Router> router;
  try {
    router = std::make_unique<detail::Router>(io.get_executor(), options);
  } catch (const std::exception& e) {
    std::cerr << "rmpi-node: " << e.what() << "\n";
    quit(1);
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
  if (o.parent_link && ::fstat(0, &in_stat) == 0 &&
      (S_ISFIFO(in_stat.st_mode) || S_ISSOCK(in_stat.st_mode))) {
    std::thread([&io, r = router.get()] {
      char buf[256];
      for (;;) {
        const ssize_t n = ::read(0, buf, sizeof buf);
        if (n > 0 || (n < 0 && errno == EINTR)) continue;
        break;
      }
      boost::asio::post(io, [r] { r->shutdown(1); });
    }).detach();
  }
  const int code = exited.get();
  // Whatever escaped the kill of the router's children (re-parented orphans,
  // setsid'd descendants) ends now; the watchdog repeats it once we are gone.
  detail::Containment::instance().kill_everything();
  // Leave the io thread and the router alive: _exit skips teardown races.
  quit(code);
}

}  // namespace rmpi::places

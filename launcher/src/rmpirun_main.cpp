// rmpirun: launches a program as N ranks over the hosts of a hostfile.
#include <signal.h>
#include <unistd.h>

#include <cstdio>
#include <exception>
#include <string>
#include <variant>

#include <rmpi/error.hpp>
#include <rmpi/launcher/command_line.hpp>
#include <rmpi/launcher/job_layout.hpp>
#include <rmpi/launcher/job_runner.hpp>
#include <rmpi/launcher/topology_report.hpp>

int main(int argc, char** argv) {
  using namespace rmpi::launcher;
  // Signals that end the job are taken by one thread of the job (sigwait), so
  // they are blocked here, before any thread exists, and inherited by all.
  sigset_t set;
  sigemptyset(&set);
  for (int sig : {SIGINT, SIGTERM, SIGHUP}) sigaddset(&set, sig);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  signal(SIGPIPE, SIG_IGN);
  try {
    ParseResult parsed = parse_command_line(argc, argv);
    if (auto* text = std::get_if<PrintAndExit>(&parsed)) {
      std::fputs(text->text.c_str(), stdout);
      return text->exit_code;
    }
    const LaunchSpec& spec = std::get<LaunchSpec>(parsed);
    if (spec.show_topology) {
      std::fputs(topology_report(spec).c_str(), stdout);
      return 0;
    }
    return run_job(spec, resolve_hosts(spec));
  } catch (const std::exception& e) {
    // Errors name what is wrong and where; the tool that prints them names itself.
    std::fprintf(stderr, "rmpirun: %s\n", e.what());
    return 1;
  }
}

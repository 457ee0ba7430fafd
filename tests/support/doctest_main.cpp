// doctest's main, with a watchdog: a test binary that hangs fails instead of
// waiting for ctest's timeout (RMPI_TEST_WATCHDOG seconds, default 90).
#define DOCTEST_CONFIG_IMPLEMENT
#include <doctest/doctest.h>

#include <unistd.h>

#include <csignal>
#include <cstdio>
#include <cstdlib>

namespace {
void on_watchdog(int) {
  static const char msg[] = "test watchdog: the test hung; failing it\n";
  (void)!write(2, msg, sizeof msg - 1);
  _exit(124);
}
}  // namespace

int main(int argc, char** argv) {
  const char* s = std::getenv("RMPI_TEST_WATCHDOG");
  std::signal(SIGALRM, on_watchdog);
  alarm(s ? static_cast<unsigned>(std::atoi(s)) : 90u);
  doctest::Context ctx(argc, argv);
  return ctx.run();
}
